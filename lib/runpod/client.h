// RunPod REST v1 client (https://rest.runpod.io/v1) over libcurl: create, get, list and delete
// pods with a bearer key. Shapes follow the OpenAPI spec in shared/fixtures/runpod/, parsed
// defensively (costPerHr as string or number, image or imageName, lastStartedAt in ISO-8601 or
// Go's time.String() form).
//
//   ib::runpod::Client client({.api_base = ib::runpod::DefaultApiBase(), .api_key = key});
//   ib::runpod::Pod pod;
//   ib::runpod::ApiError error;
//   if (!client.GetPod("xedezhzb9la3ye", &pod, &error)) std::cerr << error.message;
//
// Get, List and Delete retry transient failures (HTTP 429, 5xx, transport errors) with
// exponential backoff; Create does not (it is not idempotent: the caller reconciles by name).
// The API key never appears in an error message.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::runpod {

// $IB_RUNPOD_API_BASE, else https://rest.runpod.io/v1.
std::string DefaultApiBase();
// $IB_RUNPOD_PROXY_TEMPLATE, else https://{pod_id}-{port}.proxy.runpod.net.
std::string DefaultProxyTemplate();

struct Pod {
  std::string id;
  std::string name;
  std::string desired_status;  // RUNNING | EXITED | TERMINATED (others tolerated)
  std::string image;
  std::string gpu_type_id;
  int64_t gpu_count = 0;
  std::optional<double> cost_per_hr;
  std::string public_ip;
  std::map<std::string, int64_t> port_mappings;  // internal port -> public port
  std::map<std::string, std::string> env;        // may hold secrets (HF_TOKEN): never print
  std::string last_started_at;                   // as sent
};

std::optional<Pod> ParsePod(const nlohmann::json& json, std::string* error);
// Seconds since the epoch of "2024-07-12T19:14:40.144Z" or "2026-10-04 11:09:24.633 +0000 UTC".
std::optional<std::time_t> ParseTimestamp(const std::string& text);

// Expands {pod_id}, {port}, {public_ip} and {public_port} (= port_mappings[port]). nullopt while
// a placeholder the template uses has no value yet (public ip/port appear once the pod is up).
std::optional<std::string> ServerUrl(const std::string& url_template, const Pod& pod, int port);

struct ApiError {
  long status = 0;       // HTTP status; 0 for a transport error
  std::string message;   // "GET /pods/abc: HTTP 500: ..." (never the key)
  bool transient = false;  // 429, 5xx or transport: worth retrying
  bool not_found() const { return status == 404; }
};

struct ClientOptions {
  std::string api_base = "https://rest.runpod.io/v1";
  std::string api_key;
  long timeout_ms = 15000;
  int max_attempts = 4;   // per Get/List/Delete call
  int backoff_ms = 1000;  // doubled after each attempt
  // Waits between attempts; returning false abandons the retries (a stop was requested).
  std::function<bool(int ms)> sleep;
};

class Client {
 public:
  explicit Client(ClientOptions options);

  // POST /pods with a PodCreateInput body (see launch.h); one attempt.
  bool CreatePod(const nlohmann::json& body, Pod* pod, ApiError* error);
  // GET /pods/{id}. A 404 fails with error->not_found().
  bool GetPod(const std::string& id, Pod* pod, ApiError* error);
  // GET /pods, optionally ?name=NAME (RunPod's exact-name filter).
  bool ListPods(std::vector<Pod>* pods, ApiError* error, const std::string& name = "");
  // DELETE /pods/{id} (terminate). A 404 counts as success: the pod is gone.
  bool DeletePod(const std::string& id, ApiError* error);

  const ClientOptions& options() const { return options_; }

 private:
  // One request with retries of transient failures; *body gets the answer's body.
  bool Call(const std::string& method, const std::string& path, const std::string& request_body,
            int attempts, std::string* body, long* status, ApiError* error);
  ClientOptions options_;
};

}  // namespace ib::runpod
