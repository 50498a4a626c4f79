#include "lib/runpod/provisioner.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "lib/cli/exit_codes.h"
#include "lib/http/http.h"
#include "lib/runpod/client.h"

namespace ib::runpod {
namespace {

constexpr const char* kSource = "ib-provision";
constexpr double kProgressEverySeconds = 30;

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// A gateway's own error (nothing listens behind the proxy yet), as opposed to the server's answer.
bool IsGatewayError(long status) { return status == 502 || status == 504 || (status >= 520 && status <= 524); }

enum class Outcome { kReady, kFailed, kStopped };

class Session {
 public:
  Session(ProvisionOptions options, StopToken* stop, const EventSink& emit, std::ostream& err)
      : o_(std::move(options)), stop_(stop), emit_(emit), err_(err), start_(Clock::now()) {
    ClientOptions c;
    c.api_base = o_.api_base;
    c.api_key = o_.api_key;
    c.timeout_ms = o_.api_timeout_ms;
    c.max_attempts = o_.api_attempts;
    c.backoff_ms = o_.backoff_ms;
    c.sleep = [stop](int ms) { return !stop->WaitFor(ms); };  // a stop abandons retries
    client_ = std::make_unique<Client>(c);
    c.sleep = nullptr;  // teardown retries are never cut short
    teardown_client_ = std::make_unique<Client>(c);
    name_ = PodName(o_.launch.run_id);
  }

  int Run() {
    Emit(ib::events::Phase{o_.launch.run_id, ib::events::phase::kProvisioning,
                           {{"gpu_type", o_.gpu_type}, {"gpu_count", o_.launch.gpu_count},
                            {"model", o_.launch.model}, {"framework", o_.launch.framework},
                            {"pod_name", name_}}});
    Outcome outcome = Bringup();
    if (outcome == Outcome::kReady) {
      ib::events::Phase done{o_.launch.run_id, ib::events::phase::kProvisioningDone,
                             {{"pod_id", pod_.id}, {"server_url", url_}, {"gpu_type", o_.gpu_type},
                              {"gpu_count", o_.launch.gpu_count}, {"elapsed_s", Elapsed()},
                              {"model", o_.launch.model}, {"framework", o_.launch.framework}}};
        done.data["cost_per_hr"] = cost_per_hr_ ? nlohmann::json(*cost_per_hr_) : nlohmann::json();
      Emit(done);
      while (!stop_->WaitFor(60000)) {
      }
      Log("info", "stopping: " + stop_->Describe());
      if (o_.keep_server) {
        Log("warning", "keeping pod " + pod_.id + " (" + name_ + ") at " + url_ + " as asked (--keep-server); it bills " +
                           CostText() + " until you run: ib-run server stop " + pod_.id);
        return exit_code::kOk;
      }
    } else if (outcome == Outcome::kStopped) {
      Log("warning", "stopped before the pod was ready: " + stop_->Describe());
    }
    bool terminated = Teardown();
    if (!terminated) return exit_code::kFailed;
    if (outcome == Outcome::kReady) return exit_code::kOk;
    return outcome == Outcome::kStopped ? exit_code::kInterrupted : exit_code::kFailed;
  }

 private:
  using Clock = std::chrono::steady_clock;

  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  void Emit(const ib::events::Event& e) {
    if (!emit_(e)) stop_->Request(StopToken::kBrokenPipe);  // nobody reads us: the run is over
  }
  void Log(const std::string& level, const std::string& message) {
    Emit(ib::events::MakeLog(o_.launch.run_id, level, message + " [" + Seconds(Elapsed()) + "]", kSource));
  }
  void Fail(const std::string& message) {
    Emit(ib::events::MakeError(o_.launch.run_id, message, kSource));
    err_ << "ib-provision: error: " << message << "\n";
  }
  std::string CostText() const {
    if (!cost_per_hr_) return "an unknown rate";
    char buf[32];
    std::snprintf(buf, sizeof buf, "$%.2f/hr", *cost_per_hr_);
    return buf;
  }

  Outcome Bringup() {
    // A stop can arrive while a step's request is in flight: check it between steps too.
    if (stop_->stopped()) return Outcome::kStopped;
    Outcome o = Create();
    if (o != Outcome::kReady || stop_->stopped()) return o == Outcome::kReady ? Outcome::kStopped : o;
    o = WaitRunning();
    if (o != Outcome::kReady || stop_->stopped()) return o == Outcome::kReady ? Outcome::kStopped : o;
    o = WaitHttp(/*need_200=*/false, o_.proxy_timeout_s, "the pod's URL to answer");
    if (o != Outcome::kReady || stop_->stopped()) return o == Outcome::kReady ? Outcome::kStopped : o;
    o = WaitHttp(/*need_200=*/true, o_.health_timeout_s, o_.health_path + " to answer 200");
    return o == Outcome::kReady && stop_->stopped() ? Outcome::kStopped : o;
  }

  Outcome Create() {
    o_.launch.owner_pid = o_.launch.owner_pid > 0 ? o_.launch.owner_pid : ::getpid();
    if (o_.launch.owner_host.empty()) {
      char host[256] = {0};
      ::gethostname(host, sizeof host - 1);
      o_.launch.owner_host = host;
    }
    o_.launch.keep = o_.keep_server;
    nlohmann::json body;
    std::string error;
    if (!BuildCreateBody(o_.launch, &body, &error)) {
      Fail("cannot build the pod request: " + error);
      return Outcome::kFailed;
    }
    Log("info", "creating pod " + name_ + ": " + o_.launch.gpu_type_id + " x" + std::to_string(o_.launch.gpu_count) +
                    ", " + body["imageName"].get<std::string>() + ", " +
                    std::to_string(body["containerDiskInGb"].get<int64_t>()) + " GB disk" +
                    (o_.launch.hf_token.empty() ? "" : ", HF token passed"));
    int backoff = o_.backoff_ms;
    for (int attempt = 1; attempt <= o_.api_attempts; ++attempt) {
      if (attempt > 1 && Adopt()) return Outcome::kReady;
      ApiError api;
      if (client_->CreatePod(body, &pod_, &api)) {
        have_pod_ = true;
        cost_per_hr_ = pod_.cost_per_hr ? pod_.cost_per_hr : o_.fallback_cost_per_hr;
        Log("info", "pod " + pod_.id + " created (" + CostText() + ")");
        return Outcome::kReady;
      }
      if (!api.transient) {
        Fail("cannot create the pod: " + api.message);
        return Outcome::kFailed;
      }
      Log("warning", "create failed, will retry: " + api.message);
      if (attempt < o_.api_attempts && stop_->WaitFor(backoff)) return Outcome::kStopped;
      backoff *= 2;
    }
    if (Adopt()) return Outcome::kReady;
    Fail("cannot create the pod after " + std::to_string(o_.api_attempts) + " attempts");
    return Outcome::kFailed;
  }

  // After an ambiguous create failure, the pod may exist: look it up by name.
  bool Adopt() {
    std::vector<Pod> pods;
    ApiError api;
    if (!client_->ListPods(&pods, &api, name_) || pods.empty()) return false;
    pod_ = pods[0];
    have_pod_ = true;
    cost_per_hr_ = pod_.cost_per_hr ? pod_.cost_per_hr : o_.fallback_cost_per_hr;
    Log("info", "pod " + pod_.id + " exists although its create answer was lost; using it");
    return true;
  }

  Outcome WaitRunning() {
    auto deadline = Clock::now() + std::chrono::duration<double>(o_.running_timeout_s);
    std::string last_status;
    double last_progress = Elapsed();
    for (;;) {
      Pod now;
      ApiError api;
      if (client_->GetPod(pod_.id, &now, &api)) {
        if (now.desired_status != last_status) {
          Log("info", "pod " + pod_.id + " status " + (now.desired_status.empty() ? "(none)" : now.desired_status));
          last_status = now.desired_status;
        }
        if (now.desired_status == "TERMINATED" || now.desired_status == "EXITED") {
          Fail("pod " + pod_.id + " stopped while starting (status " + now.desired_status + ")");
          return Outcome::kFailed;
        }
        if (now.cost_per_hr) cost_per_hr_ = now.cost_per_hr;
        if (now.desired_status == "RUNNING") {
          if (auto url = ServerUrl(o_.proxy_template, now, kServerPort)) {
            pod_ = now;
            url_ = *url;
            Log("info", "pod " + pod_.id + " is running; server URL " + url_);
            return Outcome::kReady;
          }
        }
      } else if (api.not_found()) {
        Fail("pod " + pod_.id + " disappeared while starting");
        return Outcome::kFailed;
      } else if (!api.transient) {
        Fail("cannot check the pod: " + api.message);
        return Outcome::kFailed;
      } else if (!stop_->stopped()) {
        Log("warning", "cannot check the pod, will retry: " + api.message);
      }
      if (Clock::now() >= deadline) {
        Fail("pod " + pod_.id + " was not running after " + Seconds(o_.running_timeout_s) +
             " (status " + (last_status.empty() ? "unknown" : last_status) + ")");
        return Outcome::kFailed;
      }
      if (Elapsed() - last_progress >= kProgressEverySeconds) {
        last_progress = Elapsed();
        Log("info", "still waiting for pod " + pod_.id + " to run (status " + last_status + ")");
      }
      if (stop_->WaitFor(o_.poll_interval_ms)) return Outcome::kStopped;
    }
  }

  Outcome WaitHttp(bool need_200, double timeout_s, const std::string& what) {
    auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    std::string url = url_ + o_.health_path;
    double step_start = Elapsed(), last_progress = Elapsed();
    std::string last;
    Log("info", "waiting for " + what + " (" + url + ")");
    for (;;) {
      ib::http::Response r = ib::http::Get(url, o_.health_request_timeout_ms);
      last = r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error;
      bool answered = r.error.empty() && !IsGatewayError(r.status);
      if (need_200 ? (r.error.empty() && r.status == 200) : answered) {
        Log("info", (need_200 ? o_.health_path + " answered 200" : "the pod's URL answers (" + last + ")") +
                        " after " + Seconds(Elapsed() - step_start));
        return Outcome::kReady;
      }
      if (stop_->stopped()) return Outcome::kStopped;
      if (Clock::now() >= deadline) {
        Fail("timed out after " + Seconds(timeout_s) + " waiting for " + what + " at " + url + " (last: " + last + ")");
        return Outcome::kFailed;
      }
      if (Elapsed() - last_progress >= kProgressEverySeconds) {
        last_progress = Elapsed();
        Log("info", "still waiting for " + what + ": " + last);
      }
      if (stop_->WaitFor(o_.poll_interval_ms)) return Outcome::kStopped;
    }
  }

  // Terminates the pod (or, when the create's outcome is unknown, any pod with our name).
  // Retries until teardown_timeout_s; a second signal does not cut it short.
  bool Teardown() {
    bool all = true;
    if (have_pod_) all = Terminate(pod_.id);
    // Sweep by name: a create whose answer was lost may have left a pod we never learned of.
    std::vector<Pod> pods;
    ApiError api;
    auto deadline = Clock::now() + std::chrono::duration<double>(o_.teardown_timeout_s);
    while (!teardown_client_->ListPods(&pods, &api, name_)) {
      if (Clock::now() >= deadline) {
        if (!have_pod_) {
          Manual("cannot tell whether pod " + name_ + " was created: " + api.message, name_);
          return false;
        }
        Log("warning", "cannot list pods named " + name_ + " to check for strays: " + api.message);
        return all;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(o_.backoff_ms));
    }
    for (const auto& p : pods) {
      if (have_pod_ && p.id == pod_.id) continue;
      all = Terminate(p.id) && all;
    }
    return all;
  }

  bool Terminate(const std::string& id) {
    Log("info", "terminating pod " + id);
    auto deadline = Clock::now() + std::chrono::duration<double>(o_.teardown_timeout_s);
    ApiError api;
    while (!teardown_client_->DeletePod(id, &api)) {
      if (!api.transient || Clock::now() >= deadline) {
        Manual("cannot terminate pod " + id + ": " + api.message, id);
        return false;
      }
      Log("warning", "terminate failed, will retry: " + api.message);
      std::this_thread::sleep_for(std::chrono::milliseconds(o_.backoff_ms));
    }
    Log("info", "pod " + id + " terminated");
    return true;
  }

  void Manual(const std::string& why, const std::string& id) {
    std::string msg = "MANUAL ACTION REQUIRED: " + why + ". Terminate it in the RunPod console " +
                      "(https://www.runpod.io/console/pods) or run: ib-run server stop " + id;
    Emit(ib::events::MakeError(o_.launch.run_id, msg, kSource));
    err_ << "ib-provision: " << msg << "\n";
  }

  ProvisionOptions o_;
  StopToken* stop_;
  const EventSink& emit_;
  std::ostream& err_;
  Clock::time_point start_;
  std::unique_ptr<Client> client_, teardown_client_;
  std::string name_;
  Pod pod_;
  bool have_pod_ = false;
  std::string url_;
  std::optional<double> cost_per_hr_;
};

}  // namespace

int Provision(ProvisionOptions options, StopToken* stop, const EventSink& emit, std::ostream& err) {
  return Session(std::move(options), stop, emit, err).Run();
}

}  // namespace ib::runpod
