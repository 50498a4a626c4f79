#include "lib/dash/live_state.h"

#include <algorithm>
#include <string_view>
#include <utility>
#include <variant>

#include "lib/runid/runid.h"

namespace ib::dash {
namespace {

using nlohmann::json;

template <typename Deque, typename T>
void PushBounded(Deque& d, T value, std::size_t limit) {
  d.push_back(std::move(value));
  while (d.size() > limit) d.pop_front();
}

void AppendArray(std::string& out, const std::deque<std::shared_ptr<const std::string>>& items) {
  out += '[';
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += ',';
    first = false;
    out += *item;
  }
  out += ']';
}

// Copies `key` from `from` into `to` when present and not null.
void CopyKey(const json& from, const char* key, json& to) {
  if (from.is_object() && from.contains(key) && !from[key].is_null()) to[key] = from[key];
}

}  // namespace

int PhaseIndex(const std::string& phase) {
  namespace p = events::phase;
  if (phase == p::kProvisioning || phase == p::kProvisioningDone || phase == p::kProvisioningSkipped)
    return 1;
  if (phase == p::kModelLoading || phase == p::kModelLoadingDone) return 2;
  if (phase == p::kExecution || phase == p::kSweepIteration || phase == p::kIterationDone) return 3;
  if (phase == p::kCleanup || phase == p::kDone || phase == p::kFailed) return 4;
  return 0;
}

std::string PhaseLabel(const std::string& phase) {
  namespace p = events::phase;
  static const std::pair<const char*, const char*> kLabels[] = {
      {p::kProvisioning, "Provisioning"},   {p::kProvisioningDone, "Provisioned"},
      {p::kProvisioningSkipped, "Provisioning skipped"},
      {p::kModelLoading, "Loading model"},  {p::kModelLoadingDone, "Model loaded"},
      {p::kExecution, "Running benchmark"}, {p::kSweepIteration, "Sweep iteration"},
      {p::kIterationDone, "Iteration done"}, {p::kCleanup, "Cleanup"},
      {p::kDone, "Done"},                   {p::kFailed, "Failed"}};
  for (const auto& [name, label] : kLabels) {
    if (phase == name) return label;
  }
  return phase;
}

events::Log LiveState::PhaseLog(const events::Phase& phase, const std::string& timestamp) {
  const json& d = phase.data;
  std::string reason = phase.phase == events::phase::kIterationDone
                           ? events::IterationDoneOf(phase).reason.value_or("")
                       : d.contains("reason") && d["reason"].is_string() ? d["reason"].get<std::string>()
                                                                         : "";
  bool stopped = phase.phase == events::phase::kFailed && reason == "interrupted";
  std::string message = stopped ? "stopped (interrupted)" : phase.phase + (reason.empty() ? "" : ": " + reason);
  if (d.contains("result_path") && d["result_path"].is_string()) {
    message += " → " + d["result_path"].get<std::string>();
  }
  events::Log log;
  log.run_id = phase.run_id;
  log.level = phase.phase == events::phase::kFailed && !stopped ? "error" : "info";
  log.message = std::move(message);
  log.timestamp = timestamp;
  log.source = "phase";
  return log;
}

void LiveState::StartExperiment(const std::string& run_id) {
  experiment_run_id_ = run_id;
  std::string name = runid::NameOf(run_id);
  current_run_ = {{"run_id", run_id},       {"experiment_run_id", run_id},
                  {"name", name},           {"framework", nullptr},
                  {"model", nullptr},       {"gpu_type", nullptr},
                  {"gpu_count", nullptr},   {"phase", nullptr},
                  {"phase_label", "waiting"}, {"phase_index", 0},
                  {"phase_count", kPhaseCount}, {"iteration", nullptr},
                  {"iteration_total", nullptr}, {"iteration_name", nullptr},
                  {"status", "running"},    {"reason", nullptr},
                  {"total_requests", nullptr}, {"completed_requests", 0},
                  {"started_at", events::NowIso8601()}, {"ended_at", nullptr}};
}

// A sweep's next iteration: a run id, a request count and a progress of its own; the
// experiment's name, model, GPU and start time stay.
void LiveState::StartIteration(const std::string& run_id) {
  current_run_["run_id"] = run_id;
  current_run_["total_requests"] = nullptr;
  current_run_["completed_requests"] = 0;
  current_run_["iteration_name"] = nullptr;
  current_run_["reason"] = nullptr;
}

std::string LiveState::current_run_id() const {
  return current_run_.is_object() ? current_run_["run_id"].get<std::string>() : std::string();
}

void LiveState::ApplyPhase(const events::Phase& phase) {
  namespace p = events::phase;
  const std::string& id = phase.run_id;
  const bool running = current_run_.is_object() && current_run_["status"] == "running";
  const bool iteration_phase =
      phase.phase == p::kSweepIteration || phase.phase == p::kExecution || phase.phase == p::kIterationDone;
  if (!current_run_.is_object()) {
    StartExperiment(id);
  } else if (id.empty() || id == current_run_id() || id == experiment_run_id_) {
    // The current iteration, or the experiment's own phases (a sweep's closing phases keep
    // its last iteration current, so a page opened afterwards still draws that iteration).
  } else if (running && iteration_phase) {
    StartIteration(id);
  } else {
    StartExperiment(id);
  }
  json& run = current_run_;
  run["phase"] = phase.phase;
  run["phase_label"] = PhaseLabel(phase.phase);
  if (int index = PhaseIndex(phase.phase); index > 0) run["phase_index"] = index;
  // execution's payload is typed (lib/events/payloads.h); the other phases' data is free-form.
  const bool execution = phase.phase == p::kExecution;
  const events::Execution e = execution ? events::ExecutionOf(phase) : events::Execution{};
  const json& d = execution ? e.rest : phase.data;
  auto put = [&run](const char* key, json v) {
    if (!v.is_null()) run[key] = std::move(v);
  };
  for (const char* key : {"framework", "model", "gpu_type", "gpu_count", "total_requests"}) {
    CopyKey(d, key, run);
  }
  if (execution) {
    put("framework", e.framework ? json(*e.framework) : json());
    put("model", e.model ? json(*e.model) : json());
    put("total_requests", e.total_requests ? json(*e.total_requests) : json());
  }
  const json& meta = execution ? e.metadata.value_or(json()) : d.contains("metadata") ? d["metadata"] : json();
  for (const char* key : {"framework", "model", "gpu_type", "gpu_count"}) CopyKey(meta, key, run);
  // A run without a run id of the usual shape (a foreign stream) takes the config's name.
  const json& experiment = execution ? e.experiment.value_or(json()) : d.contains("experiment") ? d["experiment"] : json();
  if (run["name"] == experiment_run_id_ && experiment.is_object()) CopyKey(experiment, "name", run);
  if (phase.phase == p::kSweepIteration) {
    CopyKey(d, "iteration", run);
    if (d.contains("total") && !d["total"].is_null()) run["iteration_total"] = d["total"];
    if (d.contains("name") && d["name"].is_string()) run["iteration_name"] = d["name"];
    run["reason"] = nullptr;  // the previous iteration's "finished" is not this one's
  } else if (execution) {
    put("iteration", e.iteration ? json(*e.iteration) : json());
    if (e.total) run["iteration_total"] = *e.total;
    run["reason"] = nullptr;
  }
  if (phase.phase == p::kIterationDone) {
    const auto reason = events::IterationDoneOf(phase).reason;
    run["reason"] = reason ? json(*reason) : json(nullptr);
  } else if (phase.phase == p::kFailed) {
    run["reason"] = d.contains("reason") && d["reason"].is_string() ? d["reason"] : json(nullptr);
  }
  if (phase.phase == p::kDone || phase.phase == p::kFailed) {
    run["status"] = phase.phase == p::kDone ? "done" : run["reason"] == "interrupted" ? "stopped" : "failed";
    if (run["status"] == "stopped") run["phase_label"] = "Stopped";
    run["ended_at"] = events::NowIso8601();
  }
}

bool LiveState::Apply(const events::Event& event, const std::shared_ptr<const std::string>& text) {
  if (const auto* phase = std::get_if<events::Phase>(&event)) {
    ApplyPhase(*phase);
    return true;
  } else if (std::holds_alternative<events::GpuSample>(event)) {
    PushBounded(gpu_samples_, text, limits_.gpu_samples);
  } else if (const auto* request = std::get_if<events::RequestComplete>(&event)) {
    bool fresh = !current_run_.is_object();
    if (fresh) StartExperiment(request->run_id);
    PushBounded(requests_, text, limits_.requests);
    if (!request->warmup && request->run_id == current_run_id()) {
      current_run_["completed_requests"] = current_run_["completed_requests"].get<int64_t>() + 1;
    }
    return fresh;
  } else if (std::holds_alternative<events::Log>(event) ||
             std::holds_alternative<events::Error>(event)) {
    PushBounded(logs_, text, limits_.log_lines);
  } else if (std::holds_alternative<events::Summary>(event)) {
    last_summary_ = text;
  }
  return false;
}

std::string LiveState::ToJson() const {
  std::string out = "{\"port\":" + std::to_string(port_);
  out += ",\"current_run\":" + current_run_.dump();
  out += ",\"recent_gpu_samples\":";
  AppendArray(out, gpu_samples_);
  out += ",\"recent_requests\":";
  AppendArray(out, requests_);
  out += ",\"log_tail\":";
  AppendArray(out, logs_);
  out += ",\"queue\":" + queue_.dump();
  out += ",\"last_summary\":";
  out += last_summary_ ? *last_summary_ : std::string("null");
  out += '}';
  return out;
}

}  // namespace ib::dash
