// One run's client and server figures as Prometheus metrics (names, buckets and labels in
// docs/ib-dash.md, "GET /metrics"). Fed with the run's events; written with lib/openmetrics'
// Writer. ib-dash keeps the current run in a LiveMetrics and serves it at GET /metrics;
// `ib-results export --format openmetrics` replays a results file into a series of snapshots
// with timestamps (ExportRun).
//
//   ib::openmetrics::LiveMetrics live;
//   live.Add(event);                                   // every event of every stream
//   std::string page = live.Page(Format::kOpenMetrics);
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"
#include "lib/openmetrics/writer.h"
#include "lib/results/aggregator.h"

namespace ib::openmetrics {

// Bucket upper bounds in seconds (documented in docs/ib-dash.md).
const std::vector<double>& TtftBuckets();     // TTFT and TTFC
const std::vector<double>& E2eBuckets();      // E2E latency
const std::vector<double>& TokenGapBuckets(); // ITL and TPOT
const std::vector<double>& SendLagBuckets();  // open-loop send lag

class RunMetrics {
 public:
  explicit RunMetrics(std::string run_id);

  // Takes an event of this run (the caller routes by run_id). Warmup requests only count in
  // ib_warmup_requests_total, as they stay out of every aggregate of the results file.
  void Add(const events::Event& event);
  // Sets the phase shown by ib_run_phase (export: the run's final state).
  void SetPhase(std::string phase) { phase_ = std::move(phase); }
  // Label values; empty ones are left out of the page.
  void SetLabel(const std::string& name, const std::string& value);

  const std::string& run_id() const { return run_id_; }
  Labels labels() const;

 private:
  friend void WritePoints(Writer&, const std::vector<std::pair<const RunMetrics*, std::optional<double>>>&);
  void AddPhase(const events::Phase& phase);
  void AddRequest(const events::RequestComplete& r);
  void TakeLabels(const nlohmann::json& data);

  std::string run_id_;
  std::string experiment_, framework_, model_, gpu_type_;
  std::string phase_;
  Histogram ttft_{&TtftBuckets()}, ttfc_{&TtftBuckets()}, e2e_{&E2eBuckets()};
  Histogram itl_{&TokenGapBuckets()}, tpot_{&TokenGapBuckets()}, send_lag_{&SendLagBuckets()};
  // From the intended start instant (request_complete's client_queue_ms); written once any
  // request carried it.
  Histogram ttft_intended_{&TtftBuckets()}, e2e_intended_{&E2eBuckets()};
  Histogram client_queue_{&SendLagBuckets()};
  bool saw_intended_ = false;
  // Per-token ITL (docs/metrics.md), written once any request carried itl_tokens.
  Histogram itl_per_token_{&TokenGapBuckets()};
  bool saw_per_token_ = false;
  // Goodput: the run's metrics.goodput SLOs (from its execution phase) and the requests meeting
  // them, by the results file's own rule (lib/results MeetsSlos).
  results::Slos slos_;
  uint64_t good_requests_ = 0;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_;  // (outcome, error_kind)
  uint64_t warmup_requests_ = 0, degraded_requests_ = 0;
  double prompt_tokens_ = 0, completion_tokens_ = 0;
  std::optional<double> client_cpu_s_, client_max_rss_mb_, client_loop_stalls_;
  std::optional<double> iteration_, iterations_, planned_requests_;
  std::optional<double> offered_concurrency_, offered_request_rate_;
  std::map<std::string, double> params_;  // numeric swept values
  std::optional<events::GpuSample> gpu_;  // the latest sample
};

// Writes every family once; inside each, every labelset's points in the given order (one point
// per (snapshot, timestamp); a live page has one point without a timestamp). Snapshots must be
// of the same run, in time order.
void WritePoints(Writer& writer,
                 const std::vector<std::pair<const RunMetrics*, std::optional<double>>>& points);

// The current run of every stream ib-dash reads. A run becomes current when an event that
// starts one arrives (phase provisioning, model_loading, sweep_iteration, execution, or a first
// request_complete / gpu_sample) for a run id not seen before; the previous run's series are
// dropped then. Late events of earlier runs (the last 256 ids) are ignored. Thread-safe.
class LiveMetrics {
 public:
  void Add(const events::Event& event);
  std::string Page(Format format) const;

 private:
  mutable std::mutex mu_;
  std::optional<RunMetrics> current_;
  std::deque<std::string> previous_;
};

// A finished run read from its results file (docs/results-format.md) as OpenMetrics with
// timestamps: one point every `step_s` of the run's wall-clock window (from clock_origin,
// first request start to last request end or GPU sample) and one at its end, ending "# EOF".
// step_s <= 0 picks 1 s, or longer so that a run has at most 3600 points. Returns false with
// *error when the file lacks what a timeline needs (no clock_origin, no requests nor samples).
bool ExportRun(const nlohmann::json& results, double step_s, std::string* out, std::string* error);

}  // namespace ib::openmetrics
