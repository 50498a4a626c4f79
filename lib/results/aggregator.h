// One run's results, built from its events: the record behind `results/<run_id>.json`.
//
//   ib::results::StreamAggregator aggregator({});
//   for (auto& event : events)
//     for (RunRecord& run : aggregator.Add(std::move(event))) Save(run);
//   for (RunRecord& run : aggregator.Finish("end of stream")) Save(run);   // partial runs
//
// A run is the set of events sharing a run_id (one sweep iteration). It ends on its
// `phase iteration_done` (completed, or partial when ib-load stopped early), `phase done`
// (completed) or `phase failed` (failed); Finish() ends the others as partial. Runs that carry
// neither an execution phase, a request nor a GPU sample (only provisioning phases or logs) make
// no file. Warmup requests are kept apart and out of every aggregate. docs/results-format.md
// documents the file and docs/metrics.md every number in `summary`.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"
#include "lib/stats/slo_metrics.h"

namespace ib::results {

// Version of docs/metrics.md that the summary's numbers follow.
inline constexpr int kDefinitionsVersion = 1;

// Goodput: a successful request is good when it meets every SLO that is set. Keys are metric
// names of lib/stats/slo_metrics.h (or their aliases, kept as written so the file says what was
// asked).
struct Slos {
  std::vector<std::pair<std::string, double>> limits;
  bool any() const { return !limits.empty(); }
};

// The SLOs a run asked for: its experiment's metrics.goodput (per-request metrics only), else
// `fallback`.
Slos SlosFrom(const nlohmann::json& metrics, const Slos& fallback);
// Whether a successful request is good: it meets every SLO of `slos` (docs/metrics.md).
bool MeetsSlos(const events::RequestComplete& r, const Slos& slos);
// A request's own value of a per-request SLO metric (ttft, ttft_intended, tpot, e2e_latency,
// e2e_intended by summary block); nullopt when it has none (or the metric is not per request).
std::optional<double> PerRequestValue(const events::RequestComplete& r, const stats::SloMetric& m);

// Per-token ITL (docs/metrics.md): each inter-token gap divided by the tokens its later event
// carried, counted once per token: f(gap_ms / tokens, tokens) for every gap whose event carried
// any. Nothing for a request without itl_tokens (or with a list of another length).
template <typename F>
void ForEachPerTokenGap(const events::RequestComplete& r, F&& f) {
  if (!r.itl_tokens || r.itl_tokens->size() != r.inter_token_latencies_ms.size()) return;
  for (std::size_t i = 0; i < r.itl_tokens->size(); ++i) {
    const double n = (*r.itl_tokens)[i];
    if (!(n > 0)) continue;
    const int64_t tokens = std::max<int64_t>(1, std::llround(n));
    f(r.inter_token_latencies_ms[i] / n, tokens);
  }
}

struct AggregateOptions {
  // Used when the run's execution phase carries no experiment.metrics.percentiles / goodput.
  std::vector<double> percentiles = {50, 90, 95, 99};
  Slos slos;
};

struct RunRecord {
  std::string run_id;
  std::string status;       // completed | partial | failed
  std::string stop_reason;  // why a partial or failed run stopped; empty otherwise
  nlohmann::json experiment = nullptr;  // the resolved config, when the stream carried one
  nlohmann::json metadata = nlohmann::json::object();
  nlohmann::json summary = nlohmann::json::object();
  std::vector<events::RequestComplete> requests;         // by request_index
  std::vector<events::RequestComplete> warmup_requests;  // by request_index
  std::vector<events::GpuSample> gpu_samples;            // as received
  nlohmann::json gpu_metrics = nullptr;  // {framework, sample_interval_ms, total_scrapes,
                                         //  scrape_errors} when samples exist; time_series is
                                         //  written from gpu_samples
  std::string output_dir_hint;  // experiment.metrics.output_dir, when set
};

// The summary event announcing a saved run: its summary figures, the file written and how the
// run ended (lib/events/payloads.h SummaryData). ib-aggregate and ib-dash both announce so.
events::Summary SavedRunSummary(const RunRecord& run, std::string event_run_id, const std::string& path);

// Collects the events of one run.
class RunAccumulator {
 public:
  explicit RunAccumulator(std::string run_id);

  // Takes any event of this run (others are the caller's business). Returns true when the event
  // ends the run.
  bool Add(events::Event&& event);
  // True once the run has something worth a results file.
  bool has_content() const { return saw_execution_ || !requests_.empty() || !samples_.empty(); }
  // Builds the record. `interrupted` (non-empty) marks a run that never ended as partial.
  RunRecord Finish(const AggregateOptions& options, const std::string& interrupted = "") &&;

 private:
  void AddPhase(const events::Phase& phase);
  std::string run_id_;
  std::vector<events::RequestComplete> requests_;  // warmup ones included
  std::vector<events::GpuSample> samples_;
  events::Execution execution_;                        // `phase execution`'s payload
  nlohmann::json context_ = nlohmann::json::object();  // data of the other phases, merged
  std::optional<events::IterationDone> done_;          // the ending phase's, when iteration_done
  nlohmann::json end_ = nullptr;                       // data of the ending phase (done/failed)
  std::string end_phase_;
  bool saw_execution_ = false;
  int64_t scrape_errors_ = 0;  // ib-scrape error events: one per outage
  std::optional<int64_t> failed_scrapes_;  // from ib-scrape's closing line, when it came
  int64_t failed_scrapes() const { return failed_scrapes_.value_or(scrape_errors_); }
  std::string first_seen_;  // wall clock when the first event arrived
};

// Groups a stream's events by run_id and finishes runs as they end.
class StreamAggregator {
 public:
  explicit StreamAggregator(AggregateOptions options) : options_(std::move(options)) {}
  // Returns the runs this event finished (usually none).
  std::vector<RunRecord> Add(events::Event&& event);
  // Ends every open run that has content as partial with this reason (EOF, a signal).
  std::vector<RunRecord> Finish(const std::string& stop_reason);
  // Events that arrived for runs already finished (ignored for aggregation).
  int64_t late_events() const { return late_events_; }

 private:
  AggregateOptions options_;
  std::map<std::string, RunAccumulator> open_;
  std::set<std::string> finished_;
  int64_t late_events_ = 0;
};

// The summary object (docs/metrics.md) over a run's requests and samples. Exposed for tests.
nlohmann::json Summarize(const std::vector<events::RequestComplete>& requests,
                         const std::vector<events::GpuSample>& samples, double duration_s,
                         int64_t scrape_errors, const std::vector<double>& percentiles,
                         const Slos& slos);

}  // namespace ib::results
