// Early stop of a capacity-search probe (docs/config.md "Capacity search"): fed the probe's
// finished requests, it says when the probe's verdict is already certain to be a fail, whatever
// its remaining requests measure, so ib-run can stop it and save pod time.
//
//   EarlyStop check(search, /*planned=*/200);
//   for each request_complete r of the probe:  if (check.Add(r)) { stop; check.Finding(); }
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/config/config.h"
#include "lib/events/events.h"

namespace ib::orchestrate {

// Requests that must have finished before a probe may stop early.
inline constexpr int64_t kEarlyStopMinSamples = 20;

class EarlyStop {
 public:
  // planned: the requests the probe sends (N); <= 0 disables the check.
  EarlyStop(const config::ExperimentConfig::Workload::Search& search, int64_t planned);

  // One finished request (warmup ones are ignored). True once the probe can no longer pass;
  // stays true.
  bool Add(const events::RequestComplete& r);
  bool stopped() const { return !finding_.is_null(); }
  // {reason, metric, percentile, bound_ms, over_bound, completed, failed, planned}; null while
  // the probe may still pass (docs/results-format.md metadata.early_stop).
  const nlohmann::json& Finding() const { return finding_; }

  // The least number of values above a bound, out of n, that puts the linear-interpolated
  // percentile q (0..1) above it: both neighbours of index q(n-1) must be above.
  static int64_t OverBoundNeeded(int64_t n, double q);

 private:
  struct Bound {
    const config::ExperimentConfig::Workload::Search::Slo* slo;
    bool mean = false;
    double q = 0;
    int64_t over = 0;
    double sum = 0;
  };
  int64_t planned_;
  int64_t completed_ = 0;
  int64_t failed_ = 0;
  std::vector<Bound> bounds_;
  nlohmann::json finding_ = nullptr;
};

}  // namespace ib::orchestrate
