// The experiment queue: one run at a time, in order. Each entry spawns
//   ib-run CONFIG --output-dir RESULTS [--confirm] [--server-url URL] [--name NAME]
// (argv, no shell, in its own process group) and pumps its stdout into the StreamSink as the
// stream "ib-run <queue_id>"; its stderr lines become log events (source "ib-run").
// Stop: the first Stop sends SIGTERM to ib-run (which cleans up: cancels requests, writes the
// partial results, terminates the pod); a second Stop sends SIGKILL to its whole process group.
//   ExperimentRunner runner({.ib_run = FindTool("ib-run"), .results_dir = "results"}, sink, on_queue);
//   auto id = runner.Enqueue(config_abs_path, "experiments/x.yaml", options);
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include <nlohmann/json.hpp>

#include "lib/dash/stream_sink.h"
#include "lib/events/events.h"

namespace ib::dash {

struct RunnerOptions {
  std::string ib_run;       // path of the ib-run binary; empty: ib::proc::FindTool at each start
  std::string results_dir;  // passed as --output-dir
  int shutdown_grace_ms = 8000;  // on destruction: SIGTERM, then SIGKILL to the group
};

struct StopOutcome {
  std::string run_id;
  std::string signal;  // "SIGTERM" (first stop) or "SIGKILL" (escalation)
  std::string queue_id;
};

class ExperimentRunner {
 public:
  // on_queue_change is called (without locks held) with the queue JSON whenever it changes.
  ExperimentRunner(RunnerOptions options, StreamSink& sink,
                   std::function<void(const nlohmann::json&)> on_queue_change);
  ~ExperimentRunner();  // stops the running child (see RunnerOptions) and the thread
  ExperimentRunner(const ExperimentRunner&) = delete;
  ExperimentRunner& operator=(const ExperimentRunner&) = delete;

  // Appends a run; returns its queue id.
  std::string Enqueue(const std::string& config_file, const std::string& config_path,
                      const events::StartExperiment& options);
  // Removes a queued (not running) entry. Returns an error message, or "" on success.
  std::string Cancel(const std::string& queue_id);
  // Stops the running entry. run_id empty (or the id of any run the entry emitted, or its
  // queue id) selects it. Returns an error message when nothing matches.
  std::variant<StopOutcome, std::string> Stop(const std::string& run_id);

  // [{queue_id, config_path, options, state, run_ids, ...}], running entry first.
  nlohmann::json QueueJson() const;

 private:
  struct Entry {
    std::string queue_id;
    std::string config_file;  // absolute
    std::string config_path;  // as the client named it
    events::StartExperiment options;
    bool running = false;
    pid_t pid = -1;
    int stops = 0;
    std::vector<std::string> run_ids;
    std::string started_at;
  };
  class ChildSink;

  void Loop();
  void RunEntry(Entry entry);
  void NotifyQueue();
  nlohmann::json QueueJsonLocked() const;
  void Log(const std::string& level, const std::string& message, const std::string& run_id = "");

  RunnerOptions options_;
  StreamSink& sink_;
  std::function<void(const nlohmann::json&)> on_queue_change_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> entries_;  // front is the running one when entries_.front().running
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ib::dash
