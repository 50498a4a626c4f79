#include "lib/scrape/gpu_summary.h"

#include <algorithm>

namespace ib::scrape {
namespace {

struct PeakMean {
  double peak = 0, sum = 0;
  int64_t n = 0;
  void Add(const std::optional<double>& v) {
    if (!v) return;
    peak = n ? std::max(peak, *v) : *v;
    sum += *v;
    ++n;
  }
  std::optional<double> Peak() const { return n ? std::optional<double>(peak) : std::nullopt; }
  std::optional<double> Mean() const { return n ? std::optional<double>(sum / n) : std::nullopt; }
};

}  // namespace

GpuSummary SummarizeSamples(std::span<const events::GpuSample> samples) {
  GpuSummary out;
  out.samples = static_cast<int64_t>(samples.size());
  PeakMean kv, running, waiting, hit_gauge, gen_rate;
  const events::GpuSample* first_gen = nullptr;
  const events::GpuSample* last_gen = nullptr;
  const events::GpuSample* last_queries = nullptr;
  for (const events::GpuSample& s : samples) {
    kv.Add(s.kv_cache_usage_frac);
    running.Add(s.running_requests);
    waiting.Add(s.waiting_requests);
    hit_gauge.Add(s.prefix_cache_hit_rate_frac);
    gen_rate.Add(s.generation_tokens_per_s);
    if (s.generation_tokens_total) {
      if (!first_gen) first_gen = &s;
      last_gen = &s;
    }
    if (s.prefix_cache_queries_total && s.prefix_cache_hits_total) last_queries = &s;
    if (s.preemptions_total) out.preemptions_total = s.preemptions_total;
  }
  out.kv_cache_usage_peak_frac = kv.Peak();
  out.kv_cache_usage_mean_frac = kv.Mean();
  out.running_requests_peak = running.Peak();
  out.running_requests_mean = running.Mean();
  out.waiting_requests_peak = waiting.Peak();
  out.waiting_requests_mean = waiting.Mean();
  if (last_queries) {
    if (*last_queries->prefix_cache_queries_total > 0) {
      out.prefix_cache_hit_rate_frac =
          *last_queries->prefix_cache_hits_total / *last_queries->prefix_cache_queries_total;
    }
  } else {
    out.prefix_cache_hit_rate_frac = hit_gauge.Mean();
  }
  if (first_gen && last_gen != first_gen && last_gen->t_s > first_gen->t_s) {
    out.generation_tokens_per_s = (*last_gen->generation_tokens_total -
                                   *first_gen->generation_tokens_total) /
                                  (last_gen->t_s - first_gen->t_s);
  } else {
    out.generation_tokens_per_s = gen_rate.Mean();
  }
  return out;
}

}  // namespace ib::scrape
