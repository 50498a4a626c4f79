#include "lib/stats/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ib::stats {

double PercentileOfSorted(const std::vector<double>& sorted, double p) {
  if (sorted.size() == 1) return sorted[0];
  p = std::clamp(p, 0.0, 100.0);
  double index = p / 100.0 * static_cast<double>(sorted.size() - 1);
  auto lower = static_cast<std::size_t>(std::floor(index));
  std::size_t upper = std::min(lower + 1, sorted.size() - 1);
  double fraction = index - static_cast<double>(lower);
  // numpy's lerp form: exact at both ends and monotone.
  double a = sorted[lower], b = sorted[upper];
  return fraction >= 0.5 ? b - (b - a) * (1.0 - fraction) : a + (b - a) * fraction;
}

std::optional<double> Distribution::Percentile(double p) const {
  for (const auto& [q, v] : percentiles) {
    if (q == p) return v;
  }
  return std::nullopt;
}

std::optional<Distribution> Describe(std::vector<double> values,
                                     const std::vector<double>& percentiles) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
               values.end());
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  Distribution d;
  d.count = static_cast<int64_t>(values.size());
  d.min = values.front();
  d.max = values.back();
  // Two passes (mean, then squared deviations) keep std accurate for large, tight samples.
  double sum = 0;
  for (double v : values) sum += v;
  d.mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (double v : values) squares += (v - d.mean) * (v - d.mean);
  d.std = std::sqrt(squares / static_cast<double>(values.size()));
  for (double p : percentiles) d.percentiles.emplace_back(p, PercentileOfSorted(values, p));
  return d;
}

std::string PercentileKey(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p%g", p);
  return buf;
}

}  // namespace ib::stats
