#include "lib/pricing/estimate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ib::pricing {

double IterationSeconds(const ib::config::ExperimentConfig& c, const EstimateOptions& o) {
  const auto& w = c.workload;
  double requests = static_cast<double>(c.TotalRequests() + std::max<int64_t>(0, w.warmup_requests));
  double per_request = o.ttft_s + static_cast<double>(w.parameters.max_tokens) / std::max(1e-9, o.output_tokens_per_s);
  double seconds;
  if (w.request_rate && *w.request_rate > 0) {
    seconds = requests / *w.request_rate + per_request;
  } else {
    int64_t parallel = 1;
    if (w.type == "batch" && w.batch_size) parallel = *w.batch_size;
    if ((w.type == "concurrent" || w.type == "multi_turn") && w.concurrency) parallel = *w.concurrency;
    parallel = std::max<int64_t>(1, parallel);
    if (w.type == "multi_turn" && w.conversation) {
      // Turns of one conversation run one after another.
      double conversations = static_cast<double>(w.requests.count);
      seconds = std::ceil(conversations / static_cast<double>(parallel)) *
                static_cast<double>(w.conversation->turns) * per_request;
    } else {
      seconds = std::ceil(requests / static_cast<double>(parallel)) * per_request;
    }
  }
  if (w.duration_s && *w.duration_s > 0) seconds = std::min(seconds, *w.duration_s + per_request);
  return seconds;
}

CostEstimate EstimateCost(const ib::config::ExperimentConfig& config, const PricingTable& table,
                          const EstimateOptions& options) {
  CostEstimate e;
  e.gpu_type = config.infrastructure.gpu_type;
  e.gpu_count = config.infrastructure.gpu_count;
  e.cloud_type = config.infrastructure.cloud_type;
  bool local = config.infrastructure.provider == "local";
  e.hourly_usd = local ? std::optional<double>(0.0)
                       : HourlyRate(table, e.gpu_type, e.gpu_count, e.cloud_type);
  e.load_s = local ? 0 : options.model_load_s;
  std::vector<ib::config::Iteration> iterations;
  if (const auto& search = config.workload.search) {
    // The gate needs an upper bound: every probe the search may run, each as long as the lowest
    // (for a count of requests, the lowest rate takes longest).
    double lowest = search->min.value_or(search->over == "concurrency" ? 1 : 0.5);
    for (int k = 1; k <= search->max_probes; ++k) iterations.push_back(ib::config::ProbeIteration(config, k, lowest));
  } else {
    iterations = ib::config::ExpandSweep(config);
  }
  e.iterations = static_cast<int>(iterations.size());
  for (const auto& it : iterations) {
    e.run_s += IterationSeconds(it.config, options);
    e.total_requests += it.config.TotalRequests() + std::max<int64_t>(0, it.config.workload.warmup_requests);
  }
  e.total_s = e.load_s + e.run_s;
  if (e.hourly_usd) {
    e.total_usd = *e.hourly_usd * e.total_s / 3600.0;
    e.needs_confirmation = *e.total_usd >= kConfirmThresholdUsd;
  }
  return e;
}

std::string CostEstimate::Describe() const {
  char buf[512];
  double minutes = total_s / 60;
  std::string runs = std::to_string(total_requests) + " requests" +
                     (iterations > 1 ? " in " + std::to_string(iterations) + " iterations" : "");
  if (hourly_usd && *hourly_usd == 0) {
    std::snprintf(buf, sizeof buf, "$0.00: no pod (local), ~%.1f min for %s", minutes, runs.c_str());
  } else if (!hourly_usd) {
    std::snprintf(buf, sizeof buf, "unknown: no price for %s (%s), ~%.1f min for %s", gpu_type.c_str(),
                  cloud_type.c_str(), minutes, runs.c_str());
  } else {
    std::snprintf(buf, sizeof buf, "~$%.2f: %s x%lld (%s) at $%.2f/hr for ~%.1f min (%.1f min model load + %.1f min for %s)",
                  *total_usd, gpu_type.c_str(), static_cast<long long>(gpu_count), cloud_type.c_str(),
                  *hourly_usd, minutes, load_s / 60, run_s / 60, runs.c_str());
  }
  return buf;
}

}  // namespace ib::pricing
