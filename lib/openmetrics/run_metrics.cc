#include "lib/openmetrics/run_metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "lib/results/clock.h"

namespace ib::openmetrics {

using nlohmann::json;

const std::vector<double>& TtftBuckets() {
  // 1 ms to 2 min: a simulated or cached answer is a few ms, a queued one on a busy GPU tens of s.
  static const std::vector<double> b = {0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03,
                                        0.04,  0.05,   0.075, 0.1,    0.15, 0.2,   0.3,  0.4,
                                        0.5,   0.75,   1,     1.5,    2,    3,     5,    7.5,
                                        10,    15,     20,    30,     60,   120};
  return b;
}
const std::vector<double>& E2eBuckets() {
  // 10 ms to 10 min: whole answers, from a few tokens to thousands on a slow server.
  static const std::vector<double> b = {0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
                                        1,    1.5,   2,    3,   4,    5,   7.5, 10,  15,
                                        20,   30,    45,   60,  90,   120, 180, 300, 600};
  return b;
}
const std::vector<double>& TokenGapBuckets() {
  // 0.5 ms to 10 s: decode steps are 5-100 ms on GPUs, ~2 ms in ib-sim; stalls go to seconds.
  static const std::vector<double> b = {0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005,
                                        0.0075, 0.01,  0.015,  0.02,  0.025, 0.03,  0.04,
                                        0.05,   0.075, 0.1,    0.15,  0.2,   0.3,   0.5,
                                        0.75,   1,     2.5,    5,     10};
  return b;
}
const std::vector<double>& SendLagBuckets() {
  static const std::vector<double> b = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,   0.5,   1,      2.5,   5,    10};
  return b;
}

namespace {

std::optional<double> Num(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}
std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
const json& Obj(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kNull;
}

constexpr const char* kPhases[] = {
    events::phase::kProvisioning,    events::phase::kProvisioningDone,
    events::phase::kProvisioningSkipped, events::phase::kModelLoading,
    events::phase::kModelLoadingDone, events::phase::kSweepIteration,
    events::phase::kExecution,       events::phase::kIterationDone,
    events::phase::kCleanup,         events::phase::kDone,
    events::phase::kFailed};

// The error kinds of docs/metrics.md; anything else counts as "other" (bounded cardinality).
bool KnownErrorKind(const std::string& kind) {
  static const char* kKinds[] = {"http_status", "sse_error", "timeout", "idle_timeout", "connect",
                                 "reset", "truncated", "cancelled", "skipped"};
  return std::any_of(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; });
}

}  // namespace

RunMetrics::RunMetrics(std::string run_id) : run_id_(std::move(run_id)) {}

void RunMetrics::SetLabel(const std::string& name, const std::string& value) {
  if (value.empty()) return;
  if (name == "experiment") experiment_ = value;
  else if (name == "framework") framework_ = value;
  else if (name == "model") model_ = value;
  else if (name == "gpu_type") gpu_type_ = value;
}

Labels RunMetrics::labels() const {
  return {{"run_id", run_id_}, {"experiment", experiment_}, {"framework", framework_},
          {"model", model_},   {"gpu_type", gpu_type_}};
}

void RunMetrics::TakeLabels(const json& data) {
  SetLabel("framework", Str(data, "framework"));
  SetLabel("model", Str(data, "model"));
  SetLabel("gpu_type", Str(data, "gpu_type"));
  const json& meta = Obj(data, "metadata");
  SetLabel("framework", Str(meta, "framework"));
  SetLabel("model", Str(meta, "model"));
  SetLabel("gpu_type", Str(meta, "gpu_type"));
  SetLabel("experiment", Str(meta, "experiment_name"));
  const json& experiment = Obj(data, "experiment");
  SetLabel("experiment", Str(experiment, "name"));
  if (gpu_type_.empty()) SetLabel("gpu_type", Str(Obj(experiment, "infrastructure"), "gpu_type"));
  const json& workload = Obj(experiment, "workload");
  if (auto v = Num(workload, "concurrency")) offered_concurrency_ = v;
  if (auto v = Num(workload, "request_rate")) offered_request_rate_ = v;
}

void RunMetrics::AddPhase(const events::Phase& p) {
  phase_ = p.phase;
  const json& d = p.data;
  TakeLabels(d);  // any phase may name the framework, model, GPU or experiment
  auto take_params = [&](const json& params) {
    if (!params.is_object()) return;
    for (const auto& [k, v] : params.items())
      if (v.is_number() && std::isfinite(v.get<double>())) params_[k] = v.get<double>();
  };
  if (p.phase == events::phase::kSweepIteration) {
    SetLabel("experiment", Str(d, "name"));
    if (auto v = Num(d, "iteration")) iteration_ = v;
    if (auto v = Num(d, "total")) iterations_ = v;
    take_params(Obj(d, "params"));
  } else if (p.phase == events::phase::kExecution) {
    const events::Execution e = events::ExecutionOf(p);
    if (e.iteration) iteration_ = *e.iteration;
    if (e.total) iterations_ = *e.total;
    if (e.total_requests) planned_requests_ = static_cast<double>(*e.total_requests);
    slos_ = results::SlosFrom(Obj(e.experiment.value_or(json()), "metrics"), {});
    if (e.params) take_params(*e.params);
  } else if (p.phase == events::phase::kIterationDone) {
    const events::IterationDone done = events::IterationDoneOf(p);
    if (done.iteration) iteration_ = *done.iteration;
    if (done.total) iterations_ = *done.total;
    if (done.client) {
      if (done.client->cpu_s) client_cpu_s_ = done.client->cpu_s;
      if (done.client->max_rss_mb) client_max_rss_mb_ = done.client->max_rss_mb;
      if (done.client->loop_stalls) client_loop_stalls_ = static_cast<double>(*done.client->loop_stalls);
    }
  } else {
    if (auto v = Num(d, "iteration")) iteration_ = v;
    if (auto v = Num(d, "total")) iterations_ = v;
    take_params(Obj(d, "params"));
  }
}

void RunMetrics::AddRequest(const events::RequestComplete& r) {
  if (r.warmup) {
    ++warmup_requests_;
    return;
  }
  if (r.client_degraded) ++degraded_requests_;
  if (r.send_lag_ms) send_lag_.Observe(*r.send_lag_ms / 1000);
  if (r.client_queue_ms) {
    saw_intended_ = true;
    client_queue_.Observe(*r.client_queue_ms / 1000);
  }
  if (r.error) {
    std::string kind = r.error_kind.value_or("");
    ++requests_[{"error", KnownErrorKind(kind) ? kind : "other"}];
    return;
  }
  ++requests_[{"success", ""}];
  // The results file's sums: successful requests only, a null count counts 0.
  prompt_tokens_ += static_cast<double>(r.prompt_tokens.value_or(0));
  completion_tokens_ += static_cast<double>(r.completion_tokens.value_or(0));
  if (r.ttft_ms) ttft_.Observe(*r.ttft_ms / 1000);
  if (r.ttfc_ms) ttfc_.Observe(*r.ttfc_ms / 1000);
  if (r.e2e_latency_ms) e2e_.Observe(*r.e2e_latency_ms / 1000);
  // Measured from the instant the request should have started: the write-based latency plus
  // the client's own hold-back (start_ms - intended_ms).
  if (r.client_queue_ms) {
    if (r.ttft_ms) ttft_intended_.Observe((*r.ttft_ms + *r.client_queue_ms) / 1000);
    if (r.e2e_latency_ms) e2e_intended_.Observe((*r.e2e_latency_ms + *r.client_queue_ms) / 1000);
  }
  if (r.tpot_ms) tpot_.Observe(*r.tpot_ms / 1000);
  for (double gap : r.inter_token_latencies_ms) itl_.Observe(gap / 1000);
  if (r.itl_tokens) saw_per_token_ = true;
  results::ForEachPerTokenGap(r, [&](double gap_ms, int64_t tokens) {
    for (int64_t k = 0; k < tokens; ++k) itl_per_token_.Observe(gap_ms / 1000);
  });
  if (slos_.any() && results::MeetsSlos(r, slos_)) ++good_requests_;
}

void RunMetrics::Add(const events::Event& event) {
  if (const auto* p = std::get_if<events::Phase>(&event)) AddPhase(*p);
  else if (const auto* r = std::get_if<events::RequestComplete>(&event)) AddRequest(*r);
  else if (const auto* s = std::get_if<events::GpuSample>(&event)) gpu_ = *s;
}

// ---- Writing ----

namespace {

using Point = std::pair<const RunMetrics*, std::optional<double>>;
using Series = std::vector<std::pair<Labels, double>>;  // extra labels -> value

Labels Join(Labels base, const Labels& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

}  // namespace

void WritePoints(Writer& w, const std::vector<Point>& points) {
  if (points.empty()) return;
  const RunMetrics& last = *points.back().first;

  // A family of plain samples. `get` lists a snapshot's series; the last snapshot's labelsets
  // are every labelset (series only appear over a run), each written across all points.
  auto family = [&](const char* name, Type type, const char* help, const char* unit,
                    const std::function<Series(const RunMetrics&)>& get) {
    Series final_series = get(last);
    if (final_series.empty()) return;
    w.Family(name, type, help, unit);
    std::string sample = std::string(name) + (type == Type::kCounter ? "_total" : "");
    std::vector<Series> all;
    all.reserve(points.size());
    for (const auto& [run, ts] : points) all.push_back(get(*run));
    for (const auto& [extra, unused] : final_series) {
      (void)unused;
      for (std::size_t i = 0; i < points.size(); ++i) {
        for (const auto& [labels, value] : all[i]) {
          if (labels != extra) continue;
          w.Sample(sample, Join(points[i].first->labels(), extra), value, points[i].second);
        }
      }
    }
  };
  auto one = [](const std::optional<double>& v) {
    return v ? Series{{{}, *v}} : Series{};
  };
  auto histogram = [&](const char* name, const char* help, Histogram RunMetrics::*member) {
    w.Family(name, Type::kHistogram, help, "seconds");
    for (const auto& [run, ts] : points) w.HistogramPoint(name, run->labels(), run->*member, ts);
  };

  auto intended = [&](const char* name, const char* help, Histogram RunMetrics::*member) {
    if (last.saw_intended_) histogram(name, help, member);
  };
  histogram("ib_ttft_seconds",
            "Time to first token (first chunk with a non-empty choices array) of successful requests.",
            &RunMetrics::ttft_);
  histogram("ib_ttfc_seconds", "Time to first content chunk of successful requests.", &RunMetrics::ttfc_);
  histogram("ib_e2e_latency_seconds", "End-to-end latency (last token-bearing chunk) of successful requests.",
            &RunMetrics::e2e_);
  histogram("ib_itl_seconds", "Every gap between token-bearing chunks of successful requests (pooled).",
            &RunMetrics::itl_);
  histogram("ib_tpot_seconds", "Time per output token after the first, one value per successful request.",
            &RunMetrics::tpot_);
  intended("ib_ttft_intended_seconds",
           "TTFT measured from the instant the request should have started (ttft_ms + client_queue_ms).",
           &RunMetrics::ttft_intended_);
  intended("ib_e2e_intended_seconds",
           "E2E latency measured from the instant the request should have started (e2e_latency_ms + client_queue_ms).",
           &RunMetrics::e2e_intended_);
  if (last.saw_per_token_) {
    histogram("ib_itl_per_token_seconds",
              "Per-token ITL: each inter-token gap divided by the tokens its later event carried, counted once "
              "per token (itl_tokens; equals ib_itl_seconds when every event carries one token).",
              &RunMetrics::itl_per_token_);
  }
  intended("ib_client_queue_seconds",
           "How long ib-load held each request back after its intended start (client_queue_ms), every non-warmup request.",
           &RunMetrics::client_queue_);
  family("ib_requests", Type::kCounter,
         "Requests that finished, warmup excluded, by outcome (success, error) and error_kind.", "",
         [](const RunMetrics& m) {
           Series s;
           // Success first even before any request, so rate() has a zero to start from.
           s.push_back({{{"outcome", "success"}}, 0});
           for (const auto& [key, n] : m.requests_) {
             if (key.first == "success") s.front().second = static_cast<double>(n);
             else s.push_back({{{"outcome", key.first}, {"error_kind", key.second}}, static_cast<double>(n)});
           }
           return s;
         });
  if (last.slos_.any()) {
    family("ib_goodput_requests", Type::kCounter,
           "Successful requests that met every SLO of the run's metrics.goodput (summary.goodput.good_requests).",
           "", [](const RunMetrics& m) { return Series{{{}, static_cast<double>(m.good_requests_)}}; });
    family("ib_goodput_slo_seconds", Type::kGauge,
           "The run's goodput SLOs (metrics.goodput), by metric name as configs write it, in seconds.", "seconds",
           [](const RunMetrics& m) {
             Series s;
             for (const auto& [name, limit] : m.slos_.limits) s.push_back({{{"metric", name}}, limit / 1000});
             return s;
           });
  }
  family("ib_warmup_requests", Type::kCounter, "Warmup requests that finished (kept out of every other figure).",
         "", [](const RunMetrics& m) { return Series{{{}, static_cast<double>(m.warmup_requests_)}}; });
  family("ib_prompt_tokens", Type::kCounter, "Prompt tokens of successful requests.", "",
         [](const RunMetrics& m) { return Series{{{}, m.prompt_tokens_}}; });
  family("ib_completion_tokens", Type::kCounter, "Completion tokens of successful requests.", "",
         [](const RunMetrics& m) { return Series{{{}, m.completion_tokens_}}; });
  family("ib_client_degraded_requests", Type::kCounter,
         "Requests measured while ib-load fell behind (client_degraded).", "",
         [](const RunMetrics& m) { return Series{{{}, static_cast<double>(m.degraded_requests_)}}; });
  histogram("ib_send_lag_seconds", "Open-loop schedules: actual minus intended send time of each request.",
            &RunMetrics::send_lag_);
  family("ib_client_cpu_seconds", Type::kCounter,
         "CPU time ib-load used for the iteration (reported when the iteration ends).", "seconds",
         [&](const RunMetrics& m) { return one(m.client_cpu_s_); });
  family("ib_client_max_rss_bytes", Type::kGauge, "ib-load's peak resident memory (at the iteration's end).",
         "bytes", [&](const RunMetrics& m) {
           return one(m.client_max_rss_mb_ ? std::optional<double>(*m.client_max_rss_mb_ * 1048576) : std::nullopt);
         });
  family("ib_client_loop_stalls", Type::kCounter,
         "ib-load event-loop passes that took too long (at the iteration's end).", "",
         [&](const RunMetrics& m) { return one(m.client_loop_stalls_); });
  family("ib_run_phase", Type::kGauge, "1 for the run's current phase, 0 for the others.", "",
         [](const RunMetrics& m) {
           Series s;
           if (m.phase_.empty()) return s;
           for (const char* p : kPhases) s.push_back({{{"phase", p}}, m.phase_ == p ? 1.0 : 0.0});
           return s;
         });
  family("ib_sweep_iteration", Type::kGauge, "The sweep iteration (1-based) this run is.", "",
         [&](const RunMetrics& m) { return one(m.iteration_); });
  family("ib_sweep_iterations", Type::kGauge, "Iterations in the sweep.", "",
         [&](const RunMetrics& m) { return one(m.iterations_); });
  family("ib_sweep_value", Type::kGauge, "The swept parameters' values for this iteration.", "",
         [](const RunMetrics& m) {
           Series s;
           for (const auto& [k, v] : m.params_) s.push_back({{{"param", k}}, v});
           return s;
         });
  family("ib_planned_requests", Type::kGauge, "Requests the workload plans to send (warmup excluded).", "",
         [&](const RunMetrics& m) { return one(m.planned_requests_); });
  family("ib_offered_concurrency", Type::kGauge, "The workload's concurrency (offered load).", "",
         [&](const RunMetrics& m) { return one(m.offered_concurrency_); });
  family("ib_offered_request_rate", Type::kGauge, "The workload's open-loop request rate per second (offered load).",
         "", [&](const RunMetrics& m) { return one(m.offered_request_rate_); });

  // The latest gpu_sample (ib-scrape), re-exported under ib's names.
  using Field = std::optional<double> events::GpuSample::*;
  auto gpu = [&](const char* name, Type type, const char* help, const char* unit, Field field,
                 double divisor = 1) {
    family(name, type, help, unit, [&, field, divisor](const RunMetrics& m) {
      if (!m.gpu_ || !(*m.gpu_.*field)) return Series{};
      return Series{{{}, *(*m.gpu_.*field) / divisor}};
    });
  };
  using S = events::GpuSample;
  gpu("ib_server_kv_cache_usage_ratio", Type::kGauge, "Server KV-cache usage, 0..1 (last scrape).", "",
      &S::kv_cache_usage_frac);
  gpu("ib_server_running_requests", Type::kGauge, "Requests the server is running (last scrape).", "",
      &S::running_requests);
  gpu("ib_server_waiting_requests", Type::kGauge, "Requests waiting in the server's queue (last scrape).", "",
      &S::waiting_requests);
  gpu("ib_server_prefix_cache_hit_ratio", Type::kGauge, "Server prefix-cache hit rate over the run so far, 0..1.",
      "", &S::prefix_cache_hit_rate_frac);
  gpu("ib_server_generation_tokens_per_second", Type::kGauge,
      "Server generation throughput between the last two scrapes.", "", &S::generation_tokens_per_s);
  gpu("ib_server_prompt_tokens_per_second", Type::kGauge, "Server prompt throughput between the last two scrapes.",
      "", &S::prompt_tokens_per_s);
  gpu("ib_server_prompt_tokens", Type::kCounter, "Server prompt tokens since the run's first scrape.", "",
      &S::prompt_tokens_total);
  gpu("ib_server_generation_tokens", Type::kCounter, "Server generation tokens since the run's first scrape.", "",
      &S::generation_tokens_total);
  gpu("ib_server_prefix_cache_hits", Type::kCounter, "Server prefix-cache hits since the run's first scrape.", "",
      &S::prefix_cache_hits_total);
  gpu("ib_server_prefix_cache_queries", Type::kCounter, "Server prefix-cache queries since the run's first scrape.",
      "", &S::prefix_cache_queries_total);
  gpu("ib_server_preemptions", Type::kCounter, "Server preemptions since the run's first scrape.", "",
      &S::preemptions_total);
  gpu("ib_server_scrape_duration_seconds", Type::kGauge, "How long ib-scrape's last GET /metrics took.", "seconds",
      &S::scrape_ms, 1000);
}

// ---- Live ----

namespace {
bool StartsRun(const events::Event& e) {
  if (const auto* p = std::get_if<events::Phase>(&e)) {
    return p->phase == events::phase::kProvisioning || p->phase == events::phase::kModelLoading ||
           p->phase == events::phase::kSweepIteration || p->phase == events::phase::kExecution;
  }
  return std::holds_alternative<events::RequestComplete>(e) || std::holds_alternative<events::GpuSample>(e);
}
}  // namespace

void LiveMetrics::Add(const events::Event& event) {
  const std::string& id = events::RunId(event);
  if (id.empty()) return;
  std::lock_guard lock(mu_);
  if (current_ && current_->run_id() == id) {
    current_->Add(event);
    return;
  }
  if (!StartsRun(event)) return;
  if (std::find(previous_.begin(), previous_.end(), id) != previous_.end()) return;
  if (current_) {
    previous_.push_back(current_->run_id());
    if (previous_.size() > 256) previous_.pop_front();
  }
  current_.emplace(id);
  current_->Add(event);
}

std::string LiveMetrics::Page(Format format) const {
  Writer w(format);
  {
    std::lock_guard lock(mu_);
    if (current_) WritePoints(w, {{&*current_, std::nullopt}});
  }
  return std::move(w).Finish();
}

// ---- Export ----

bool ExportRun(const json& results, double step_s, std::string* out, std::string* error) {
  std::string run_id = Str(results, "run_id");
  const json& meta = Obj(results, "metadata");
  auto origin_ms = results::ParseIsoMs(Str(meta, "clock_origin"));
  if (!origin_ms) {
    *error = "the results file has no metadata.clock_origin (a file of the original tool, or a "
             "run without requests): its run clock cannot be placed in time";
    return false;
  }
  // Requests and samples as events, through lib/events' own parser.
  std::vector<events::RequestComplete> requests;
  for (const char* key : {"warmup_requests", "requests"}) {
    if (!results.contains(key) || !results[key].is_array()) continue;
    for (const json& item : results[key]) {
      json line = {{"v", events::kStreamVersion}, {"type", "request_complete"}, {"run_id", run_id}, {"data", item}};
      auto parsed = events::EventFromJson(line);
      if (!parsed.event) {
        *error = std::string(key) + ": " + parsed.error;
        return false;
      }
      requests.push_back(std::get<events::RequestComplete>(*parsed.event));
    }
  }
  std::vector<events::GpuSample> samples;
  const json& gpu = Obj(results, "gpu_metrics");
  if (gpu.contains("time_series") && gpu["time_series"].is_array()) {
    for (const json& t : gpu["time_series"]) {
      events::GpuSample s;  // time_series keeps the original tool's names (docs/results-format.md)
      s.run_id = run_id;
      s.t_s = Num(t, "timestamp").value_or(0);
      s.kv_cache_usage_frac = Num(t, "kv_cache_usage");
      s.running_requests = Num(t, "active_requests");
      s.waiting_requests = Num(t, "queued_requests");
      s.prefix_cache_hit_rate_frac = Num(t, "prefix_cache_hit_rate");
      s.generation_tokens_per_s = Num(t, "generation_throughput");
      s.prompt_tokens_per_s = Num(t, "prompt_throughput");
      s.prompt_tokens_total = Num(t, "prompt_tokens_total");
      s.generation_tokens_total = Num(t, "generation_tokens_total");
      s.prefix_cache_hits_total = Num(t, "prefix_cache_hits_total");
      s.prefix_cache_queries_total = Num(t, "prefix_cache_queries_total");
      s.preemptions_total = Num(t, "preemptions_total");
      s.scrape_ms = Num(t, "scrape_ms");
      samples.push_back(s);
    }
  }
  if (requests.empty() && samples.empty()) {
    *error = "the results file holds no requests and no GPU samples";
    return false;
  }
  std::sort(requests.begin(), requests.end(),
            [](const auto& a, const auto& b) { return a.end_ms < b.end_ms; });
  std::stable_sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) { return a.t_s < b.t_s; });

  // The run's window on its own clock, in seconds.
  double begin = INFINITY, end = -INFINITY;
  for (const auto& r : requests) begin = std::min(begin, r.start_ms / 1000), end = std::max(end, r.end_ms / 1000);
  for (const auto& s : samples) begin = std::min(begin, s.t_s), end = std::max(end, s.t_s);
  double step = step_s > 0 ? step_s : std::max(1.0, std::ceil((end - begin) / 3600));

  // The execution phase the file stands for: labels, sweep position, offered load.
  RunMetrics m(run_id);
  events::Execution execution;
  if (meta.is_object()) execution.metadata = meta;
  if (const json& e = Obj(results, "experiment"); e.is_object()) execution.experiment = e;
  if (auto v = Num(meta, "iteration")) execution.iteration = static_cast<int>(*v);
  if (auto v = Num(meta, "total_iterations")) execution.total = static_cast<int>(*v);
  if (auto v = Num(meta, "planned_requests")) execution.total_requests = static_cast<int64_t>(*v);
  if (const json& params = Obj(meta, "params"); params.is_object()) execution.params = params;
  m.Add(events::Phase{run_id, events::phase::kExecution, events::ToJson(execution)});

  std::vector<RunMetrics> snapshots;
  std::vector<double> times;
  std::size_t ri = 0, si = 0;
  auto advance = [&](double t) {
    while (ri < requests.size() && requests[ri].end_ms / 1000 <= t) m.Add(requests[ri++]);
    while (si < samples.size() && samples[si].t_s <= t) m.Add(samples[si++]);
  };
  // Grid points, then the end itself (a point within 1 ms of it would repeat its timestamp).
  for (double t = begin; t < end - 0.001; t += step) {
    advance(t);
    snapshots.push_back(m);
    times.push_back(t);
  }
  advance(INFINITY);
  std::string status = Str(results, "status");
  m.SetPhase(status == "failed" ? events::phase::kFailed : events::phase::kIterationDone);
  snapshots.push_back(m);
  times.push_back(end);

  std::vector<Point> points;
  for (std::size_t i = 0; i < snapshots.size(); ++i)
    points.push_back({&snapshots[i], static_cast<double>(*origin_ms) / 1000 + times[i]});
  Writer w(Format::kOpenMetrics);
  WritePoints(w, points);
  *out = std::move(w).Finish();
  return true;
}

}  // namespace ib::openmetrics
