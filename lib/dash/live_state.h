// What a page opened mid-run needs to redraw (the STATE object of docs/dashboard-protocol.md),
// and the one owner of the live run's state: which run is current, its experiment's name,
// model and GPU, the phase (index and label), the sweep iteration, the status
// (running/done/failed/stopped), the reason and the times. The page renders current_run as
// sent (in STATE and in every {"type":"run"} message); it decides none of it.
// Keeps the serialized events themselves, so building the state copies text, never re-parses.
//   LiveState s; if (s.Apply(event, text)) send(s.RunJson());  std::string state = s.ToJson();
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
  // applied only when forwarded (downsampled); the others always. Returns true when
  // current_run changed in a way the page must redraw (a phase, a new run), not for each
  // request (the page counts those of current_run.run_id itself).
  bool Apply(const events::Event& event, const std::shared_ptr<const std::string>& text);
  void SetPort(int port) { port_ = port; }
  void SetQueue(nlohmann::json queue) { queue_ = std::move(queue); }

  // The STATE object as one JSON text.
  std::string ToJson() const;
  // current_run (an object, or null before any run).
  const nlohmann::json& current_run() const { return current_run_; }
  // Run id of the current (or last) run; empty when none was seen.
  std::string current_run_id() const;

  // The log line a phase gets in the page's log (and in log_tail): stamped with the time
  // ib-dash received it, so it sorts with ib-dash's own lines. Levels: a failure is an
  // error, a stop the user asked for is not.
  static events::Log PhaseLog(const events::Phase& phase, const std::string& timestamp);

 private:
  void ApplyPhase(const events::Phase& phase);
  void StartExperiment(const std::string& run_id);
  void StartIteration(const std::string& run_id);

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
// What the page calls a phase ("Running benchmark"); the phase itself when unknown.
std::string PhaseLabel(const std::string& phase);
inline constexpr int kPhaseCount = 4;

}  // namespace ib::dash
