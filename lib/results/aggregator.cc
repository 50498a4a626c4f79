#include "lib/results/aggregator.h"

#include "lib/stats/slo_metrics.h"

#include <algorithm>
#include <cmath>

#include "lib/results/clock.h"
#include "lib/results/server_view.h"
#include "lib/stats/stats.h"

namespace ib::results {
namespace {

using nlohmann::json;

std::optional<double> NumberAt(const json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::string StringAt(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& At(const json& obj, const char* key) {
  static const json kNull = nullptr;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

template <typename T>
json OptJson(const std::optional<T>& v) { return v ? json(*v) : json(nullptr); }

// {p50, p95, p99, mean, min, max} (the original keys) + std, count and every requested pNN.
json Block(std::vector<double> values, const std::vector<double>& percentiles) {
  std::vector<double> asked = percentiles;
  for (double p : {50.0, 95.0, 99.0}) {
    if (std::find(asked.begin(), asked.end(), p) == asked.end()) asked.push_back(p);
  }
  auto d = stats::Describe(std::move(values), asked);
  if (!d) return nullptr;
  json b = json::object();
  for (const auto& [p, v] : d->percentiles) b[stats::PercentileKey(p)] = v;
  b["mean"] = d->mean;
  b["min"] = d->min;
  b["max"] = d->max;
  b["std"] = d->std;
  b["count"] = d->count;
  return b;
}



using SampleField = std::optional<double> events::GpuSample::*;

struct Series {
  std::optional<double> peak, mean, first, last, first_t, last_t;
};

Series Scan(const std::vector<events::GpuSample>& samples, SampleField field) {
  Series s;
  double sum = 0;
  int64_t n = 0;
  for (const auto& sample : samples) {
    const auto& v = sample.*field;
    if (!v || !std::isfinite(*v)) continue;
    if (!s.first) {
      s.first = *v;
      s.first_t = sample.t_s;
    }
    s.last = *v;
    s.last_t = sample.t_s;
    s.peak = s.peak ? std::max(*s.peak, *v) : *v;
    sum += *v;
    ++n;
  }
  if (n > 0) s.mean = sum / static_cast<double>(n);
  return s;
}

std::optional<double> Delta(const Series& s) {
  if (!s.first || !s.last) return std::nullopt;
  return *s.last - *s.first;
}

// A counter's rate over the run, else the mean of the per-sample rate.
std::optional<double> RunRate(const std::vector<events::GpuSample>& samples, SampleField total,
                              SampleField per_s) {
  Series t = Scan(samples, total);
  if (t.first && t.last && *t.last_t > *t.first_t) {
    return (*t.last - *t.first) / (*t.last_t - *t.first_t);
  }
  return Scan(samples, per_s).mean;
}

json GpuSummary(const std::vector<events::GpuSample>& samples, int64_t scrape_errors) {
  using S = events::GpuSample;
  Series kv = Scan(samples, &S::kv_cache_usage_frac);
  Series running = Scan(samples, &S::running_requests);
  Series waiting = Scan(samples, &S::waiting_requests);
  json g = json::object();
  g["kv_cache_usage_peak"] = OptJson(kv.peak);
  g["kv_cache_usage_mean"] = OptJson(kv.mean);
  g["active_requests_peak"] = OptJson(running.peak);
  g["active_requests_mean"] = OptJson(running.mean);
  g["queued_requests_peak"] = OptJson(waiting.peak);
  g["queued_requests_mean"] = OptJson(waiting.mean);
  // Per run: counter deltas over this run's samples, not the server's lifetime ratio.
  auto hits = Delta(Scan(samples, &S::prefix_cache_hits_total));
  auto queries = Delta(Scan(samples, &S::prefix_cache_queries_total));
  std::optional<double> hit_rate;
  if (hits && queries && *queries > 0) {
    hit_rate = *hits / *queries;
  } else {
    hit_rate = Scan(samples, &S::prefix_cache_hit_rate_frac).mean;
  }
  g["prefix_cache_hit_rate"] = OptJson(hit_rate);
  g["generation_throughput"] =
      OptJson(RunRate(samples, &S::generation_tokens_total, &S::generation_tokens_per_s));
  g["prompt_throughput"] =
      OptJson(RunRate(samples, &S::prompt_tokens_total, &S::prompt_tokens_per_s));
  json counters = json::object();
  counters["prompt_tokens"] = OptJson(Delta(Scan(samples, &S::prompt_tokens_total)));
  counters["generation_tokens"] = OptJson(Delta(Scan(samples, &S::generation_tokens_total)));
  counters["prefix_cache_hits"] = OptJson(hits);
  counters["prefix_cache_queries"] = OptJson(queries);
  counters["preemptions"] = OptJson(Delta(Scan(samples, &S::preemptions_total)));
  g["server_counter_deltas"] = std::move(counters);
  g["total_samples"] = static_cast<int64_t>(samples.size());
  g["scrape_errors"] = scrape_errors;
  return g;
}


std::vector<double> PercentilesFrom(const json& metrics, const std::vector<double>& fallback) {
  const json& list = At(metrics, "percentiles");
  if (!list.is_array() || list.empty()) return fallback;
  std::vector<double> out;
  for (const auto& v : list) {
    if (v.is_number() && std::isfinite(v.get<double>())) out.push_back(v.get<double>());
  }
  return out.empty() ? fallback : out;
}

// Stable by request_index; sorts a permutation (not the big structs) and moves each once.
void SortByIndex(std::vector<events::RequestComplete>& list) {
  auto by_index = [](const events::RequestComplete& a, const events::RequestComplete& b) {
    return a.request_index < b.request_index;
  };
  if (std::is_sorted(list.begin(), list.end(), by_index)) return;
  std::vector<std::size_t> order(list.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return list[a].request_index < list[b].request_index;
  });
  std::vector<events::RequestComplete> sorted;
  sorted.reserve(list.size());
  for (std::size_t i : order) sorted.push_back(std::move(list[i]));
  list = std::move(sorted);
}

bool IsNormalEndReason(const std::string& reason) {
  // "finished" is what ib-load writes when its workload ran to the end.
  return reason.empty() || reason == "completed" || reason == "done" || reason == "finished" ||
         reason == "count" || reason == "duration";
}

}  // namespace

// A request's own value of an SLO metric (lib/stats/slo_metrics.h), by its summary block.
std::optional<double> PerRequestValue(const events::RequestComplete& r, const stats::SloMetric& m) {
  auto plus_queue = [&](const std::optional<double>& v) -> std::optional<double> {
    if (!v || !r.client_queue_ms) return std::nullopt;
    return *v + *r.client_queue_ms;
  };
  if (m.summary_block == "ttft") return r.ttft_ms;
  if (m.summary_block == "ttft_intended") return plus_queue(r.ttft_ms);
  if (m.summary_block == "tpot") return r.tpot_ms;
  if (m.summary_block == "e2e_latency") return r.e2e_latency_ms;
  if (m.summary_block == "e2e_intended") return plus_queue(r.e2e_latency_ms);
  return std::nullopt;
}

Slos SlosFrom(const json& metrics, const Slos& fallback) {
  const json& goodput = At(metrics, "goodput");
  if (!goodput.is_object()) return fallback;
  Slos s;
  for (auto it = goodput.begin(); it != goodput.end(); ++it) {
    const stats::SloMetric* m = stats::FindSloMetric(it.key());
    if (m == nullptr || !m->per_request || !it.value().is_number()) continue;
    s.limits.emplace_back(it.key(), it.value().get<double>());
  }
  return s;
}

bool MeetsSlos(const events::RequestComplete& r, const Slos& slos) {
  for (const auto& [name, limit] : slos.limits) {
    const stats::SloMetric* m = stats::FindSloMetric(name);
    if (m == nullptr || !m->per_request) continue;  // SlosFrom keeps none of these
    std::optional<double> v = PerRequestValue(r, *m);
    if (!v ? !m->absent_meets : *v > limit) return false;
  }
  return true;
}

json Summarize(const std::vector<events::RequestComplete>& requests,
               const std::vector<events::GpuSample>& samples, double duration_s,
               int64_t scrape_errors, const std::vector<double>& percentiles, const Slos& slos) {
  int64_t successful = 0, prompt_tokens = 0, completion_tokens = 0, good = 0, degraded = 0;
  std::vector<double> ttft, ttfc, e2e, tpot, itl, send_lag, client_queue, ttft_intended, e2e_intended;
  // Streams from before intended_ms existed carry no client_queue_ms: their summaries get no
  // *_intended blocks (and stay byte-identical).
  bool any_intended = false;
  // Per-token ITL (docs/metrics.md): each gap divided by the tokens its later event carried, once
  // per token. Only requests that carry itl_tokens (ib-load from this version on).
  std::vector<double> itl_per_token;
  bool any_per_token = false;
  json itl_sources = json::object();
  json errors = json::object();
  json sources = json::object();
  std::size_t itl_count = 0;
  for (const auto& r : requests) {
    if (!r.error) itl_count += r.inter_token_latencies_ms.size();
  }
  itl.reserve(itl_count);
  for (const auto& r : requests) {
    if (r.client_degraded) ++degraded;
    if (r.send_lag_ms) send_lag.push_back(*r.send_lag_ms);
    if (r.client_queue_ms) {
      any_intended = true;
      client_queue.push_back(*r.client_queue_ms);
    }
    if (r.error) {
      std::string kind = r.error_kind.value_or("other");
      errors[kind] = errors.value(kind, 0) + 1;
      continue;
    }
    ++successful;
    std::string source = r.token_count_source.empty() ? "unknown" : r.token_count_source;
    sources[source] = sources.value(source, 0) + 1;
    prompt_tokens += r.prompt_tokens.value_or(0);
    completion_tokens += r.completion_tokens.value_or(0);
    if (r.ttft_ms) ttft.push_back(*r.ttft_ms);
    if (r.ttfc_ms) ttfc.push_back(*r.ttfc_ms);
    if (r.e2e_latency_ms) e2e.push_back(*r.e2e_latency_ms);
    if (r.tpot_ms) tpot.push_back(*r.tpot_ms);
    if (r.client_queue_ms && r.ttft_ms) ttft_intended.push_back(*r.ttft_ms + *r.client_queue_ms);
    if (r.client_queue_ms && r.e2e_latency_ms) e2e_intended.push_back(*r.e2e_latency_ms + *r.client_queue_ms);
    itl.insert(itl.end(), r.inter_token_latencies_ms.begin(), r.inter_token_latencies_ms.end());
    if (r.itl_tokens && r.itl_tokens->size() == r.inter_token_latencies_ms.size()) {
      any_per_token = true;
      const std::string src = r.itl_token_source.value_or("unknown");
      itl_sources[src] = itl_sources.value(src, 0) + 1;
      ForEachPerTokenGap(r, [&](double gap_ms, int64_t tokens) { itl_per_token.insert(itl_per_token.end(), tokens, gap_ms); });
    }
    if (slos.any() && MeetsSlos(r, slos)) ++good;
  }
  auto total = static_cast<int64_t>(requests.size());
  auto per_s = [&](double n) { return duration_s > 0 ? n / duration_s : 0.0; };
  json s = json::object();
  s["total_requests"] = total;
  s["successful_requests"] = successful;
  s["failed_requests"] = total - successful;
  s["total_duration_s"] = duration_s;
  s["requests_per_second"] = per_s(static_cast<double>(successful));
  s["total_prompt_tokens"] = prompt_tokens;
  s["total_completion_tokens"] = completion_tokens;
  s["tokens_per_second"] = per_s(static_cast<double>(completion_tokens));
  s["total_tokens_per_second"] = per_s(static_cast<double>(prompt_tokens + completion_tokens));
  s["ttft"] = Block(std::move(ttft), percentiles);
  s["ttfc"] = Block(std::move(ttfc), percentiles);
  s["e2e_latency"] = Block(std::move(e2e), percentiles);
  s["tpot"] = Block(std::move(tpot), percentiles);
  s["itl"] = Block(std::move(itl), percentiles);
  s["tbt"] = s["itl"];  // the original tool's name for the pooled inter-token gaps
  if (any_per_token) s["itl_per_token"] = Block(std::move(itl_per_token), percentiles);
  if (any_intended) {
    s["ttft_intended"] = Block(std::move(ttft_intended), percentiles);
    s["e2e_intended"] = Block(std::move(e2e_intended), percentiles);
  }
  s["errors_by_reason"] = std::move(errors);
  if (slos.any()) {
    json slo = json::object();
    for (const auto& [name, limit] : slos.limits) slo[name] = limit;
    s["goodput"] = {{"slos", slo},
                    {"good_requests", good},
                    {"requests_per_second", per_s(static_cast<double>(good))},
                    {"fraction", total > 0 ? static_cast<double>(good) / total : 0.0}};
  } else {
    s["goodput"] = nullptr;
  }
  s["client"] = {{"degraded_requests", degraded},
                 {"send_lag_ms", Block(std::move(send_lag), percentiles)},
                 {"token_count_source", sources}};
  if (any_intended) s["client"]["client_queue_ms"] = Block(std::move(client_queue), percentiles);
  if (any_per_token) s["client"]["itl_token_source"] = std::move(itl_sources);
  s["percentiles"] = percentiles;
  s["gpu_summary"] = samples.empty() ? json(nullptr) : GpuSummary(samples, scrape_errors);
  AddServerView(samples, s);
  return s;
}

events::Summary SavedRunSummary(const RunRecord& run, std::string event_run_id, const std::string& path) {
  events::SummaryData data;
  std::string error;
  events::FromJson(run.summary, &data, &error);  // Summarize made it: it fits
  data.result_path = path;
  data.results_run_id = run.run_id;
  data.status = run.status;
  if (!run.stop_reason.empty()) data.stop_reason = run.stop_reason;
  return events::Summary{std::move(event_run_id), events::ToJson(data)};
}

RunAccumulator::RunAccumulator(std::string run_id)
    : run_id_(std::move(run_id)), first_seen_(events::NowIso8601()) {}

void RunAccumulator::AddPhase(const events::Phase& phase) {
  if (phase.phase == events::phase::kExecution) {
    saw_execution_ = true;
    execution_ = events::ExecutionOf(phase);
    // Growing a vector of a million requests moves each several times; size it once.
    if (auto planned = execution_.total_requests; planned && *planned > 0)
      requests_.reserve(static_cast<std::size_t>(std::min<int64_t>(*planned, 4'000'000)));
    return;
  }
  if (phase.phase == events::phase::kIterationDone || phase.phase == events::phase::kDone ||
      phase.phase == events::phase::kFailed) {
    if (end_phase_.empty()) {
      end_phase_ = phase.phase;
      end_ = phase.data;
      if (phase.phase == events::phase::kIterationDone) done_ = events::IterationDoneOf(phase);
    }
    return;
  }
  // provisioning_done (pod_id, cost_per_hr...), sweep_iteration (params)...: context for metadata.
  if (phase.data.is_object()) {
    for (auto it = phase.data.begin(); it != phase.data.end(); ++it) context_[it.key()] = it.value();
  }
}

bool RunAccumulator::Add(events::Event&& event) {
  if (auto* r = std::get_if<events::RequestComplete>(&event)) {
    r->run_id.clear();  // the run's id is kept once; this saves a heap string per request
    requests_.push_back(std::move(*r));
    return false;
  }
  if (auto* s = std::get_if<events::GpuSample>(&event)) {
    s->run_id.clear();
    samples_.push_back(std::move(*s));
    return false;
  }
  if (auto* p = std::get_if<events::Phase>(&event)) {
    bool was_open = end_phase_.empty();
    AddPhase(*p);
    return was_open && !end_phase_.empty();
  }
  if (auto* e = std::get_if<events::Error>(&event)) {
    if (e->source == "ib-scrape") ++scrape_errors_;
  } else if (auto* l = std::get_if<events::Log>(&event)) {
    if (l->scrape_stats && l->source == "ib-scrape") failed_scrapes_ = l->scrape_stats->failed;
  }
  return false;
}

RunRecord RunAccumulator::Finish(const AggregateOptions& options,
                                 const std::string& interrupted) && {
  RunRecord run;
  run.run_id = run_id_;
  const json experiment = execution_.experiment.value_or(json(nullptr));
  if (experiment.is_object()) run.experiment = experiment;
  const json& metrics = At(experiment, "metrics");
  run.output_dir_hint = StringAt(metrics, "output_dir");
  std::vector<double> percentiles = PercentilesFrom(metrics, options.percentiles);
  Slos slos = SlosFrom(metrics, options.slos);

  // Moving a million requests costs: move them only when warmup ones must be taken out.
  bool any_warmup = std::any_of(requests_.begin(), requests_.end(),
                                [](const events::RequestComplete& r) { return r.warmup; });
  if (any_warmup) {
    for (auto& r : requests_) (r.warmup ? run.warmup_requests : run.requests).push_back(std::move(r));
    requests_.clear();
    requests_.shrink_to_fit();
  } else {
    run.requests = std::move(requests_);
  }
  SortByIndex(run.requests);
  SortByIndex(run.warmup_requests);

  // The measured window: ib-load's own figure when it gave one, else first send -> last byte.
  double first_start = 0, last_end = 0;
  bool any = false;
  for (const auto& r : run.requests) {
    first_start = any ? std::min(first_start, r.start_ms) : r.start_ms;
    last_end = any ? std::max(last_end, r.end_ms) : r.end_ms;
    any = true;
  }
  std::optional<double> duration = done_ ? done_->duration_s : NumberAt(end_, "duration_s");
  if (!duration) duration = done_ ? done_->elapsed_s : NumberAt(end_, "elapsed_s");
  double duration_s = duration.value_or(any ? std::max(0.0, (last_end - first_start) / 1000.0) : 0);

  // Status.
  std::string reason = done_ ? done_->reason.value_or("") : StringAt(end_, "reason");
  // ib-load's completed is true/false; the plan's v1 streams counted the finished requests.
  const auto& completion = done_ ? done_->completed : std::nullopt;
  const bool not_completed = completion && std::holds_alternative<bool>(*completion) && !std::get<bool>(*completion);
  std::optional<int64_t> completed_count;
  if (completion && std::holds_alternative<int64_t>(*completion)) completed_count = std::get<int64_t>(*completion);
  if (!interrupted.empty()) {
    run.status = "partial";
    run.stop_reason = interrupted;
  } else if (end_phase_ == events::phase::kFailed) {
    run.status = "failed";
    run.stop_reason = !reason.empty() ? reason : StringAt(end_, "message");
    if (run.stop_reason.empty()) run.stop_reason = "the run failed";
  } else if (end_phase_ == events::phase::kIterationDone &&
             (!IsNormalEndReason(reason) || not_completed)) {
    run.status = "partial";
    run.stop_reason = reason;
  } else {
    run.status = "completed";
    auto completed = completed_count;
    auto planned = execution_.total_requests;
    if (completed && planned && *completed < *planned) {
      run.status = "partial";
      run.stop_reason = "ib-load finished " + std::to_string(static_cast<int64_t>(*completed)) +
                        " of " + std::to_string(static_cast<int64_t>(*planned)) + " requests";
    }
  }

  run.summary = Summarize(run.requests, samples_, duration_s, failed_scrapes(), percentiles, slos);
  run.summary["warmup_requests"] = static_cast<int64_t>(run.warmup_requests.size());

  // Metadata: ib-load's metadata first, then the execution phase (its typed field when it has
  // one, else a key it carried beside them), then the other phases.
  const json meta = execution_.metadata.value_or(json::object());
  auto pick = [&](const char* key, const json& typed = nullptr) -> json {
    for (const json* v : {&At(meta, key), &typed, &At(execution_.rest, key), &At(context_, key)}) {
      if (!v->is_null()) return *v;
    }
    return nullptr;
  };
  json m = json::object();
  m["experiment_name"] = experiment.contains("name") ? experiment["name"] : json(nullptr);
  // Wall clock of the run's clock origin, from any request that carries both clocks.
  std::optional<int64_t> origin_ms;
  for (const auto* list : {&run.requests, &run.warmup_requests}) {
    for (const auto& r : *list) {
      if (!r.started_at) continue;
      if (auto wall = ParseIsoMs(*r.started_at)) {
        origin_ms = *wall - static_cast<int64_t>(std::llround(r.start_ms));
        break;
      }
    }
    if (origin_ms) break;
  }
  if (origin_ms && any) {
    m["started_at"] = FormatIsoMs(*origin_ms + static_cast<int64_t>(std::llround(first_start)));
    m["finished_at"] = FormatIsoMs(*origin_ms + static_cast<int64_t>(std::llround(last_end)));
  } else {
    m["started_at"] = first_seen_;
    m["finished_at"] = events::NowIso8601();
  }
  m["server_url"] = pick("server_url", OptJson(execution_.server_url));
  for (const char* key : {"pod_id", "gpu_type", "gpu_count", "cost_per_hr"}) m[key] = pick(key);
  auto cost_per_hr = NumberAt(m, "cost_per_hr");
  m["cost_usd"] = cost_per_hr ? json(*cost_per_hr * duration_s / 3600.0) : json(nullptr);
  m["framework"] = pick("framework", OptJson(execution_.framework));
  if (m["framework"].is_null() && experiment.contains("framework")) m["framework"] = experiment["framework"];
  m["model"] = pick("model", OptJson(execution_.model));
  if (m["model"].is_null()) {
    const json& model = At(experiment, "model");
    if (model.is_object() && model.contains("name")) m["model"] = model["name"];
  }
  m["workload_type"] = pick("workload_type", OptJson(execution_.workload_type));
  m["planned_requests"] = pick("total_requests", OptJson(execution_.total_requests));
  m["iteration"] = pick("iteration", OptJson(execution_.iteration));
  m["total_iterations"] = pick("total", OptJson(execution_.total));
  m["params"] = pick("params", OptJson(execution_.params));
  if (!origin_ms) {
    // Without request wall clocks the run clock origin is unknown; say so rather than guess.
    m["clock_origin"] = nullptr;
  } else {
    m["clock_origin"] = FormatIsoMs(*origin_ms);
  }
  // Only in a resumed run's file (ib-run --resume): the partial run it continues.
  if (json resumed = pick("resumed_from"); !resumed.is_null()) m["resumed_from"] = resumed;
  // Only in a sharded run's file (ib-load --workers, Slurm, Kubernetes): how many shards, the
  // lost ones, the worst clock offset the collector measured (how far the common timeline can be
  // trusted) and the workers that were their own bottleneck.
  if (done_ && done_->shards) {
    json s = {{"count", *done_->shards},
              {"lost", OptJson(done_->lost_shards)},
              {"clock_offset_max_ms", OptJson(done_->clock_offset_max_ms)}};
    if (done_->client && done_->client->bottleneck_shards) s["bottleneck"] = *done_->client->bottleneck_shards;
    m["shards"] = std::move(s);
  }
  // Only in a search probe ib-run stopped early (phase early_stop, docs/results-format.md).
  if (json early = pick("early_stop"); !early.is_null()) m["early_stop"] = early;
  run.metadata = std::move(m);

  if (!samples_.empty()) {
    auto interval = NumberAt(metrics, "sample_interval_ms");
    run.gpu_metrics = {{"framework", run.metadata["framework"]},
                       {"sample_interval_ms", OptJson(interval)},
                       {"total_scrapes", static_cast<int64_t>(samples_.size()) + failed_scrapes()},
                       {"scrape_errors", failed_scrapes()}};
  }
  run.gpu_samples = std::move(samples_);
  events::ScrubNonFinite(run.summary);
  events::ScrubNonFinite(run.metadata);
  if (run.experiment.is_object()) events::ScrubNonFinite(run.experiment);
  return run;
}

std::vector<RunRecord> StreamAggregator::Add(events::Event&& event) {
  std::vector<RunRecord> done;
  std::string run_id = events::RunId(event);
  bool carries_data = std::holds_alternative<events::RequestComplete>(event) ||
                      std::holds_alternative<events::GpuSample>(event) ||
                      (std::holds_alternative<events::Phase>(event) &&
                       std::get<events::Phase>(event).phase == events::phase::kExecution);
  if (finished_.count(run_id)) {
    if (carries_data) ++late_events_;
    return done;
  }
  auto it = open_.find(run_id);
  if (it == open_.end()) {
    // Logs and errors without a run, or for a run we know nothing of, start nothing.
    if (!carries_data && !std::holds_alternative<events::Phase>(event)) return done;
    it = open_.emplace(run_id, RunAccumulator(run_id)).first;
  }
  if (it->second.Add(std::move(event))) {
    if (it->second.has_content()) done.push_back(std::move(it->second).Finish(options_));
    open_.erase(it);
    finished_.insert(run_id);
  }
  return done;
}

std::vector<RunRecord> StreamAggregator::Finish(const std::string& stop_reason) {
  std::vector<RunRecord> done;
  for (auto& [run_id, run] : open_) {
    if (run.has_content()) done.push_back(std::move(run).Finish(options_, stop_reason));
    finished_.insert(run_id);
  }
  open_.clear();
  return done;
}

}  // namespace ib::results
