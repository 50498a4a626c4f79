#include "lib/orchestrate/iteration.h"

#include <signal.h>

#include <cctype>

#include "lib/cli/exit_codes.h"
#include "lib/events/events.h"

namespace ib::orchestrate {
namespace {

void Log(LineSink& sink, const std::string& run_id, const std::string& level,
         const std::string& message) {
  sink.Write(events::Serialize(events::MakeLog(run_id, level, message, "ib-run")));
}

}  // namespace

Supervisor::LineHandler StderrToLog(LineSink& sink, std::string run_id, std::string source) {
  return [&sink, run_id, source](Supervisor::ChildId, std::string line) {
    sink.Write(events::Serialize(events::MakeLog(run_id, events::StderrLevel(line), line, source)));
  };
}

bool IsIterationDone(std::string_view line, std::string* reason) {
  if (line.find("iteration_done") == std::string_view::npos) return false;  // cheap pre-check
  auto parsed = events::ParseEvent(line);
  if (!parsed.event) return false;
  const auto* phase = std::get_if<events::Phase>(&*parsed.event);
  if (phase == nullptr || phase->phase != events::phase::kIterationDone) return false;
  if (reason != nullptr) {
    *reason = events::IterationDoneOf(*phase).reason.value_or("");
  }
  return true;
}

IterationResult RunIteration(Supervisor& sup, LineSink& sink, const IterationPlan& plan,
                             const std::function<bool()>& stop_requested) {
  IterationResult result;
  auto forward = [&sink](Supervisor::ChildId, std::string line) { sink.Write(line); };
  std::string error;

  std::optional<Supervisor::ChildId> scrape;
  bool sampled = false;
  if (plan.scrape) {
    auto forward_scrape = [&sink, &sampled](Supervisor::ChildId, std::string line) {
      if (line.find("\"gpu_sample\"") != std::string::npos) sampled = true;
      sink.Write(line);
    };
    scrape = sup.Start("ib-scrape", *plan.scrape, forward_scrape, &error,
                       plan.capture_stderr ? StderrToLog(sink, plan.run_id, "ib-scrape") : nullptr);
    if (!scrape) Log(sink, plan.run_id, "warning", "no GPU metrics: " + error);
  }
  if (scrape) {
    // The run's counter deltas (prefix-cache hits, tokens, preemptions) are last sample minus
    // first: the first sample must come before the first request, or what the server did before
    // it is lost (measured: one 741-token request of 40 under load). A scrape that cannot sample
    // does not hold the run up for long.
    sup.PumpUntil([&] { return sampled || sup.Finished(*scrape); }, plan.first_sample_wait_ms, stop_requested);
  }

  std::optional<std::string> held;  // ib-load's iteration_done, until ib-scrape is drained
  Supervisor::ChildId load_id = -1;
  auto load = sup.Start("ib-load", plan.load,
                        [&](Supervisor::ChildId id, std::string line) {
                          if (IsIterationDone(line, &result.reason)) {
                            result.iteration_done = true;
                            held = std::move(line);
                            sup.Pause(id);  // ib-load's later lines wait behind it
                          } else {
                            sink.Write(line);
                          }
                        },
                        &error,
                        plan.capture_stderr ? StderrToLog(sink, plan.run_id, "ib-load") : nullptr);
  if (!load) {
    result.error = "cannot start ib-load: " + error;
    if (scrape) result.scrape_status = sup.Stop(*scrape, plan.stop_grace_ms, plan.hurry);
    return result;
  }
  load_id = *load;

  auto load_over = [&] { return held.has_value() || sup.Finished(load_id); };
  sup.PumpUntil(load_over, -1, stop_requested);
  if (!load_over()) {
    // Stop requested: ib-load cancels its in-flight requests on SIGTERM and reports them.
    result.interrupted = true;
    if (plan.before_stop) plan.before_stop();
    sup.Signal(load_id, SIGTERM);
    if (!sup.PumpUntil(load_over, plan.stop_grace_ms, plan.hurry)) {
      sup.Signal(load_id, SIGKILL);
      sup.PumpUntil(load_over, 2000);
    }
  }

  if (scrape) result.scrape_status = sup.Stop(*scrape, plan.stop_grace_ms, plan.hurry);
  if (held) {
    sink.Write(*held);
    sup.Resume(load_id);
  }
  int wait_ms = result.interrupted ? plan.stop_grace_ms : plan.exit_wait_ms;
  result.load_status = sup.Await(load_id, wait_ms, plan.stop_grace_ms);

  if (!result.iteration_done && !result.interrupted) {
    result.error = "ib-load ended (" + result.load_status->Describe() +
                   ") before its workload finished";
  } else if (result.iteration_done && !result.interrupted && result.load_status->exited &&
             result.load_status->code != 0 && result.load_status->code != exit_code::kInterrupted) {
    result.error = "ib-load failed (" + result.load_status->Describe() + ")";
  }
  if (stop_requested && stop_requested()) result.interrupted = true;
  return result;
}

}  // namespace ib::orchestrate
