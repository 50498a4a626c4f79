#include "lib/stats/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

std::optional<BucketQuantile> HistogramQuantile(const std::vector<double>& le,
                                                const std::vector<double>& counts, double p) {
  if (counts.size() != le.size() + 1) return std::nullopt;
  double total = 0;
  for (double c : counts) total += std::max(0.0, c);
  if (!(total > 0)) return std::nullopt;
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * total;
  double below = 0;  // observations in the buckets before i
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double c = std::max(0.0, counts[i]);
    if (below + c < rank && i + 1 < counts.size()) {
      below += c;
      continue;
    }
    if (c == 0) continue;  // rank 0: the first bucket that holds anything
    const double lo = i == 0 ? 0.0 : le[i - 1];
    if (i == le.size()) return BucketQuantile{lo, lo, std::numeric_limits<double>::infinity()};
    const double hi = le[i];
    return BucketQuantile{lo + (hi - lo) * (rank - below) / c, lo, hi};
  }
  return std::nullopt;
}

double StudentT975(int64_t df) {
  // Two-sided 95 % critical values of Student's t, df = 1..30.
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return 0;
  if (df <= 30) return kTable[df - 1];
  return 1.960;
}

std::optional<MeanCi> MeanWithCi95(const std::vector<double>& values) {
  MeanCi out;
  double sum = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    sum += v;
    ++out.n;
  }
  if (out.n == 0) return std::nullopt;
  out.mean = sum / static_cast<double>(out.n);
  if (out.n < 2) return out;
  double ss = 0;
  for (double v : values) {
    if (std::isfinite(v)) ss += (v - out.mean) * (v - out.mean);
  }
  out.stddev = std::sqrt(ss / static_cast<double>(out.n - 1));
  out.half_width = StudentT975(out.n - 1) * *out.stddev / std::sqrt(static_cast<double>(out.n));
  return out;
}

}  // namespace ib::stats
