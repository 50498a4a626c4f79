// Persistence of streams that arrive without a results file (`ib-scrape ... | ib-dash`, an
// ib-load run piped in, an ib-run killed before its ib-aggregate wrote): every stream source
// feeds a lib/results StreamAggregator. A run it finishes (iteration_done, done, failed, or the
// end of its stream) is held for `grace`: if its `summary` arrives or results/<run_id>.json
// appears meanwhile (ib-aggregate, fed the same stream, wrote it) ib-dash does nothing; only a
// run still without a file when the grace is over is written, with lib/results. A writer's
// temporary file (`.<id>.json.tmp-*`) still being written extends the wait.
//   StreamRecorder recorder("results", [&](const Event& e) { hub.PublishEvent(e); });
//   recorder.Add("stdin", event);  ...  recorder.EndStream("stdin");  recorder.Tick();
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
#include "lib/results/aggregator.h"

namespace ib::dash {

class StreamRecorder {
 public:
  using Clock = std::chrono::steady_clock;
  // publish receives the summary and log events announcing each file written or left to
  // another writer (never called with the recorder's lock held).
  StreamRecorder(std::string results_dir, std::function<void(const events::Event&)> publish,
                 std::chrono::milliseconds grace = std::chrono::seconds(5));

  void Add(const std::string& source, const events::Event& event);
  // The source's stream ended: its open runs end as partial and wait the grace like any other.
  void EndStream(const std::string& source);
  // Drops pending runs whose file appeared; saves those whose grace is over (call often).
  void Tick();
  // Shutdown: ends every open stream, waits until `deadline` at most for the files of pending
  // runs (the grace, bounded), saves the missing ones, and waits (up to 60 s) for saves other
  // threads have begun. The open runs of a stream that came from ib-run (it carried
  // `sweep_iteration`) are left to its ib-aggregate, which goes on and writes them.
  void FlushAll(const std::string& reason, Clock::time_point deadline);
  // Runs waiting for a file or their grace (for tests and /api/stats).
  std::size_t pending() const;

 private:
  struct Pending {
    results::RunRecord run;
    Clock::time_point due;      // saved then unless its file appeared
    Clock::time_point give_up;  // last moment a writer's temporary file may postpone `due`
  };
  // Moves finished runs to pending_, skipping those whose summary already arrived.
  void Hold(std::vector<results::RunRecord> runs);  // requires mu_
  // Takes the pending runs to save now; *resolved gets the ids whose file appeared.
  std::vector<results::RunRecord> TakeDue(std::vector<std::string>* resolved);
  void Save(std::vector<results::RunRecord> runs, const std::vector<std::string>& resolved);
  std::string FinalPath(const std::string& run_id) const;
  bool WriterBusy(const std::string& run_id) const;  // a `.<id>.json.tmp-*` exists

  std::string results_dir_;
  std::function<void(const events::Event&)> publish_;
  std::chrono::milliseconds grace_;
  mutable std::mutex mu_;
  std::map<std::string, results::StreamAggregator> aggregators_;  // by source
  std::set<std::string> from_ib_run_;  // sources whose stream carried ib-run's sweep_iteration
  std::set<std::string> summarized_;   // run ids with a summary
  std::vector<Pending> pending_;
  int saving_ = 0;  // Save() calls in progress
  std::condition_variable saved_cv_;
};

}  // namespace ib::dash
