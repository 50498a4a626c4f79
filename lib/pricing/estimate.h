// What a whole experiment will cost before it runs, for `ib-run --dry-run` and the cost prompt.
// Time = one model load (pod start, image pull, weights download and load: a guess) + for each
// sweep iteration, its requests (warmup included) at a guessed per-stream speed, run
// `concurrency` (or `batch_size`) at a time, or at `request_rate` for open-loop runs.
// The original tool priced one hour of the GPU instead; it asked for confirmation at or above
// $0.50 (kConfirmThresholdUsd), and so does ib-run unless --confirm (never with --server-url or
// provider: local, which cost nothing here).
//
//   auto estimate = ib::pricing::EstimateCost(config, *table);
//   std::cout << estimate.Describe() << "\n";
//   if (estimate.needs_confirmation && !confirm) { ...ask... }
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/config/config.h"
#include "lib/pricing/pricing.h"

namespace ib::pricing {

inline constexpr double kConfirmThresholdUsd = 0.50;

struct EstimateOptions {
  double model_load_s = 600;        // pod start + image pull + download + load; 0 for local
  double output_tokens_per_s = 40;  // decode speed of one stream
  double ttft_s = 0.5;              // time to the first token of one request
};

struct CostEstimate {
  std::string gpu_type;
  int64_t gpu_count = 1;
  std::string cloud_type;
  std::optional<double> hourly_usd;  // nullopt: GPU not in the table; 0 for provider local
  double load_s = 0;
  double run_s = 0;  // all iterations' requests
  double total_s = 0;
  int iterations = 1;
  int64_t total_requests = 0;        // across iterations, warmup included
  std::optional<double> total_usd;   // nullopt when the rate is unknown
  bool needs_confirmation = false;   // total_usd >= kConfirmThresholdUsd
  // "~$0.42: A100-80GB x1 (community) at $1.99/hr for ~12.7 min (10.0 min model load + 2.7 min
  // for 150 requests in 3 iterations)"
  std::string Describe() const;
};

CostEstimate EstimateCost(const ib::config::ExperimentConfig& config, const PricingTable& table,
                          const EstimateOptions& options = {});

// Seconds one iteration's requests take under the guesses above.
double IterationSeconds(const ib::config::ExperimentConfig& config, const EstimateOptions& options);

}  // namespace ib::pricing
