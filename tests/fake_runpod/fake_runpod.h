// A fake RunPod API for tests: a real Civetweb server on 127.0.0.1 answering the REST v1 pod
// routes (POST/GET /v1/pods, GET/DELETE /v1/pods/{id}) and the GraphQL gpuTypes query
// (POST /graphql) in the shapes of shared/fixtures/runpod/. "Creating a pod" starts a real
// ib-sim (framework and model read from the request's image and dockerStartCmd); the pod then
// reports publicIp 127.0.0.1 and portMappings {"8000": <ib-sim's port>}, so the proxy template
// http://{public_ip}:{public_port} reaches it. A ledger (JSON file) records every pod created and
// deleted and how many calls each route got.
//
// Faults per route (create|get|list|delete|graphql), each for the first N calls or always:
//   500      answer 500 (create: no pod made)       429  answer 429 Too Many Requests
//   timeout  sleep fault_delay_ms before answering (create and delete still take effect)
//   lost     create only: make the pod, then answer 500 (the client never learns the id)
//   badjson  answer 200 with a body that is not JSON
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

struct mg_context;
struct mg_connection;

namespace ib::fake_runpod {

struct Fault {
  std::string kind;   // 500 | 429 | timeout | lost | badjson
  int remaining = -1;  // calls left to fault; -1: always
};
// "create=500x2" -> route "create", Fault{"500", 2}. nullopt with *error on a bad spec.
std::optional<std::pair<std::string, Fault>> ParseFault(const std::string& spec, std::string* error);

struct Options {
  std::string ledger_path;     // empty: no ledger file (Ledger() still works)
  std::string sim_bin;         // ib-sim; empty: pods have no server (publicIp stays "")
  std::string work_dir = "/tmp";  // ib-sim port files and logs
  double sim_load_time_s = 0.2;
  std::vector<std::string> sim_args;  // extra ib-sim flags
  int running_after_ms = 300;  // desiredStatus "CREATED" before this, then "RUNNING"
  bool never_running = false;  // stays "CREATED"
  bool never_healthy = false;  // ib-sim loads "forever" (health stays 503)
  int fault_delay_ms = 3000;
  std::string api_key = "test-key";  // required bearer token; empty: any
  std::string cost_per_hr = "0.74";  // sent as a string, like the spec's example
  std::map<std::string, std::vector<Fault>> faults;
};

class FakeRunPod {
 public:
  explicit FakeRunPod(Options options);
  ~FakeRunPod();  // Shutdown() if still running
  bool Start(std::string* error);  // binds 127.0.0.1:0
  int port() const { return port_; }
  std::string ApiBase() const;     // http://127.0.0.1:PORT/v1
  std::string GraphqlUrl() const;  // http://127.0.0.1:PORT/graphql
  static constexpr const char* kProxyTemplate = "http://{public_ip}:{public_port}";

  // Adds a fault at runtime (tests that share one server).
  void AddFault(const std::string& route, Fault fault);
  void ClearFaults();
  nlohmann::json Ledger();
  // Kills every ib-sim still running (pods left alive stay "not deleted" in the ledger).
  // Skips mg_stop when fast (a process about to exit).
  void Shutdown(bool fast = false);

 private:
  struct Pod {
    std::string id, name, image, framework, model;
    nlohmann::json request;
    int64_t created_ms = 0;
    std::optional<int64_t> deleted_ms;
    pid_t sim_pid = -1;
    std::string port_file;
    int sim_port = 0;
  };
  static int Handle(mg_connection* conn, void* self);
  int Route(mg_connection* conn);
  std::optional<Fault> TakeFault(const std::string& route);
  nlohmann::json PodJson(Pod& pod);
  void StartSim(Pod& pod);
  void StopSim(Pod& pod);
  void WriteLedgerLocked();
  int64_t NowMs() const;

  Options options_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::unique_ptr<Pod>> pods_;
  std::map<std::string, int> calls_;
  int next_id_ = 1;
};

}  // namespace ib::fake_runpod
