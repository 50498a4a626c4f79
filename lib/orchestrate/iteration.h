// One sweep iteration: ib-scrape and ib-load started together, every line of both forwarded
// to the sink in arrival order, with the ordering guarantee of docs/pipeline.md: the
// iteration's `phase iteration_done` line from ib-load is held back until ib-scrape has been
// stopped (SIGTERM), has exited and all its lines were forwarded. So a consumer that finalizes
// the run on iteration_done (ib-aggregate) has already seen every GPU sample.
//
//   IterationPlan plan{.run_id = id, .scrape = scrape_opts, .load = load_opts};
//   IterationResult r = RunIteration(supervisor, sink, plan, [] { return StopSignals::Count() > 0; });
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "lib/orchestrate/output.h"
#include "lib/orchestrate/supervisor.h"
#include "lib/proc/proc.h"

namespace ib::orchestrate {

struct IterationPlan {
  std::string run_id;
  std::optional<proc::SpawnOptions> scrape;  // none: GPU metrics are off
  proc::SpawnOptions load;
  int stop_grace_ms = 3000;  // SIGTERM -> SIGKILL for a child asked to stop
  int exit_wait_ms = 10000;  // how long ib-load may linger after iteration_done
  int first_sample_wait_ms = 3000;  // ib-load starts after ib-scrape's first sample, or this long
  bool capture_stderr = true;
  // Called once, right before ib-load is stopped because stop_requested() turned true (not
  // when the workload had already ended): ib-run's early stop writes its phase here.
  std::function<void()> before_stop;
  std::function<bool()> hurry;  // true: skip grace periods (a second Ctrl-C)  // children's stderr lines become `log` events in the stream
};

struct IterationResult {
  bool iteration_done = false;  // ib-load reported the end of its workload
  std::string reason;           // iteration_done's data.reason ("completed", "interrupted", ...)
  bool interrupted = false;     // stop_requested() turned true during the iteration
  std::string error;            // why the iteration failed (spawn error, ib-load died early)
  std::optional<proc::ExitStatus> load_status;
  std::optional<proc::ExitStatus> scrape_status;
  bool ok() const { return error.empty() && iteration_done && !interrupted; }
};

// A stderr handler that turns each line into a `log` event (source: the child's tool name;
// level error/warning when the line says so, else info) written to the sink.
Supervisor::LineHandler StderrToLog(LineSink& sink, std::string run_id, std::string source);

// True when the line is a `phase` event whose phase is iteration_done.
bool IsIterationDone(std::string_view line, std::string* reason = nullptr);

// Runs one iteration to its end. ib-run's stderr/log lines about the children go to the sink
// as `log` events with source "ib-run". Returns once both children are reaped.
IterationResult RunIteration(Supervisor& supervisor, LineSink& sink, const IterationPlan& plan,
                             const std::function<bool()>& stop_requested);

}  // namespace ib::orchestrate
