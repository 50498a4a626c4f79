#include "lib/scrape/sample_builder.h"

#include <cmath>

namespace ib::scrape {

SampleBuilder::CounterDelta SampleBuilder::Advance(CounterRun& run, const CounterValue& counter,
                                                   double t_s, const char* name) {
  CounterDelta out;
  if (!counter.present()) return out;
  double increase = 0;
  for (std::size_t i = 0; i < counter.series.size(); ++i) {
    const std::string& key = counter.series.key(i);
    double value = counter.series.value(i);
    auto it = run.last.find(key);
    if (it == run.last.end()) {
      if (run.has_baseline) increase += value;  // a series born during the run started at 0
      run.last.emplace(key, value);
      continue;
    }
    if (value >= it->second) {
      increase += value - it->second;
    } else {
      increase += value;  // reset: counting restarted from 0
      ++resets_;
      if (!last_resets_.empty()) last_resets_ += "; ";
      last_resets_ += std::string(name) + (key.empty() ? "" : "{" + key + "}") + " went from " +
                      std::to_string(it->second) + " to " + std::to_string(value);
    }
    it->second = value;
  }
  if (!run.has_baseline) {
    run.has_baseline = true;
    run.last_t_s = t_s;
    out.total = 0;
    return out;
  }
  run.total += increase;
  out.total = run.total;
  double dt = t_s - run.last_t_s;
  if (dt > 0) out.per_s = increase / dt;
  run.last_t_s = t_s;
  return out;
}

events::GpuSample SampleBuilder::Build(const PageMetrics& page, double t_s,
                                       std::optional<double> scrape_ms) {
  last_resets_.clear();
  events::GpuSample s;
  s.run_id = run_id_;
  s.t_s = t_s;
  s.scrape_ms = scrape_ms;
  s.kv_cache_usage_frac = page.kv_cache_usage.Mean();
  s.running_requests = page.running.Sum();
  s.waiting_requests = page.waiting.Sum();

  CounterDelta prompt = Advance(prompt_, page.prompt_tokens, t_s, "prompt_tokens_total");
  CounterDelta generation =
      Advance(generation_, page.generation_tokens, t_s, "generation_tokens_total");
  CounterDelta hits = Advance(hits_, page.prefix_hits, t_s, "prefix_cache_hits_total");
  CounterDelta queries = Advance(queries_, page.prefix_queries, t_s, "prefix_cache_queries_total");
  CounterDelta preemptions = Advance(preemptions_, page.preemptions, t_s, "num_preemptions_total");

  s.prompt_tokens_total = prompt.total;
  s.generation_tokens_total = generation.total;
  s.prefix_cache_hits_total = hits.total;
  s.prefix_cache_queries_total = queries.total;
  s.preemptions_total = preemptions.total;

  s.prompt_tokens_per_s = prompt.total ? prompt.per_s : page.prompt_rate_gauge.Sum();
  s.generation_tokens_per_s =
      generation.total ? generation.per_s : page.generation_rate_gauge.Sum();

  if (hits.total && queries.total) {
    if (*queries.total > 0) s.prefix_cache_hit_rate_frac = *hits.total / *queries.total;
  } else {
    s.prefix_cache_hit_rate_frac = page.hit_rate_gauge.Mean();
  }
  return s;
}

}  // namespace ib::scrape
