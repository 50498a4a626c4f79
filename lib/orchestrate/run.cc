#include "lib/orchestrate/run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "lib/cli/exit_codes.h"
#include "lib/collect/collector.h"
#include "lib/config/config.h"
#include "lib/events/events.h"
#include "lib/events/stream.h"
#include "lib/http/http.h"
#include "lib/orchestrate/early_stop.h"
#include "lib/orchestrate/iteration.h"
#include "lib/orchestrate/output.h"
#include "lib/orchestrate/progress.h"
#include "lib/orchestrate/search.h"
#include "lib/orchestrate/signals.h"
#include "lib/orchestrate/supervisor.h"
#include "lib/orchestrate/tracker.h"
#include "lib/config/gpu_types.h"
#include "lib/pricing/estimate.h"
#include "lib/pricing/pricing.h"
#include "lib/proc/proc.h"
#include "lib/results/repeats.h"
#include "lib/results/store.h"
#include "lib/results/study.h"
#include "lib/runid/runid.h"
#include "lib/runpod/admin.h"

namespace ib::orchestrate {
namespace {

namespace ev = ib::events;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kStopGraceMs = 2500;    // SIGTERM -> SIGKILL for ib-load and ib-scrape
constexpr int kSummaryWaitMs = 60000;  // ib-aggregate writing one results file

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int64_t MonotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string Short(double v) {  // 4 rather than 4.000000
  std::ostringstream s;
  s << v;
  return s.str();
}

bool Stopping() { return StopSignals::Count() > 0; }
bool Hurrying() { return StopSignals::Count() > 1; }

// Where the server runs and what it costs: filled by the provisioning phase.
struct Server {
  std::string url;
  std::string provider;  // local | runpod | external
  std::optional<std::string> pod_id;
  double cost_per_hr = 0;
  std::optional<Supervisor::ChildId> child;  // ib-sim or ib-provision, when we started one
  pid_t kept_pid = -1;                       // a --keep-server ib-sim outside the supervisor
  std::string port_file;
};

class RunSession {
 public:
  RunSession(const RunOptions& o, config::ExperimentConfig config)
      : o_(o), config_(std::move(config)), out_(o.write_stream ? o.out_fd : DevNull(), o.fifo_path),
        agg_(out_) {}
  ~RunSession() {
    if (devnull_ >= 0) ::close(devnull_);
  }

  int Execute();

 private:
  int DevNull() {
    devnull_ = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    return devnull_;
  }
  void Emit(const ev::Event& e) { agg_.Write(ev::Serialize(e)); }
  void Log(const std::string& level, const std::string& message, const std::string& run_id = "") {
    Emit(ev::MakeLog(run_id.empty() ? base_id_ : run_id, level, message, "ib-run"));
  }
  void EmitPhase(const std::string& run_id, const char* phase, nlohmann::json data) {
    Emit(ev::Phase{run_id, phase, std::move(data)});
  }
  std::optional<std::string> Setup();
  void ChooseRunIds();
  bool Provision();
  bool StartLocalServer();
  bool StartPod();
  bool WaitForHealth();
  void WarnAboutWarmCache();
  void FlushPrefixCache(const std::string& run_id);
  bool RunIterations();
  bool RunSearch();
  // One iteration on the running server: its sweep_iteration phase, ib-scrape + ib-load, and
  // its summary. probe: ib-load's --probe argument ("" for a sweep iteration).
  // early: watch the run's finished requests and stop it once it can no longer pass.
  IterationResult RunOne(const config::Iteration& it, const std::string& run_id, bool resumed,
                         const std::string& only, const std::string& probe,
                         EarlyStop* early = nullptr);
  // --resume STUDY_ID: the study's finished runs become prior_ (replayed, not run again).
  std::optional<std::string> ResumeStudy(const std::string& path);
  // The next prior run when it is (index, repeat), moved into the study; false when there is
  // none left. A mismatch sets failure_.
  bool ReplayPrior(int index, int repeat, bool* mismatch);
  nlohmann::json SummaryFor(const std::string& run_id) const;
  std::string RunIdFor(const std::string& name) const { return runid::Make(name, id_time_, id_seq_); }
  std::string RepeatName(const std::string& name, int k) const {
    return repeats_ > 1 ? name + "-rep" + std::to_string(k) : name;
  }
  // Before every iteration but the first: a cold cache when asked (restart ib-sim or flush).
  bool BetweenIterations(const std::string& run_id, bool fresh_server, bool flush_cache);
  // Study file (sweeps and searches): the iteration joins it and the file is rewritten.
  // (nullopt: the entries were pushed already; rewrite the file.)
  void RecordStudy(std::optional<results::StudyIteration> it);
  void WriteStudy(const std::string& status);
  std::string PromptsNote() const;
  void Cleanup();
  void TerminateLeftPods(const std::string& how_provision_ended);
  bool WaitForSummary(const std::string& run_id);
  std::vector<std::string> LoadArgv(const config::Iteration& it, const std::string& run_id,
                                    int64_t t0_ns, bool resumed, const std::string& only) const;
  // --resume, the interrupted iteration: the request numbers still to send ("" all of them);
  // false when nothing is left.
  bool ResumePlan(const config::Iteration& it, const std::string& run_id, std::string* only);

  const RunOptions& o_;
  config::ExperimentConfig config_;
  int devnull_ = -1;
  StreamOutput out_;
  AggregateStage agg_;
  ResultTracker tracker_;
  std::unique_ptr<Progress> progress_;
  Supervisor sup_;
  Server server_;
  std::vector<config::Iteration> iterations_;
  std::string base_id_;
  std::vector<std::string> run_ids_;
  std::size_t first_iteration_ = 0;  // --resume: the interrupted iteration
  std::set<int64_t> resume_finished_;  // --resume: its requests already finished
  int resume_files_ = 0;
  std::string output_dir_;
  int64_t id_time_ = 0;  // the stamp and sequence of this run's ids (probes get theirs later)
  int id_seq_ = 1;
  std::vector<results::StudyIteration> study_iterations_;  // in the order run
  nlohmann::json study_answer_ = nullptr;
  bool with_study_ = false;
  int repeats_ = 1;
  // --resume STUDY_ID
  bool resuming_study_ = false;
  int resumes_ = 0;
  std::vector<results::StudyIteration> prior_;  // finished runs of the study, in order
  std::size_t prior_next_ = 0;
  std::map<std::string, nlohmann::json> prior_summaries_;
  // Early stop: the observer (ib-aggregate's output thread) feeds the watched run's requests.
  std::mutex early_mu_;
  EarlyStop* early_ = nullptr;
  std::string early_run_;
  std::atomic<bool> early_hit_{false};
  bool early_emitted_ = false;  // the probe was really stopped (its phase written)
  std::string failure_;
  int failure_exit_ = exit_code::kFailed;  // kUsage when the failure is the config's
  std::string provision_error_;            // ib-provision's last error line
  bool interrupted_ = false;
  Clock::time_point start_ = Clock::now();
};

std::string Tool(const std::string& name) { return proc::FindTool(name); }

struct Resume {
  bool ok = false;
  std::size_t index = 0;
  std::string error;
  // Request numbers of the interrupted iteration that the partial file, or an earlier file it
  // was itself resumed from (metadata.resumed_from), finished: every request it holds except
  // the ones cancelled or skipped by the stop. A request that failed on its own was measured.
  std::set<int64_t> finished;
  int files = 0;  // files in the chain
};

// "0-9,12,15-20" for ib-load --only-requests.
std::string Ranges(const std::vector<int64_t>& numbers) {
  std::string out;
  for (std::size_t i = 0; i < numbers.size();) {
    std::size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(numbers[i]);
    if (j > i) out += "-" + std::to_string(numbers[j]);
    i = j + 1;
  }
  return out;
}

// Follows resumed_from links from run_id's file (same directory) and collects the finished
// request numbers.
void CollectFinished(const std::string& run_id, const std::string& output_dir, Resume* r) {
  std::set<std::string> seen;
  for (std::string id = run_id; !id.empty() && seen.insert(id).second;) {
    auto read = results::ReadResults(output_dir + "/" + id + ".json");
    if (!read.file) return;
    ++r->files;
    for (const auto& q : read.file->requests) {
      if (q.error_kind == "cancelled" || q.error_kind == "skipped") continue;
      r->finished.insert(q.request_index);
    }
    id = read.file->resumed_from;
  }
}

// The iteration a partial run's id belongs to: "<iteration name>-YYYYMMDD-HHMMSS[-N]".
Resume ResumePoint(const std::string& run_id, const std::string& output_dir,
                   const std::vector<config::Iteration>& iterations) {
  Resume r;
  std::string path = output_dir + "/" + run_id + ".json";
  if (::access(path.c_str(), F_OK) != 0) {
    r.error = "--resume: no results file " + path;
    return r;
  }
  auto read = results::ReadResults(path, /*headers_only=*/true);
  std::string status = read.file ? read.file->status : "";
  if (status != "partial" && status != "failed") {
    r.error = "--resume: " + run_id + " is " + (status.empty() ? "not a results file" : status) +
              ", not partial: nothing to resume";
    return r;
  }
  // Resuming the same partial run twice would send its remaining requests again: the run that
  // already continued it is the one to resume.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    auto other = results::ReadResults(entry.path().string(), /*headers_only=*/true);
    if (other.file && other.file->resumed_from == run_id) {
      std::string id = entry.path().stem().string();
      r.error = "--resume: " + run_id + " was already resumed by " + id + " (" +
                (other.file->status.empty() ? "unknown" : other.file->status) + "); " +
                (other.file->status == "partial" || other.file->status == "failed"
                     ? "resume " + id + " instead"
                     : "nothing is left to resume");
      return r;
    }
  }
  std::string name = runid::NameOf(run_id);
  for (std::size_t i = 0; i < iterations.size(); ++i) {
    if (iterations[i].name == name) {
      r.ok = true;
      r.index = i;
      CollectFinished(run_id, output_dir, &r);
      return r;
    }
  }
  r.error = "--resume: " + run_id + " is not a run of this config (its iterations are " +
            iterations.front().name + (iterations.size() > 1 ? ", ..." : "") + ")";
  return r;
}

nlohmann::json RunSession::SummaryFor(const std::string& run_id) const {
  nlohmann::json s = tracker_.SummaryOf(run_id);
  if (!s.is_null()) return s;
  auto it = prior_summaries_.find(run_id);
  return it == prior_summaries_.end() ? nlohmann::json(nullptr) : it->second;
}

std::optional<std::string> RunSession::ResumeStudy(const std::string& path) {
  std::string error;
  auto study = results::ReadStudy(path, &error);
  if (!study) return "--resume: " + error;
  std::string id = study->value("study_id", "");
  std::string status = study->value("status", "");
  if (status == "completed") return "--resume: study " + id + " is completed: nothing to resume";
  if (status != "partial" && status != "failed") {
    return "--resume: study " + id + " is " + (status.empty() ? "of unknown status" : status) +
           "; only a partial (interrupted) or failed study can be resumed";
  }
  if ((*study)["config"] != config::ToJson(config_)) {
    return "--resume: " + o_.config_path + " is not the config study " + id +
           " ran (its \"config\" differs); resume with the same config";
  }
  // The finished runs, in order, up to the first unfinished one: those keep their results.
  for (const auto& e : study->value("iterations", nlohmann::json::array())) {
    bool early = e.value("early_stop", false);
    if (e.value("status", "") != "completed" && !early) break;
    results::StudyIteration si;
    si.index = e.value("index", 0);
    si.run_id = e.value("run_id", "");
    si.name = e.value("name", "");
    si.params = e.value("params", nlohmann::json::object());
    si.value = results::NumberOr(e, "value", 0);
    si.status = e.value("status", "");
    si.result_path = e.value("result_path", "");
    si.probe = e.value("probe", "");
    if (e.contains("passed") && e["passed"].is_boolean()) si.passed = e["passed"].get<bool>();
    si.verdict = e.value("verdict", "");
    si.repeat = e.value("repeat", 0);
    si.early_stop = early;
    std::ifstream in(si.result_path.empty() ? output_dir_ + "/" + si.run_id + ".json" : si.result_path);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
    if (!in || doc.is_discarded() || !doc.is_object() || !doc["summary"].is_object()) break;  // run it again
    // As ib-aggregate's summary event said it (lib/events/payloads.h SummaryData).
    events::SummaryData summary;
    std::string summary_error;
    if (!events::FromJson(doc["summary"], &summary, &summary_error)) break;  // run it again
    summary.status = doc["status"].is_string() ? doc["status"].get<std::string>() : "";
    summary.result_path = si.result_path;
    prior_summaries_[si.run_id] = events::ToJson(summary);
    prior_.push_back(std::move(si));
  }
  base_id_ = id;
  resuming_study_ = true;
  resumes_ = study->value("resumes", 0) + 1;
  return std::nullopt;
}

bool RunSession::ReplayPrior(int index, int repeat, bool* mismatch) {
  *mismatch = false;
  if (prior_next_ >= prior_.size()) return false;
  const auto& p = prior_[prior_next_];
  if (p.index != index || p.repeat != repeat) {
    *mismatch = true;
    failure_ = "--resume: run " + std::to_string(prior_next_ + 1) + " of study " + base_id_ + " (" + p.run_id +
               ") is not the run this config makes next (iteration " + std::to_string(index) + ")";
    failure_exit_ = exit_code::kUsage;
    return false;
  }
  study_iterations_.push_back(p);
  ++prior_next_;
  return true;
}

std::optional<std::string> RunSession::Setup() {
  output_dir_ = o_.output_dir.empty() ? config_.metrics.output_dir : o_.output_dir;
  std::error_code ec;
  fs::create_directories(output_dir_, ec);
  if (ec) return "cannot create output directory " + output_dir_ + ": " + ec.message();
  // A search's probes are chosen as it goes; a sweep's iterations are known now.
  if (!config_.workload.search) iterations_ = config::ExpandSweep(config_);
  repeats_ = static_cast<int>(config_.workload.search
                                  ? config_.workload.search->probe.repeats.value_or(config_.workload.repeats)
                                  : config_.workload.repeats);
  with_study_ = config_.workload.search.has_value() || iterations_.size() > 1 || repeats_ > 1;
  std::string study_path = o_.resume_run_id.empty() ? "" : results::StudyPath(output_dir_, o_.resume_run_id);
  if (!study_path.empty()) {
    if (auto error = ResumeStudy(study_path)) return error;
  } else if (!o_.resume_run_id.empty() && config_.workload.search) {
    return "--resume: " + o_.resume_run_id + " is not a study in " + output_dir_ +
           " (a search resumes by its study id: --resume STUDY_ID)";
  } else if (!o_.resume_run_id.empty() && repeats_ > 1) {
    return "--resume: " + o_.resume_run_id + " is not a study in " + output_dir_ +
           " (with repeats, resume the study: --resume STUDY_ID)";
  } else if (!o_.resume_run_id.empty()) {
    auto first = ResumePoint(o_.resume_run_id, output_dir_, iterations_);
    if (!first.ok) return first.error;
    first_iteration_ = first.index;
    resume_finished_ = std::move(first.finished);
    resume_files_ = first.files;
  }
  ChooseRunIds();
  std::string error;
  if (!out_.Open(&error)) return error;
  out_.Observe([this](std::string_view line) { tracker_.Observe(line); });
  out_.Observe([this](std::string_view line) {
    if (early_hit_ || line.find("request_complete") == std::string_view::npos) return;
    std::lock_guard<std::mutex> lock(early_mu_);
    if (early_ == nullptr) return;
    auto parsed = ev::ParseEvent(line);
    const auto* r = parsed.event ? std::get_if<ev::RequestComplete>(&*parsed.event) : nullptr;
    if (r != nullptr && r->run_id == early_run_ && early_->Add(*r)) early_hit_ = true;
  });
  if (o_.progress) {
    progress_ = std::make_unique<Progress>(o_.err_fd);
    out_.Observe([this](std::string_view line) { progress_->Observe(line); });
  }
  std::string aggregate = Tool("ib-aggregate");
  if (aggregate.empty()) return "ib-aggregate not found (run scripts/build, or set IB_BIN_DIR)";
  if (!agg_.Start({aggregate, "--output-dir", output_dir_}, &error, base_id_)) return error;
  sup_.WakeOn(StopSignals::WakeFd());
  return std::nullopt;
}

void RunSession::ChooseRunIds() {
  int64_t now = static_cast<int64_t>(::time(nullptr));
  // A second run of the same name in the same second gets -2, -3...: results never collide.
  for (int n = 1;; ++n) {
    // A resumed study keeps its id; its new runs get this run's stamp.
    if (!resuming_study_) base_id_ = runid::Make(config_.name, now, n);
    bool taken = false;
    for (const auto& it : iterations_) {
      for (int k = 1; k <= repeats_; ++k) {
        taken = taken || fs::exists(output_dir_ + "/" + runid::Make(RepeatName(it.name, k), now, n) + ".json");
      }
    }
    if (!resuming_study_) taken = taken || fs::exists(output_dir_ + "/" + base_id_ + ".study.json");
    id_time_ = now;
    id_seq_ = n;
    if (!taken) return;
  }
}

bool RunSession::StartLocalServer() {
  std::string sim = Tool("ib-sim");
  if (sim.empty()) {
    failure_ = "ib-sim not found (run scripts/build, or set IB_BIN_DIR)";
    return false;
  }
  char dir_template[] = "/tmp/ib-run-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) {
    failure_ = "cannot create a temporary directory";
    return false;
  }
  server_.port_file = std::string(dir) + "/port";
  const auto& sim_opts = config_.infrastructure.sim;
  proc::SpawnOptions spawn;
  spawn.argv = {sim, "--port", "0", "--port-file", server_.port_file, "--framework",
                config_.framework, "--model", config_.model.name, "--preset", sim_opts.preset,
                "--speed", Short(sim_opts.speed), "--seed", std::to_string(sim_opts.seed),
                "--load-time-s", Short(sim_opts.load_time_s)};
  if (!o_.keep_server) spawn.argv.push_back("--die-with-parent");
  if (config_.framework_options.enable_prefix_caching == false) {
    spawn.argv.push_back("--no-prefix-caching");
  }
  spawn.argv.insert(spawn.argv.end(), sim_opts.args.begin(), sim_opts.args.end());
  std::string error;
  if (o_.keep_server) {
    // Outlives ib-run: its own process group, output discarded, no parent-death signal.
    spawn.pipe_stdout = false;
    spawn.stdout_fd = spawn.stderr_fd = devnull_ >= 0 ? devnull_ : DevNull();
    spawn.new_process_group = true;
    spawn.die_with_parent = false;
    auto child = proc::Spawn(spawn, &error);
    if (child) server_.kept_pid = child->pid;
  } else {
    spawn.new_process_group = true;  // see RunIterations: Ctrl-C is ib-run's to handle
    server_.child = sup_.Start(
        "ib-sim", spawn, [this](Supervisor::ChildId, std::string line) { agg_.Write(line); },
        &error, StderrToLog(agg_, base_id_, "ib-sim"));
  }
  if (!server_.child && server_.kept_pid < 0) {
    failure_ = "cannot start ib-sim: " + error;
    return false;
  }
  int port = 0;
  auto read_port = [&] {
    std::ifstream in(server_.port_file);
    return static_cast<bool>(in >> port) && port > 0;
  };
  auto sim_gone = [&] {
    if (server_.child) return sup_.Exited(*server_.child);
    return proc::TryWait(server_.kept_pid).has_value();
  };
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!read_port()) {
    if (Stopping()) return false;
    if (sim_gone() || Clock::now() > deadline) {
      failure_ = sim_gone() ? "ib-sim exited before it listened" : "ib-sim did not listen within 30 s";
      return false;
    }
    sup_.Pump(20);
  }
  server_.url = "http://127.0.0.1:" + std::to_string(port);
  return true;
}

bool RunSession::StartPod() {
  std::string provision = Tool("ib-provision");
  if (provision.empty()) {
    failure_ = "ib-provision not found (run scripts/build, or set IB_BIN_DIR)";
    return false;
  }
  proc::SpawnOptions spawn;
  spawn.argv = {provision, "--config", config_.source_file, "--run-id", base_id_};
  if (o_.keep_server) spawn.argv.push_back("--keep-server");
  spawn.pipe_stdin = true;  // ib-provision holds the pod until its stdin closes
  // Its own process group: a SIGKILL to ib-run's group (ib-dash's second Stop) must not kill
  // it before it deleted the pod; it sees ib-run die as EOF on stdin and tears down.
  spawn.new_process_group = true;
  bool ready = false;
  std::string error;
  server_.child = sup_.Start(
      "ib-provision", spawn,
      [&, this](Supervisor::ChildId, std::string line) {
        if (line.find(ev::phase::kProvisioningDone) != std::string::npos) {
          auto parsed = ev::ParseEvent(line);
          const auto* p = parsed.event ? std::get_if<ev::Phase>(&*parsed.event) : nullptr;
          if (p && p->phase == ev::phase::kProvisioningDone) {
            server_.url = http::TrimSlash(p->data.value("server_url", ""));
            if (p->data.contains("pod_id") && p->data["pod_id"].is_string()) {
              server_.pod_id = p->data["pod_id"].get<std::string>();
            }
            if (p->data.contains("cost_per_hr") && p->data["cost_per_hr"].is_number()) {
              server_.cost_per_hr = p->data["cost_per_hr"].get<double>();
            }
            ready = !server_.url.empty();
          }
        }
        agg_.Write(line);
      },
      &error,
      [this, log = StderrToLog(agg_, base_id_, "ib-provision")](Supervisor::ChildId id, std::string line) {
        // Its last error line is why there is no server: ib-run's own error names it, so a
        // user whose stdout is piped sees the cause, not only ib-provision's exit code.
        if (ev::StderrLevel(line) == "error") provision_error_ = line;
        log(id, std::move(line));
      });
  if (!server_.child) {
    failure_ = "cannot start ib-provision: " + error;
    return false;
  }
  sup_.PumpUntil([&] { return ready || sup_.Finished(*server_.child); }, -1, Stopping);
  if (!ready && !Stopping()) {
    auto status = sup_.Status(*server_.child);
    failure_ = "ib-provision ended (" + status->Describe() + ") without a server" +
               (provision_error_.empty() ? "" : ": " + provision_error_);
    // ib-provision's exit 2 is bad usage or config (no API key, an unknown GPU): so is ours.
    if (status->exited && status->code == exit_code::kUsage) failure_exit_ = exit_code::kUsage;
  }
  return ready;
}

bool RunSession::Provision() {
  const auto& infra = config_.infrastructure;
  if (!o_.server_url.empty()) {
    server_.url = http::TrimSlash(o_.server_url);
    server_.provider = "external";
    EmitPhase(base_id_, ev::phase::kProvisioningSkipped, {{"server_url", server_.url}});
    return true;
  }
  if (infra.provider == "local") {
    server_.provider = "local";
    EmitPhase(base_id_, ev::phase::kProvisioning,
              {{"provider", "local"}, {"gpu_type", infra.gpu_type}, {"gpu_count", infra.gpu_count},
               {"framework", config_.framework}, {"model", config_.model.name}});
    Log("info", "starting ib-sim (preset " + infra.sim.preset + ", speed " +
                    Short(infra.sim.speed) + "x, model load " + Short(infra.sim.load_time_s) +
                    " s)");
    if (!StartLocalServer()) return false;
    EmitPhase(base_id_, ev::phase::kProvisioningDone,
              {{"provider", "local"}, {"server_url", server_.url}, {"pod_id", nullptr},
               {"gpu_type", infra.gpu_type}, {"gpu_count", infra.gpu_count}, {"cost_per_hr", 0},
               {"elapsed_s", SecondsSince(start_)}});
    return true;
  }
  server_.provider = "runpod";
  return StartPod();  // ib-provision emits the provisioning phases itself
}

bool RunSession::WaitForHealth() {
  auto started = Clock::now();
  bool local = server_.provider == "local";
  double timeout_s = o_.health_timeout_s > 0 ? o_.health_timeout_s
                     : local ? config_.infrastructure.sim.load_time_s + 120
                             : 600;
  EmitPhase(base_id_, ev::phase::kModelLoading,
            {{"model", config_.model.name}, {"server_url", server_.url},
             {"framework", config_.framework}, {"timeout_s", timeout_s}});
  const int interval_ms = local ? 250 : 2000;
  double last_log_s = -1;
  for (int attempt = 1;; ++attempt) {
    auto response = http::Get(server_.url + "/health", local ? 2000 : 5000);
    double elapsed = SecondsSince(started);
    if (response.ok()) {
      Log("info", "health check passed after " + std::to_string(attempt) + " attempts");
      EmitPhase(base_id_, ev::phase::kModelLoadingDone,
                {{"elapsed_s", elapsed}, {"server_url", server_.url}, {"attempts", attempt}});
      return true;
    }
    std::string last = response.error.empty() ? "HTTP " + std::to_string(response.status)
                                              : response.error;
    if (elapsed >= timeout_s) {
      failure_ = "server not healthy after " + std::to_string(static_cast<int>(timeout_s)) +
                 " s (last: " + last + ")";
      return false;
    }
    // A server that answers (503 while loading) is normal: an info line a second. Nothing
    // listening (connection refused, no route) is worth the terminal: a warning every 10 s
    // that says why and how long ib-run keeps trying.
    bool transport = !response.error.empty();
    if (last_log_s < 0 || elapsed - last_log_s >= (transport ? 10.0 : 1.0)) {
      std::ostringstream msg;
      msg.precision(1);
      msg << std::fixed << "waiting for " << server_.url << "/health: " << last << " (attempt "
          << attempt << ", " << elapsed << " s of " << timeout_s << " s)";
      if (transport) msg << "; keeps trying until " << timeout_s << " s (--health-timeout-s)";
      Log(transport ? "warning" : "info", msg.str());
      last_log_s = elapsed;
    }
    if (server_.child && sup_.Exited(*server_.child)) {
      failure_ = sup_.Name(*server_.child) + " exited (" +
                 sup_.Status(*server_.child)->Describe() + ") while the model loaded";
      return false;
    }
    if (sup_.PumpUntil([] { return false; }, interval_ms, Stopping), Stopping()) return false;
  }
}

void RunSession::WarnAboutWarmCache() {
  if (config_.workload.search) return;  // a search makes each probe cold itself (fresh_prompts)
  std::size_t n = iterations_.size() - first_iteration_;  // the iterations this run executes
  if (n < 2) return;
  auto caching = config_.framework_options.enable_prefix_caching;
  // vLLM V1 and SGLang cache prefixes unless told not to.
  if (caching.has_value() && !*caching) return;
  if (o_.fresh_server && server_.provider == "local") return;
  if (o_.flush_cache) return;  // FlushPrefixCache warns per iteration if a flush fails
  std::string later = n == 2 ? "the second reuses" : "iterations 2.." + std::to_string(n) + " reuse";
  Log("warning",
      "all " + std::to_string(n) + " iterations run on one server whose prefix cache stays warm: " +
          later + " its cached prompts and may show flattering TTFT. Pass --flush-cache" +
          (server_.provider == "local" ? std::string(" or --fresh-server") : std::string()) +
          ", or set framework_options.enable_prefix_caching: false, for independent iterations.");
}

void RunSession::FlushPrefixCache(const std::string& run_id) {
  // SGLang serves /flush_cache; vLLM serves /reset_prefix_cache only when the server runs with
  // VLLM_SERVER_DEV_MODE=1 (else 404).
  bool sglang = config_.framework == "sglang";
  std::string path = sglang ? "/flush_cache" : "/reset_prefix_cache";
  http::Request request;
  request.method = "POST";
  request.url = server_.url + path;
  request.timeout_ms = 30000;
  http::Response response = http::Send(request);
  if (response.ok()) {
    Log("info", "flushed the server's prefix cache (POST " + path + ")", run_id);
    return;
  }
  std::string why = response.error.empty() ? "HTTP " + std::to_string(response.status) : response.error;
  Log("warning",
      "could not flush the prefix cache (POST " + path + ": " + why + ")" +
          (sglang ? std::string() : std::string("; vLLM serves it only with VLLM_SERVER_DEV_MODE=1")) +
          ": this iteration may see a warm cache",
      run_id);
}

std::vector<std::string> RunSession::LoadArgv(const config::Iteration& it,
                                              const std::string& run_id, int64_t t0_ns,
                                              bool resumed, const std::string& only) const {
  std::vector<std::string> argv = {
      Tool("ib-load"), "--server-url", server_.url, "--config", config_.source_file,
      "--iteration", std::to_string(it.index), "--run-id", run_id, "--t0-ns",
      std::to_string(t0_ns)};
  auto meta = [&argv](const std::string& k, const std::string& v) {
    argv.insert(argv.end(), {"--meta", k + "=" + v});
  };
  // Strings only: --meta values are strings. gpu_count and cost_per_hr go into the
  // iteration's sweep_iteration phase as numbers (ib-aggregate takes metadata it does not find
  // in the execution event from the run's other phases), so cost_usd can be computed.
  meta("provider", server_.provider);
  if (resumed) meta("resumed_from", o_.resume_run_id);
  if (server_.pod_id) meta("pod_id", *server_.pod_id);
  if (server_.provider != "external") meta("gpu_type", config_.infrastructure.gpu_type);
  if (!only.empty()) argv.insert(argv.end(), {"--only-requests", only});
  if (o_.emit == "k8s") argv.insert(argv.end(), {"--emit-dir", o_.emit_dir.empty() ? output_dir_ : o_.emit_dir});
  return argv;
}

bool RunSession::ResumePlan(const config::Iteration& it, const std::string& run_id,
                            std::string* only) {
  const auto& w = it.config.workload;
  std::string where = "iteration " + std::to_string(it.index) + "/" + std::to_string(it.total) +
                      " (" + it.name + ")";
  std::string from = "resuming " + o_.resume_run_id + ": ";
  if (w.type == "multi_turn" || w.duration_s || w.requests.count <= 0) {
    // A conversation cut mid-way cannot continue without its context, and a duration is a
    // window of time, not a list of requests: these run again in full.
    Log("warning",
        from + where + " runs again in full: " +
            (w.type == "multi_turn" ? "a multi_turn workload" : "a duration-based workload") +
            " cannot continue where it stopped",
        run_id);
    return true;
  }
  if (resume_finished_.empty()) {
    Log("info", from + "no finished request in its file; " + where + " runs in full", run_id);
    return true;
  }
  std::vector<int64_t> left;
  for (int64_t i = 0; i < w.requests.count; ++i) {
    if (!resume_finished_.count(i)) left.push_back(i);
  }
  std::string files = resume_files_ > 1 ? " (" + std::to_string(resume_files_) + " files)" : "";
  if (left.empty()) {
    Log("info", from + "all " + std::to_string(w.requests.count) + " requests of " + where +
                    " were finished" + files + "; nothing left to send",
        run_id);
    return false;
  }
  *only = Ranges(left);
  Log("info", from + where + " sends the " + std::to_string(left.size()) + " of " +
                  std::to_string(w.requests.count) + " requests not finished" + files + " (" +
                  (only->size() > 80 ? only->substr(0, 77) + "..." : *only) + ")",
      run_id);
  return true;
}

bool RunSession::BetweenIterations(const std::string& run_id, bool fresh_server, bool flush_cache) {
  if (fresh_server && server_.provider == "local" && server_.child) {
    Log("info", "restarting ib-sim for a cold prefix cache", run_id);
    sup_.Stop(*server_.child, kStopGraceMs);
    server_.child.reset();
    return StartLocalServer() && WaitForHealth();
  }
  if (flush_cache) FlushPrefixCache(run_id);
  return true;
}

IterationResult RunSession::RunOne(const config::Iteration& it, const std::string& run_id, bool resumed,
                                   const std::string& only, const std::string& probe, EarlyStop* early) {
  nlohmann::json data = {{"iteration", it.index}, {"total", it.total}, {"params", it.params},
                         {"name", it.name}, {"provider", server_.provider}};
  if (server_.provider != "external") {
    data["gpu_type"] = config_.infrastructure.gpu_type;
    data["gpu_count"] = config_.infrastructure.gpu_count;
    data["cost_per_hr"] = server_.cost_per_hr;
  }
  if (server_.pod_id) data["pod_id"] = *server_.pod_id;
  if (with_study_) data["study_id"] = base_id_;
  EmitPhase(run_id, ev::phase::kSweepIteration, std::move(data));
  int64_t t0 = MonotonicNs();  // one clock origin for the iteration's samples and requests
  IterationPlan plan;
  plan.run_id = run_id;
  plan.stop_grace_ms = kStopGraceMs;
  plan.hurry = Hurrying;
  plan.load.argv = LoadArgv(it, run_id, t0, resumed, only);
  if (!probe.empty()) plan.load.argv.insert(plan.load.argv.end(), {"--probe", probe});
  // Children get their own process groups, so a terminal's Ctrl-C reaches ib-run alone and
  // the stop happens in order: ib-load cancels first while ib-sim still answers, then
  // ib-scrape drains, then the server goes. They die with ib-run (parent-death signal).
  plan.load.new_process_group = true;
  if (config_.metrics.collect_gpu_metrics) {
    std::string scrape = Tool("ib-scrape");
    if (scrape.empty()) {
      Log("warning", "ib-scrape not found: no GPU metrics", run_id);
    } else {
      proc::SpawnOptions s;
      s.new_process_group = true;
      s.argv = {scrape, "--url", server_.url + "/metrics", "--framework", config_.framework,
                "--interval-ms", std::to_string(config_.metrics.sample_interval_ms),
                "--run-id", run_id, "--t0-ns", std::to_string(t0)};
      plan.scrape = s;
    }
  }
  std::function<bool()> stop = Stopping;
  if (early != nullptr) {
    {
      std::lock_guard<std::mutex> lock(early_mu_);
      early_ = early;
      early_run_ = run_id;
      early_hit_ = false;
      early_emitted_ = false;
    }
    auto started = Clock::now();
    // Right before ib-load is stopped: the phase goes into the stream first, so ib-aggregate
    // has it when it finalizes the run (never after the run ended on its own).
    plan.before_stop = [this, early, started, run_id] {
      if (!early_hit_ || Stopping()) return;
      nlohmann::json finding;
      {
        std::lock_guard<std::mutex> lock(early_mu_);
        finding = early->Finding();
      }
      finding["at_s"] = SecondsSince(started);
      std::string why = finding["reason"] == "failures"
                            ? std::to_string(finding["failed"].get<int64_t>()) + " failed requests"
                            : std::to_string(finding["over_bound"].get<int64_t>()) + " requests over " +
                                  finding["metric"].get<std::string>() + " " + Short(finding["bound_ms"].get<double>()) +
                                  " ms, enough to fail its " + finding["percentile"].get<std::string>();
      Log("info", "stopping " + run_id + " early: it can no longer pass (" + why + " of " +
                      std::to_string(finding["planned"].get<int64_t>()) + " planned, after " +
                      std::to_string(finding["completed"].get<int64_t>()) + " finished)",
          run_id);
      EmitPhase(run_id, ev::phase::kEarlyStop, {{"early_stop", finding}});
      early_emitted_ = true;
    };
    stop = [this] { return Stopping() || early_hit_.load(); };
  }
  IterationResult r = RunIteration(sup_, agg_, plan, stop);
  if (early != nullptr) {
    std::lock_guard<std::mutex> lock(early_mu_);
    early_ = nullptr;
    early_run_.clear();
    // Stopped early, not interrupted: the search goes on. (The hit may also come after the
    // workload ended on its own: then nothing was stopped.)
    if (early_hit_ && !Stopping()) r.interrupted = false;
    if (!early_emitted_) early_hit_ = false;
  }
  if (r.iteration_done && !WaitForSummary(run_id)) {
    Log("warning", "no summary from ib-aggregate for " + run_id, run_id);
  }
  return r;
}

bool RunSession::RunIterations() {
  if (Tool("ib-load").empty()) {
    failure_ = "ib-load not found (run scripts/build, or set IB_BIN_DIR)";
    return false;
  }
  if (first_iteration_ > 0) {
    Log("info", "resuming " + o_.resume_run_id + ": iterations 1.." +
                    std::to_string(first_iteration_) + " keep their results");
  }
  if (resuming_study_) {
    Log("info", "resuming study " + base_id_ + ": " + std::to_string(prior_.size()) +
                    " finished runs keep their results");
  }
  int executed = 0;
  for (std::size_t i = first_iteration_; i < iterations_.size(); ++i) {
    const auto& it = iterations_[i];
    for (int k = 1; k <= repeats_; ++k) {
      if (Stopping()) return false;
      int repeat = repeats_ > 1 ? k : 0;
      bool mismatch = false;
      if (ReplayPrior(it.index, repeat, &mismatch)) continue;
      if (mismatch) return false;
      const std::string run_id = RunIdFor(RepeatName(it.name, k));
      bool resumed = !o_.resume_run_id.empty() && !resuming_study_ && i == first_iteration_;
      std::string only;
      if (resumed && !ResumePlan(it, run_id, &only)) continue;
      // Between the runs this ib-run executes (the first one meets a fresh server).
      if (executed++ > 0 && !BetweenIterations(run_id, o_.fresh_server, o_.flush_cache)) return false;
      IterationResult r = RunOne(it, run_id, resumed, only, "");
      results::StudyIteration si;
      si.index = it.index;
      si.run_id = run_id;
      si.name = RepeatName(it.name, k);
      si.params = it.params;
      si.repeat = repeat;
      const auto& axes = config_.workload.sweep;
      if (!axes.empty() && it.params.contains(axes.front().first)) si.value = it.params[axes.front().first].get<double>();
      si.status = r.interrupted ? "interrupted" : r.error.empty() ? "completed" : "failed";
      RecordStudy(si);
      if (r.interrupted) return false;
      if (!r.error.empty()) {
        failure_ = "iteration " + std::to_string(it.index) + " (" + run_id + "): " + r.error;
        return false;
      }
    }
  }
  return true;
}

namespace {

std::string Value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

bool RunSession::RunSearch() {
  if (Tool("ib-load").empty()) {
    failure_ = "ib-load not found (run scripts/build, or set IB_BIN_DIR)";
    return false;
  }
  const auto& search = *config_.workload.search;
  const std::string unit = search.over == "request_rate" ? " req/s" : " concurrent";
  SearchPlan plan(search);
  std::string passing_run, failing_run;
  nlohmann::json passing_point = nullptr;
  int index = 0;
  int executed = 0;
  if (resuming_study_) {
    Log("info", "resuming study " + base_id_ + ": replaying its " + std::to_string(prior_.size()) +
                    " finished probe runs through the search plan");
  }
  while (auto probe = plan.Next()) {
    if (Stopping()) return false;
    ++index;
    config::Iteration it = config::ProbeIteration(config_, index, probe->value);
    char arg[64];
    std::snprintf(arg, sizeof arg, "%d:%.17g", index, probe->value);
    // The probe's repeats (one without repeats); the verdict is the mean summary's.
    std::vector<nlohmann::json> summaries;
    std::vector<results::StudyIteration> runs;
    std::size_t first_entry = study_iterations_.size();
    bool interrupted = false, stopped_early = false;
    std::string error;
    for (int k = 1; k <= repeats_ && !stopped_early; ++k) {
      if (Stopping()) return false;
      int repeat = repeats_ > 1 ? k : 0;
      bool mismatch = false;
      if (ReplayPrior(index, repeat, &mismatch)) {
        const auto& p = study_iterations_.back();
        if (p.value != probe->value) {
          failure_ = "--resume: probe " + std::to_string(index) + " of study " + base_id_ + " ran at " + Value(p.value) +
                     ", the search plan now asks for " + Value(probe->value);
          failure_exit_ = exit_code::kUsage;
          return false;
        }
        stopped_early = p.early_stop;
        summaries.push_back(SummaryFor(p.run_id));
        runs.push_back(p);
        continue;
      }
      if (mismatch) return false;
      std::string name = RepeatName(it.name, k);
      std::string run_id = RunIdFor(name);
      // Between the runs this ib-run executes (the first one meets a fresh server).
      if (executed++ > 0 && !BetweenIterations(run_id, search.fresh_prompts, search.fresh_prompts)) return false;
      // Early stop needs the probe's planned request count: its count, or rate x duration.
      std::optional<EarlyStop> early;
      if (search.early_stop && probe->kind != Probe::kSaturation) {
        const auto& w = it.config.workload;
        int64_t planned = !w.duration_s ? it.config.TotalRequests()
                          : search.over == "request_rate" ? static_cast<int64_t>(probe->value * *w.duration_s)
                                                          : 0;
        if (w.type != "multi_turn") early.emplace(search, planned);
      }
      IterationResult r = RunOne(it, run_id, false, "", arg, early ? &*early : nullptr);
      results::StudyIteration si;
      si.index = index;
      si.run_id = run_id;
      si.name = name;
      si.params = it.params;
      si.value = probe->value;
      si.repeat = repeat;
      si.status = r.interrupted ? "interrupted" : r.error.empty() ? "completed" : "failed";
      si.probe = Probe::KindName(probe->kind);
      if (early && early_emitted_ && !r.interrupted) {
        stopped_early = true;
        si.early_stop = true;
      }
      study_iterations_.push_back(si);
      runs.push_back(si);
      summaries.push_back(tracker_.SummaryOf(run_id));
      if (r.interrupted) {
        interrupted = true;
        break;
      }
      if (!r.error.empty()) {
        error = r.error;
        break;
      }
    }
    std::vector<nlohmann::json> have;
    for (const auto& s : summaries) {
      if (s.is_object()) have.push_back(s);
    }
    nlohmann::json summary = have.empty() ? nlohmann::json(nullptr) : results::MeanOf(have, nullptr);
    Verdict verdict = summary.is_null() ? Verdict{false, false, "no summary", "no summary"} : Judge(search, summary);
    if (stopped_early) {
      verdict.passed = false;
      verdict.detail = "stopped early: " + verdict.detail;
    }
    std::string line = "probe " + std::to_string(index) + "/≤" + std::to_string(search.max_probes) + ": ";
    std::string kind_verdict;
    std::optional<bool> passed;
    if (probe->kind == Probe::kSaturation) {
      double rps = results::NumberOr(summary, "requests_per_second", 0);
      if (!interrupted) plan.RecordSaturation(rps);
      kind_verdict = "saturation: " + Value(rps) + " req/s completed";
      line += "saturation (all requests at once) → " + Value(rps) + " req/s completed";
    } else {
      if (!interrupted) plan.Record(*probe, verdict);
      passed = verdict.passed;
      kind_verdict = verdict.detail;
      if (verdict.passed && plan.passing() == probe->value) {
        passing_run = runs.front().run_id;
        passing_point = repeats_ > 1 ? results::Study::RepeatsPoint(runs, summaries)
                                     : results::Study::CurvePoint(runs.front(), summaries.front());
      }
      if (!verdict.passed && plan.failing() == probe->value) failing_run = runs.front().run_id;
      line += Value(probe->value) + unit + " → " + verdict.detail;
    }
    if (repeats_ > 1) line += " (mean of " + std::to_string(have.size()) + " repeats)";
    if (plan.passing() && plan.failing()) {
      line += "  bracket " + Value(*plan.passing()) + "–" + Value(*plan.failing());
    }
    // Every run of the probe carries the probe's verdict.
    for (std::size_t e = first_entry; e < study_iterations_.size(); ++e) {
      study_iterations_[e].verdict = kind_verdict;
      study_iterations_[e].passed = passed;
    }
    RecordStudy(std::nullopt);
    if (interrupted) return false;
    Log("info", line, runs.back().run_id);
    if (progress_) progress_->Line(line);
    if (!error.empty() && !verdict.all_failed) {
      failure_ = "probe " + std::to_string(index) + " (" + runs.back().run_id + "): " + error;
      return false;
    }
  }
  std::string reason = plan.EndReason();
  nlohmann::json slo = config::ToJson(config_)["workload"]["search"]["slo"];
  study_answer_ = {{"over", search.over},
                   {"value", plan.passing() ? nlohmann::json(*plan.passing()) : nlohmann::json(nullptr)},
                   {"failing_value", plan.failing() ? nlohmann::json(*plan.failing()) : nlohmann::json(nullptr)},
                   {"slo", slo},
                   {"passing_probe", passing_run.empty() ? nlohmann::json(nullptr) : nlohmann::json(passing_run)},
                   {"failing_probe", failing_run.empty() ? nlohmann::json(nullptr) : nlohmann::json(failing_run)},
                   {"bracket_pct", plan.BracketPct() ? nlohmann::json(*plan.BracketPct()) : nlohmann::json(nullptr)},
                   {"probes", plan.probes()},
                   {"end_reason", reason},
                   {"output_tok_s", passing_point.is_object() ? passing_point["output_tok_s"] : nlohmann::json(nullptr)},
                   {"achieved_rps", passing_point.is_object() ? passing_point["achieved_rps"] : nlohmann::json(nullptr)}};
  WriteStudy("running");
  double lowest = search.min.value_or(search.over == "concurrency" ? 1 : 0.5);
  if (reason == "server_failed") {
    failure_ = "the server failed every request at the lowest load (" + Value(lowest) + unit +
               "): the search ends here; see " + study_iterations_.front().run_id;
    return false;
  }
  std::string text;
  if (reason == "lowest_failed") {
    text = "even the lowest value, " + Value(lowest) + unit + ", misses the SLO: no capacity within it";
    Log("warning", text);
  } else {
    text = "answer: " + Value(*plan.passing()) + unit + " meets the SLO";
    if (plan.failing()) text += "; " + Value(*plan.failing()) + " does not (bracket " + Value(*plan.BracketPct()) + " %)";
    if (reason == "highest_passed") text += " (the highest value tried: capacity may be higher)";
    if (reason == "max_probes") text += " (max_probes reached before precision_pct)";
    text += "; " + std::to_string(plan.probes()) + " probes";
    Log("info", text);
  }
  if (progress_) progress_->Line(text);
  return true;
}

std::string RunSession::PromptsNote() const {
  if (config_.workload.search) {
    const auto& s = *config_.workload.search;
    if (!s.fresh_prompts) return "probes share their prompts and a warm server (fresh_prompts: false)";
    std::string prompts = config_.workload.requests.synthetic
                              ? "each probe draws its own synthetic prompts (seed + probe - 1)"
                              : "every probe sends the same prompt file";
    std::string server = server_.provider == "local"
                             ? "ib-sim restarted before each probe (cold prefix cache)"
                             : "the prefix cache flushed before each probe (POST /flush_cache or /reset_prefix_cache; see the log for failures)";
    return prompts + "; " + server;
  }
  if (o_.fresh_server && server_.provider == "local") return "ib-sim restarted before each iteration (--fresh-server)";
  if (o_.flush_cache) return "the prefix cache flushed before each iteration (--flush-cache)";
  return "iterations share one server whose prefix cache stays warm";
}

void RunSession::RecordStudy(std::optional<results::StudyIteration> it) {
  if (!with_study_) return;
  if (it) study_iterations_.push_back(std::move(*it));
  WriteStudy("running");
}

void RunSession::WriteStudy(const std::string& status) {
  if (!with_study_) return;
  results::Study study(base_id_, config_.workload.search ? "search" : "sweep", config_);
  for (auto it : study_iterations_) {
    nlohmann::json summary = SummaryFor(it.run_id);
    if (summary.is_object()) {
      const events::SummaryData said = events::SummaryOf(events::Summary{it.run_id, summary});
      if (said.status) it.status = *said.status;
      if (said.result_path) it.result_path = *said.result_path;
    }
    study.AddIteration(it, summary);
  }
  // A sweep's answer: the iteration with the highest output throughput, for its cost figure.
  nlohmann::json answer = study_answer_;
  if (!config_.workload.search) {
    for (const auto& p : study.curve()) {
      double tok = results::NumberOr(p, "output_tok_s", 0);
      if (tok > 0 && (answer.is_null() || tok > results::NumberOr(answer, "output_tok_s", 0))) {
        answer = {{"best_throughput_run", p["run_id"]}, {"value", p["value"]}, {"output_tok_s", tok}};
      }
    }
  }
  study.SetAnswer(answer);
  study.SetPrompts(PromptsNote());
  double hourly = server_.cost_per_hr;
  std::string source = "pod";
  if (hourly <= 0 && server_.provider != "external") {
    // A local ib-sim costs nothing; the GPU it stands for has a price: the figure a person
    // choosing a GPU wants, labelled as the table's.
    if (const auto* gpu = config::FindGpuType(config_.infrastructure.gpu_type)) {
      hourly = (config_.infrastructure.cloud_type == "secure" ? gpu->secure_usd_per_hr : gpu->community_usd_per_hr) *
               config_.infrastructure.gpu_count;
      source = "gpu table";
    }
  }
  study.SetCost(hourly, hourly > 0 ? source : "", SecondsSince(start_));
  study.SetStatus(status);
  study.SetResumes(resumes_);
  std::string error;
  if (!study.Write(output_dir_, &error)) Log("warning", "study file: " + error);
}

// The iteration's summary, or false once ib-aggregate has died (no summary will come: do not
// wait a minute per iteration for it) or kSummaryWaitMs passed.
bool RunSession::WaitForSummary(const std::string& run_id) {
  for (int waited = 0; waited < kSummaryWaitMs; waited += 200) {
    if (tracker_.WaitForSummary(run_id, 200)) return true;
    if (agg_.exited()) return tracker_.WaitForSummary(run_id, 500);  // lines still in the pipe
  }
  return false;
}

void RunSession::TerminateLeftPods(const std::string& how_provision_ended) {
  Log("warning", "ib-provision ended (" + how_provision_ended +
                     ") without tearing its pod down; terminating the pods of " + base_id_);
  std::ostringstream out, err;
  int rc = runpod::CmdServerStopRun(runpod::AdminOptions(), base_id_, out, err);
  std::istringstream lines(out.str() + err.str());
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) Log(rc == 0 ? "info" : "error", line);
  }
  if (rc != 0 && failure_.empty()) failure_ = "a pod of " + base_id_ + " may still be running: " + err.str();
}

void RunSession::Cleanup() {
  EmitPhase(base_id_, ev::phase::kCleanup, {{"elapsed_s", SecondsSince(start_)}});
  if (server_.child && server_.provider == "local") {
    sup_.Stop(*server_.child, kStopGraceMs, Hurrying);
  } else if (server_.child) {
    // Closing ib-provision's stdin terminates the pod (unless --keep-server); a leaked pod
    // costs money, so it gets time to finish even after a second Ctrl-C.
    sup_.CloseStdin(*server_.child);
    if (Hurrying()) {
      sup_.Stop(*server_.child, 10000);
    } else {
      sup_.Await(*server_.child, 60000, 10000);
    }
    // ib-provision tears its pod down on every exit it sees coming; a SIGKILL it cannot see,
    // so the pod would run on, billed. ib-run then terminates the run's pods by name.
    auto status = sup_.Status(*server_.child);
    if (status && status->signaled && !o_.keep_server) TerminateLeftPods(status->Describe());
  }
  if (server_.kept_pid > 0) {
    Log("info", "ib-sim kept running at " + server_.url + " (pid " +
                    std::to_string(server_.kept_pid) + "); stop it with kill " +
                    std::to_string(server_.kept_pid));
  }
  if (!server_.port_file.empty()) {
    fs::remove_all(fs::path(server_.port_file).parent_path());
  }
}

int RunSession::Execute() {
  if (auto error = Setup()) {
    ev::WriteAll(o_.err_fd, "ib-run: error: " + *error + "\n");
    return error->rfind("--resume", 0) == 0 ? exit_code::kUsage : exit_code::kFailed;
  }
  bool ok = Provision() && WaitForHealth();
  if (ok) {
    WarnAboutWarmCache();
    ok = config_.workload.search ? RunSearch() : RunIterations();
  }
  interrupted_ = Stopping();
  Cleanup();
  // ib-aggregate finalizes whatever is still open at EOF (as partial), so done/failed are
  // written after it has exited, with every results file in result_paths.
  proc::ExitStatus agg = agg_.Finish(30000);
  if (!agg.exited || agg.code != 0) {
    if (failure_.empty()) failure_ = "ib-aggregate failed (" + agg.Describe() + ")";
    ok = false;
  }
  // Last, so the interrupted iteration's file (finalized by ib-aggregate at EOF) is in it.
  WriteStudy(interrupted_ ? "partial" : ok ? "completed" : "failed");
  nlohmann::json data = {{"result_paths", tracker_.ResultPaths()},
                         {"elapsed_s", SecondsSince(start_)},
                         {"iterations", with_study_ ? study_iterations_.size() : iterations_.size()}};
  if (with_study_) data["study_path"] = output_dir_ + "/" + base_id_ + ".study.json";
  if (ok && !interrupted_) {
    out_.Write(ev::Serialize(ev::Phase{base_id_, ev::phase::kDone, data}));
  } else {
    data["reason"] = interrupted_ ? "interrupted" : failure_;
    out_.Write(ev::Serialize(ev::Phase{base_id_, ev::phase::kFailed, data}));
    if (!interrupted_) {
      ev::WriteAll(o_.err_fd, "ib-run: error: " + failure_ + "\n");
    }
  }
  if (progress_) progress_->Finish();
  if (interrupted_) return exit_code::kInterrupted;
  return ok ? exit_code::kOk : failure_exit_;
}

std::optional<config::ExperimentConfig> LoadOrReport(const RunOptions& o, std::ostream& err) {
  auto loaded = config::LoadExperiment(o.config_path);
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) err << d.Format("ib-run") << "\n";
    return std::nullopt;
  }
  if (!o.name.empty()) loaded.config->name = o.name;
  return std::move(*loaded.config);
}

}  // namespace

std::string DescribeResume(const RunOptions& o, const config::ExperimentConfig& c,
                           std::string* error) {
  std::string dir = o.output_dir.empty() ? c.metrics.output_dir : o.output_dir;
  auto iterations = config::ExpandSweep(c);
  Resume r = ResumePoint(o.resume_run_id, dir, iterations);
  if (!r.ok) {
    *error = r.error;
    return "";
  }
  const auto& it = iterations[r.index];
  int64_t planned = it.config.TotalRequests();
  int64_t left = 0;
  for (int64_t i = 0; i < planned; ++i) left += r.finished.count(i) ? 0 : 1;
  std::string out = "Resume: " + o.resume_run_id + ": iteration " + std::to_string(it.index) + "/" +
                    std::to_string(it.total) + " (" + it.name + ") sends the " +
                    std::to_string(left) + " of " + std::to_string(planned) +
                    " requests not finished";
  if (r.files > 1) out += " (" + std::to_string(r.files) + " files)";
  out += "\n";
  if (r.index > 0) out += "  iterations 1.." + std::to_string(r.index) + " keep their results\n";
  if (r.index + 1 < iterations.size()) {
    out += "  iterations " + std::to_string(r.index + 2) + ".." + std::to_string(iterations.size()) +
           " run in full\n";
  }
  return out;
}

std::string CheckEmit(const RunOptions& o, const config::ExperimentConfig& c) {
  const auto& load = c.infrastructure.load;
  if (!o.emit.empty() && o.emit != "k8s") return "--emit takes k8s (got '" + o.emit + "')";
  if (o.emit.empty() && load.launcher == "k8s")
    return c.source_file + ": infrastructure.load.launcher is k8s: add --emit k8s (ib-run writes the Job manifest "
           "for you to apply with kubectl, then collects the pods)";
  if (o.emit.empty()) return o.emit_dir.empty() ? "" : "--emit-dir needs --emit k8s";
  if (load.launcher != "k8s")
    return "--emit k8s needs infrastructure.load.launcher: k8s in " + c.source_file +
           " (with tasks, collector and advertise: docs/ib-load.md \"Running shards on Kubernetes\")";
  std::string dir = o.emit_dir.empty() ? (o.output_dir.empty() ? c.metrics.output_dir : o.output_dir) : o.emit_dir;
  std::error_code ec;
  if (!o.emit_dir.empty() && (!fs::is_directory(dir, ec) || access(dir.c_str(), W_OK) != 0))
    return "--emit-dir " + dir + " is not a writable directory";
  // The collector's address must be one this machine has: found now, not after the server is up.
  std::string host, error;
  int port = 0;
  if (!collect::SplitAddress(load.collector, &host, &port, &error)) return "infrastructure.load.collector: " + error;
  collect::Collector probe({.host = host, .port = port, .token = collect::NewToken()});
  if (!probe.Listen(&error)) return "infrastructure.load.collector " + load.collector + ": " + error;
  return "";
}

int Run(const RunOptions& options) {
  std::ostringstream err;
  auto config = LoadOrReport(options, err);
  if (!config) {
    events::WriteAll(options.err_fd, err.str());
    return exit_code::kUsage;
  }
  if (std::string e = CheckEmit(options, *config); !e.empty()) {
    events::WriteAll(options.err_fd, "ib-run: error: " + e + "\n");
    return exit_code::kUsage;
  }
  // The cost gate (the original's rule, on the whole experiment's estimate): a paid pod needs a
  // yes at the terminal, or --confirm; never asked with --server-url or provider local.
  // A --resume provisions a pod too, so it is asked as well.
  if (!options.confirm && options.server_url.empty() && config->infrastructure.provider == "runpod") {
    std::string error;
    auto table = pricing::LoadPricing(&error);
    if (table) {
      auto estimate = pricing::EstimateCost(*config, *table);
      if (estimate.needs_confirmation) {
        std::string text = "ib-run: estimated cost " + estimate.Describe() + "\n";
        if (!::isatty(STDIN_FILENO)) {
          events::WriteAll(options.err_fd, text + "ib-run: error: this run costs money; pass --confirm to start it without a prompt\n");
          return exit_code::kUsage;
        }
        events::WriteAll(options.err_fd, text + "Proceed? [y/N] ");
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") {
          events::WriteAll(options.err_fd, "Aborted.\n");
          return exit_code::kOk;
        }
      }
    }
  }
  RunSession session(options, std::move(*config));
  return session.Execute();
}

}  // namespace ib::orchestrate
