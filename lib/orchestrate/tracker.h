// Watches the final stream for ib-aggregate's `summary` events so ib-run knows which results
// files were written (for `done`'s result_paths) and can wait for an iteration's summary
// before starting the next one. Thread-safe: the stream is observed on ib-aggregate's relay
// thread while the run waits on the main thread.
//
//   ib::orchestrate::ResultTracker tracker;
//   out.Observe([&](std::string_view line) { tracker.Observe(line); });
//   tracker.WaitForSummary(run_id, 60000);   // true once its results file is written
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::orchestrate {

class ResultTracker {
 public:
  // Feed every line of the final stream (StreamOutput::Observe).
  void Observe(std::string_view line);
  // Waits up to timeout_ms for the summary of run_id; true if it arrived.
  bool WaitForSummary(const std::string& run_id, int timeout_ms);
  // result_path of every summary so far, in arrival order.
  std::vector<std::string> ResultPaths() const;
  // The data of run_id's latest summary event (the results summary plus result_path and
  // status), or null before it came.
  nlohmann::json SummaryOf(const std::string& run_id) const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> by_run_;
  std::map<std::string, nlohmann::json> summaries_;
  std::vector<std::string> paths_;
};

}  // namespace ib::orchestrate
