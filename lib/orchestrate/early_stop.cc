#include "lib/orchestrate/early_stop.h"

#include <cmath>
#include <cstdlib>

#include "lib/results/aggregator.h"
#include "lib/stats/slo_metrics.h"

namespace ib::orchestrate {

int64_t EarlyStop::OverBoundNeeded(int64_t n, double q) {
  // Sorted ascending, index q(n-1) interpolates between floor and ceil of it; with k values
  // above the bound the top k indices n-k..n-1 are above, so floor(q(n-1)) >= n-k suffices.
  auto lower = static_cast<int64_t>(std::floor(q * static_cast<double>(n - 1)));
  return n - lower;
}

EarlyStop::EarlyStop(const config::ExperimentConfig::Workload::Search& search, int64_t planned)
    : planned_(planned) {
  for (const auto& slo : search.slo) {
    const stats::SloMetric* m = stats::FindSloMetric(slo.metric);
    if (m == nullptr || !m->per_request) continue;  // itl_ms is over gaps, not requests
    Bound b;
    b.slo = &slo;
    b.mean = slo.percentile == "mean";
    if (!b.mean) b.q = std::strtod(slo.percentile.c_str() + 1, nullptr) / 100.0;
    bounds_.push_back(b);
  }
}

bool EarlyStop::Add(const events::RequestComplete& r) {
  if (stopped()) return true;
  if (planned_ <= 0 || r.warmup) return false;
  ++completed_;
  if (r.error) {
    ++failed_;
  } else {
    for (auto& b : bounds_) {
      std::optional<double> v = results::PerRequestValue(r, *stats::FindSloMetric(b.slo->metric));
      if (!v) continue;
      b.sum += *v;
      if (*v > b.slo->bound_ms) ++b.over;
    }
  }
  // Too few samples, or nothing left to save (the workload is ending anyway).
  if (completed_ < kEarlyStopMinSamples || completed_ >= planned_) return false;
  auto find = [&](const char* reason, const Bound* b, int64_t over) {
    finding_ = {{"reason", reason},
                {"metric", b ? nlohmann::json(b->slo->metric) : nlohmann::json(nullptr)},
                {"percentile", b ? nlohmann::json(b->slo->percentile) : nlohmann::json(nullptr)},
                {"bound_ms", b ? nlohmann::json(b->slo->bound_ms) : nlohmann::json(nullptr)},
                {"over_bound", b ? nlohmann::json(over) : nlohmann::json(nullptr)},
                {"completed", completed_},
                {"failed", failed_},
                {"planned", planned_}};
  };
  // The probe fails when more than 1 % of its requests fail (Judge).
  if (static_cast<double>(failed_) > 0.01 * static_cast<double>(planned_)) {
    find("failures", nullptr, 0);
    return true;
  }
  for (const auto& b : bounds_) {
    // Values are >= 0, so the final mean over at most `planned` values is at least sum/planned.
    if (b.mean ? b.sum > b.slo->bound_ms * static_cast<double>(planned_) : b.over >= OverBoundNeeded(planned_, b.q)) {
      find(b.mean ? "slo_mean" : "slo", &b, b.over);
      return true;
    }
  }
  return false;
}

}  // namespace ib::orchestrate
