// Persistence of streams that arrive without a results file (`ib-scrape ... | ib-dash`, an
// ib-load run piped in, an ib-run killed before its ib-aggregate wrote): every stream source
// feeds a lib/results StreamAggregator; a run it finishes is held until either its `summary`
// arrives (ib-aggregate wrote the file: nothing to do) or the stream ends / `grace` passes
// with no summary and no results/<run_id>.json, and then written with lib/results.
//   StreamRecorder recorder("results", [&](const Event& e) { hub.PublishEvent(e); });
//   recorder.Add("stdin", event);  ...  recorder.EndStream("stdin");
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "lib/events/events.h"
#include "lib/results/run.h"

namespace ib::dash {

class StreamRecorder {
 public:
  using Clock = std::chrono::steady_clock;
  // publish receives the summary and log events announcing each file written (never called
  // with the recorder's lock held).
  StreamRecorder(std::string results_dir, std::function<void(const events::Event&)> publish,
                 std::chrono::milliseconds grace = std::chrono::seconds(30));

  void Add(const std::string& source, const events::Event& event);
  // The source's stream ended: its open runs end as partial and every pending run is saved.
  void EndStream(const std::string& source);
  // Saves pending runs older than `grace` (call periodically).
  void Tick();
  // Ends everything (shutdown), and waits (up to 60 s) for saves other threads have begun.
  void FlushAll(const std::string& reason);

 private:
  struct Pending {
    results::RunRecord run;
    Clock::time_point since;
  };
  // Moves finished runs to pending_, skipping those whose summary already arrived.
  void Hold(std::vector<results::RunRecord> runs);  // requires mu_
  // Takes the pending runs to save (all, or only those older than grace_).
  std::vector<results::RunRecord> TakeDue(bool all);
  void Save(std::vector<results::RunRecord> runs);

  std::string results_dir_;
  std::function<void(const events::Event&)> publish_;
  std::chrono::milliseconds grace_;
  std::mutex mu_;
  std::map<std::string, results::StreamAggregator> aggregators_;  // by source
  std::set<std::string> summarized_;                                // run ids with a summary
  std::vector<Pending> pending_;
  int saving_ = 0;  // Save() calls in progress
  std::condition_variable saved_cv_;
};

}  // namespace ib::dash
