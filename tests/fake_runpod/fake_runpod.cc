#include "tests/fake_runpod/fake_runpod.h"

#include <civetweb.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "lib/proc/proc.h"

namespace ib::fake_runpod {
namespace {

void Send(mg_connection* conn, int status, const std::string& body,
          const char* type = "application/json") {
  const char* reason = status == 200 ? "OK" : status == 201 ? "Created" : status == 204 ? "No Content"
                       : status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
                       : status == 404 ? "Not Found" : status == 429 ? "Too Many Requests" : "Error";
  mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            status, reason, type, body.size());
  if (!body.empty()) mg_write(conn, body.data(), body.size());
}

std::string ReadBody(mg_connection* conn) {
  std::string body;
  char buf[8192];
  int n;
  while ((n = mg_read(conn, buf, sizeof buf)) > 0) body.append(buf, static_cast<std::size_t>(n));
  return body;
}

std::string QueryParam(const mg_request_info* info, const char* name) {
  if (info->query_string == nullptr) return "";
  char value[512];
  int n = mg_get_var(info->query_string, std::strlen(info->query_string), name, value, sizeof value);
  return n >= 0 ? std::string(value, static_cast<std::size_t>(n)) : "";
}

std::string IsoNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

const char* kGpuTypesAnswer = R"({"data":{"gpuTypes":[
{"id":"NVIDIA A100 80GB PCIe","displayName":"A100 PCIe","memoryInGb":80,"community":{"uninterruptablePrice":1.64},"secure":{"uninterruptablePrice":2.72}},
{"id":"NVIDIA GeForce RTX 4090","displayName":"RTX 4090","memoryInGb":24,"community":{"uninterruptablePrice":0.34},"secure":{"uninterruptablePrice":0.69}},
{"id":"NVIDIA B200","displayName":"B200","memoryInGb":180,"community":null,"secure":{"uninterruptablePrice":5.99}}]}})";

}  // namespace

std::optional<std::pair<std::string, Fault>> ParseFault(const std::string& spec, std::string* error) {
  auto eq = spec.find('=');
  if (eq == std::string::npos) {
    *error = "fault '" + spec + "': expected ROUTE=KIND[xN]";
    return std::nullopt;
  }
  std::string route = spec.substr(0, eq), rest = spec.substr(eq + 1);
  if (route != "create" && route != "get" && route != "list" && route != "delete" && route != "graphql") {
    *error = "fault '" + spec + "': route must be create, get, list, delete or graphql";
    return std::nullopt;
  }
  Fault fault;
  auto x = rest.find('x');
  fault.kind = rest.substr(0, x);
  if (x != std::string::npos) {
    try {
      fault.remaining = std::stoi(rest.substr(x + 1));
    } catch (...) {
      fault.remaining = 0;
    }
    if (fault.remaining < 1) {
      *error = "fault '" + spec + "': the count after x must be a number >= 1";
      return std::nullopt;
    }
  }
  if (fault.kind != "500" && fault.kind != "429" && fault.kind != "timeout" && fault.kind != "badjson" &&
      !(fault.kind == "lost" && route == "create")) {
    *error = "fault '" + spec + "': kind must be 500, 429, timeout, badjson (or lost for create)";
    return std::nullopt;
  }
  return std::pair{route, fault};
}

FakeRunPod::FakeRunPod(Options options) : options_(std::move(options)) {}
FakeRunPod::~FakeRunPod() { Shutdown(); }

bool FakeRunPod::Start(std::string* error) {
  const char* opts[] = {"listening_ports", "127.0.0.1:0", "num_threads", "32", nullptr};
  ctx_ = mg_start(nullptr, nullptr, opts);
  if (ctx_ == nullptr) {
    *error = "cannot start the HTTP server on 127.0.0.1";
    return false;
  }
  mg_set_request_handler(ctx_, "/", &FakeRunPod::Handle, this);
  mg_server_port ports[1];
  if (mg_get_server_ports(ctx_, 1, ports) != 1) {
    *error = "cannot read the server's port";
    return false;
  }
  port_ = ports[0].port;
  std::lock_guard<std::mutex> lock(mu_);
  WriteLedgerLocked();
  return true;
}

std::string FakeRunPod::ApiBase() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
std::string FakeRunPod::GraphqlUrl() const { return "http://127.0.0.1:" + std::to_string(port_) + "/graphql"; }

void FakeRunPod::AddFault(const std::string& route, Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.faults[route].push_back(fault);
}

void FakeRunPod::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  options_.faults.clear();
}

int64_t FakeRunPod::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<Fault> FakeRunPod::TakeFault(const std::string& route) {
  auto it = options_.faults.find(route);
  if (it == options_.faults.end()) return std::nullopt;
  for (auto& f : it->second) {
    if (f.remaining == 0) continue;
    if (f.remaining > 0) --f.remaining;
    return f;
  }
  return std::nullopt;
}

void FakeRunPod::StartSim(Pod& pod) {
  if (options_.sim_bin.empty()) return;
  pod.port_file = options_.work_dir + "/fake-runpod-" + std::to_string(::getpid()) + "-" + pod.id + ".port";
  ::unlink(pod.port_file.c_str());
  std::string log = options_.work_dir + "/fake-runpod-" + pod.id + ".log";
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ib::proc::SpawnOptions so;
  double load = options_.never_healthy ? 1e6 : options_.sim_load_time_s;
  std::ostringstream load_text;
  load_text << load;
  so.argv = {options_.sim_bin, "--port", "0", "--port-file", pod.port_file, "--framework", pod.framework,
             "--model", pod.model, "--load-time-s", load_text.str(), "--die-with-parent"};
  so.argv.insert(so.argv.end(), options_.sim_args.begin(), options_.sim_args.end());
  so.pipe_stdout = false;
  so.stdout_fd = log_fd;
  so.stderr_fd = log_fd;
  so.die_with_parent = true;
  std::string error;
  auto child = ib::proc::Spawn(so, &error);
  if (log_fd >= 0) ::close(log_fd);
  if (child) pod.sim_pid = child->pid;
}

void FakeRunPod::StopSim(Pod& pod) {
  if (pod.sim_pid > 0) {
    ib::proc::Terminate(pod.sim_pid, 2000);
    pod.sim_pid = -1;
  }
  if (!pod.port_file.empty()) ::unlink(pod.port_file.c_str());
}

nlohmann::json FakeRunPod::PodJson(Pod& pod) {
  bool running = !options_.never_running && NowMs() - pod.created_ms >= options_.running_after_ms;
  if (running && pod.sim_port == 0 && !pod.port_file.empty()) {
    std::ifstream in(pod.port_file);
    int port = 0;
    if (in >> port && port > 0) pod.sim_port = port;
  }
  bool up = running && pod.sim_port > 0;
  const nlohmann::json& req = pod.request;
  nlohmann::json gpu_ids = req.value("gpuTypeIds", nlohmann::json::array());
  std::string gpu_id = gpu_ids.empty() || !gpu_ids[0].is_string() ? "" : gpu_ids[0].get<std::string>();
  nlohmann::json j = {
      {"id", pod.id},
      {"name", pod.name},
      {"desiredStatus", running ? "RUNNING" : "CREATED"},
      {"image", pod.image},
      {"costPerHr", options_.cost_per_hr},
      {"adjustedCostPerHr", std::stod(options_.cost_per_hr)},
      {"gpu", {{"id", gpu_id}, {"count", req.value("gpuCount", 1)}, {"displayName", gpu_id}}},
      {"machine", {{"gpuTypeId", gpu_id}, {"dataCenterId", "FAKE-LOCAL-1"}}},
      {"machineId", "fakemachine01"},
      {"containerDiskInGb", req.value("containerDiskInGb", 50)},
      {"volumeInGb", req.value("volumeInGb", 20)},
      {"env", req.value("env", nlohmann::json::object())},
      {"ports", req.value("ports", nlohmann::json::array())},
      {"publicIp", up ? "127.0.0.1" : ""},
      {"portMappings", up ? nlohmann::json{{"8000", pod.sim_port}} : nlohmann::json::object()},
      {"interruptible", false},
      {"locked", false},
  };
  j["lastStartedAt"] = pod.request.value("_created_iso", IsoNow());
  return j;
}

void FakeRunPod::WriteLedgerLocked() {
  if (options_.ledger_path.empty()) return;
  std::string tmp = options_.ledger_path + ".tmp";
  {
    std::ofstream out(tmp);
    nlohmann::json ledger;
    nlohmann::json pods = nlohmann::json::array();
    for (auto& p : pods_) {
      pods.push_back({{"id", p->id}, {"name", p->name}, {"framework", p->framework}, {"model", p->model},
                      {"created_ms", p->created_ms},
                      {"deleted_ms", p->deleted_ms ? nlohmann::json(*p->deleted_ms) : nlohmann::json()},
                      {"sim_pid", p->sim_pid}});
    }
    out << nlohmann::json{{"pods", pods}, {"calls", calls_}}.dump(2) << "\n";
  }
  ::rename(tmp.c_str(), options_.ledger_path.c_str());
}

nlohmann::json FakeRunPod::Ledger() {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json pods = nlohmann::json::array();
  for (auto& p : pods_) {
    pods.push_back({{"id", p->id}, {"name", p->name}, {"framework", p->framework}, {"model", p->model},
                    {"created_ms", p->created_ms},
                    {"deleted_ms", p->deleted_ms ? nlohmann::json(*p->deleted_ms) : nlohmann::json()},
                    {"request", p->request}});
  }
  return {{"pods", pods}, {"calls", calls_}};
}

int FakeRunPod::Handle(mg_connection* conn, void* self) { return static_cast<FakeRunPod*>(self)->Route(conn); }

int FakeRunPod::Route(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  std::string method = info->request_method, uri = info->local_uri;
  std::string body = ReadBody(conn);
  std::string route;
  std::string id;
  if (uri == "/graphql" && method == "POST") {
    route = "graphql";
  } else if (uri == "/v1/pods" && method == "POST") {
    route = "create";
  } else if (uri == "/v1/pods" && method == "GET") {
    route = "list";
  } else if (uri.rfind("/v1/pods/", 0) == 0 && uri.find('/', 9) == std::string::npos) {
    id = uri.substr(9);
    route = method == "GET" ? "get" : method == "DELETE" ? "delete" : "";
  }
  if (route.empty()) {
    Send(conn, 404, R"({"message":"no such route"})");
    return 404;
  }
  const char* auth = mg_get_header(conn, "Authorization");
  if (!options_.api_key.empty() && (auth == nullptr || std::string(auth) != "Bearer " + options_.api_key)) {
    Send(conn, 401, R"({"message":"Unauthorized"})");
    return 401;
  }
  std::optional<Fault> fault;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[route];
    fault = TakeFault(route);
    WriteLedgerLocked();
  }
  std::string kind = fault ? fault->kind : "";
  if (kind == "500" || kind == "429") {
    Send(conn, kind == "500" ? 500 : 429, kind == "500" ? R"({"message":"internal error"})" : R"({"message":"rate limited"})");
    return 1;
  }
  if (kind == "badjson") {
    Send(conn, 200, "<html>oops</html>", "text/html");
    return 1;
  }
  auto delay = [&] {
    if (kind == "timeout") std::this_thread::sleep_for(std::chrono::milliseconds(options_.fault_delay_ms));
  };

  if (route == "graphql") {
    delay();
    auto q = nlohmann::json::parse(body, nullptr, false);
    if (q.is_discarded() || !q.contains("query") || !q["query"].is_string()) {
      Send(conn, 400, R"({"errors":[{"message":"Must provide query string."}]})");
    } else if (q["query"].get<std::string>().find("gpuTypes") == std::string::npos) {
      Send(conn, 200, R"({"errors":[{"message":"the fake answers only gpuTypes"}]})");
    } else {
      Send(conn, 200, kGpuTypesAnswer);
    }
    return 1;
  }
  if (route == "create") {
    auto req = nlohmann::json::parse(body, nullptr, false);
    bool valid = req.is_object() && req.contains("name") && req["name"].is_string() &&
                 req.contains("imageName") && req["imageName"].is_string() && req.contains("gpuTypeIds") &&
                 req["gpuTypeIds"].is_array() && !req["gpuTypeIds"].empty() &&
                 req.value("gpuCount", 1) >= 1 && req.contains("dockerStartCmd") &&
                 req["dockerStartCmd"].is_array() && !req["dockerStartCmd"].empty();
    if (!valid) {
      Send(conn, 400, R"("Invalid input.")");
      return 400;
    }
    nlohmann::json answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto pod = std::make_unique<Pod>();
      char idbuf[32];
      std::snprintf(idbuf, sizeof idbuf, "fk%05d%07d", next_id_++, static_cast<int>(::getpid() % 10000000));
      pod->id = idbuf;
      pod->name = req["name"].get<std::string>();
      pod->image = req["imageName"].get<std::string>();
      pod->framework = pod->image.find("sglang") != std::string::npos ? "sglang" : "vllm";
      const auto& cmd = req["dockerStartCmd"];
      if (pod->framework == "vllm") {
        pod->model = cmd[0].is_string() ? cmd[0].get<std::string>() : "";
      } else {
        for (std::size_t i = 0; i + 1 < cmd.size(); ++i) {
          if (cmd[i] == "--model-path" && cmd[i + 1].is_string()) pod->model = cmd[i + 1].get<std::string>();
        }
      }
      pod->created_ms = NowMs();
      pod->request = req;
      pod->request["_created_iso"] = IsoNow();
      StartSim(*pod);
      answer = PodJson(*pod);
      pods_.push_back(std::move(pod));
      WriteLedgerLocked();
    }
    delay();
    if (kind == "lost") {
      Send(conn, 500, R"({"message":"internal error"})");
    } else {
      Send(conn, 201, answer.dump());
    }
    return 201;
  }
  if (route == "list") {
    delay();
    std::string name = QueryParam(info, "name");
    nlohmann::json out = nlohmann::json::array();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& p : pods_) {
        if (!p->deleted_ms && (name.empty() || p->name == name)) out.push_back(PodJson(*p));
      }
    }
    Send(conn, 200, out.dump());
    return 200;
  }
  // get / delete
  std::unique_lock<std::mutex> lock(mu_);
  Pod* pod = nullptr;
  for (auto& p : pods_) {
    if (p->id == id && !p->deleted_ms) pod = p.get();
  }
  if (pod == nullptr) {
    lock.unlock();
    delay();
    Send(conn, 404, R"("Pod not found.")");
    return 404;
  }
  if (route == "get") {
    nlohmann::json answer = PodJson(*pod);
    lock.unlock();
    delay();
    Send(conn, 200, answer.dump());
    return 200;
  }
  StopSim(*pod);
  pod->deleted_ms = NowMs();
  WriteLedgerLocked();
  lock.unlock();
  delay();
  Send(conn, 204, "");
  return 204;
}

void FakeRunPod::Shutdown(bool fast) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& p : pods_) StopSim(*p);
    WriteLedgerLocked();
  }
  if (ctx_ != nullptr && !fast) {
    mg_stop(ctx_);
  }
  ctx_ = nullptr;
}

}  // namespace ib::fake_runpod
