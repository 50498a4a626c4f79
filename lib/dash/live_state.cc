#include "lib/dash/live_state.h"

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

void LiveState::StartRun(const std::string& run_id) {
  // The name is the run id's own (the page parses no ids); a phase that names the run wins.
  current_run_ = {{"run_id", run_id},     {"name", runid::NameOf(run_id)},        {"framework", nullptr},
                  {"model", nullptr},      {"gpu_type", nullptr},    {"gpu_count", nullptr},
                  {"phase", nullptr},      {"phase_index", 0},       {"phase_count", kPhaseCount},
                  {"total_requests", nullptr}, {"completed_requests", 0},
                  {"started_at", events::NowIso8601()}};
}

std::string LiveState::current_run_id() const {
  return current_run_.is_object() ? current_run_["run_id"].get<std::string>() : std::string();
}

void LiveState::ApplyPhase(const events::Phase& phase) {
  namespace p = events::phase;
  const bool experiment_ends = phase.phase == p::kCleanup || phase.phase == p::kDone ||
                               phase.phase == p::kFailed;
  // A sweep's closing phases keep its last iteration current, so a page that opens after the
  // run still draws that iteration instead of an empty run.
  const bool closes_current = experiment_ends && current_run_.is_object() &&
                              phase.run_id == experiment_run_id_;
  if (!closes_current && !phase.run_id.empty() && phase.run_id != current_run_id()) {
    if (phase.phase != p::kSweepIteration && phase.phase != p::kExecution) {
      experiment_run_id_ = phase.run_id;
    }
    StartRun(phase.run_id);
  }
  if (!current_run_.is_object()) return;
  current_run_["phase"] = phase.phase;
  if (int index = PhaseIndex(phase.phase); index > 0) current_run_["phase_index"] = index;
  const json& d = phase.data;
  for (const char* key : {"framework", "model", "gpu_type", "gpu_count", "total_requests"}) {
    CopyKey(d, key, current_run_);
  }
  if (d.contains("metadata")) {
    for (const char* key : {"framework", "model", "gpu_type", "gpu_count"}) {
      CopyKey(d["metadata"], key, current_run_);
    }
  }
  if (d.contains("experiment") && d["experiment"].is_object()) {
    CopyKey(d["experiment"], "name", current_run_);
  }
  CopyKey(d, "name", current_run_);
}

void LiveState::Apply(const events::Event& event, const std::shared_ptr<const std::string>& text) {
  if (const auto* phase = std::get_if<events::Phase>(&event)) {
    ApplyPhase(*phase);
  } else if (std::holds_alternative<events::GpuSample>(event)) {
    PushBounded(gpu_samples_, text, limits_.gpu_samples);
  } else if (const auto* request = std::get_if<events::RequestComplete>(&event)) {
    if (!current_run_.is_object()) StartRun(request->run_id);
    PushBounded(requests_, text, limits_.requests);
    if (!request->warmup && request->run_id == current_run_id()) {
      current_run_["completed_requests"] = current_run_["completed_requests"].get<int64_t>() + 1;
    }
  } else if (std::holds_alternative<events::Log>(event) ||
             std::holds_alternative<events::Error>(event)) {
    PushBounded(logs_, text, limits_.log_lines);
  } else if (std::holds_alternative<events::Summary>(event)) {
    last_summary_ = text;
  }
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
