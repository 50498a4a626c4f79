// A run's GPU-side summary from its gpu_sample events, for whoever writes results (ib-aggregate)
// or shows them (ib-dash). Nulls are skipped, never counted as zero.
//   prefix_cache_hit_rate_frac: from the last sample's run totals (Δhits / Δqueries) when the
//     server has the counters (vLLM V1), else the mean of the gauge samples (vLLM V0, SGLang);
//   generation_tokens_per_s: the run's generated tokens / the time between the first and last
//     samples that carry the counter, else the mean of the per-sample rates.
//
//   ib::scrape::GpuSummary s = ib::scrape::SummarizeSamples(samples);
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "lib/events/events.h"

namespace ib::scrape {

struct GpuSummary {
  int64_t samples = 0;
  std::optional<double> kv_cache_usage_peak_frac;
  std::optional<double> kv_cache_usage_mean_frac;
  std::optional<double> running_requests_peak;
  std::optional<double> running_requests_mean;
  std::optional<double> waiting_requests_peak;
  std::optional<double> waiting_requests_mean;
  std::optional<double> prefix_cache_hit_rate_frac;
  std::optional<double> generation_tokens_per_s;
  std::optional<double> preemptions_total;
};

GpuSummary SummarizeSamples(std::span<const events::GpuSample> samples);

}  // namespace ib::scrape
