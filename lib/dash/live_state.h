// What a page opened mid-run needs to redraw (the STATE object of docs/dashboard-protocol.md):
// the current run and its phase, the recent GPU samples (at the downsampled rate), the recent
// requests, the log tail, the queue and the last summary. Fed every event in stream order;
// keeps the serialized events themselves, so building the state copies text, never re-parses.
//   LiveState s; s.Apply(event, text);  std::string state_json = s.ToJson();
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"

namespace ib::dash {

struct LiveStateLimits {
  std::size_t gpu_samples = 900;    // 15 minutes at 1/s
  std::size_t requests = 5000;      // the most recent request_complete events, any run
  std::size_t log_lines = 300;
};

class LiveState {
 public:
  explicit LiveState(LiveStateLimits limits = {}) : limits_(limits) {}

  // `text` is the event's serialized JSON as sent to clients. gpu_sample events should be
  // applied only when forwarded (downsampled); the others always.
  void Apply(const events::Event& event, const std::shared_ptr<const std::string>& text);
  void SetPort(int port) { port_ = port; }
  void SetQueue(nlohmann::json queue) { queue_ = std::move(queue); }

  // The STATE object as one JSON text.
  std::string ToJson() const;
  // Run id of the current (or last) run; empty when none was seen.
  std::string current_run_id() const;

 private:
  void ApplyPhase(const events::Phase& phase);
  void StartRun(const std::string& run_id);

  LiveStateLimits limits_;
  int port_ = 0;
  nlohmann::json current_run_ = nullptr;
  // The run id of the whole experiment; a sweep's iterations have ids of their own, and its
  // cleanup/done/failed phases come back under this one.
  std::string experiment_run_id_;
  nlohmann::json queue_ = nlohmann::json::array();
  std::deque<std::shared_ptr<const std::string>> gpu_samples_;
  std::deque<std::shared_ptr<const std::string>> requests_;
  std::deque<std::shared_ptr<const std::string>> logs_;
  std::shared_ptr<const std::string> last_summary_;
};

// Position of a phase in the four stages a page shows (provisioning, model loading,
// execution, cleanup): 1..4, or 0 for an unknown phase.
int PhaseIndex(const std::string& phase);
inline constexpr int kPhaseCount = 4;

}  // namespace ib::dash
