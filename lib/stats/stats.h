// Descriptive statistics for latency samples, with the original tool's percentile rule.
//
//   std::vector<double> ttfts = ...;
//   if (auto d = ib::stats::Describe(ttfts, {50, 90, 95, 99})) use(d->mean, d->Percentile(99));
//
// Percentiles use numpy's default "linear" method (index = p/100 * (n-1), interpolating between
// the two neighbours), so 1..100 gives p50 = 50.5 and p95 = 95.05 as the original tool did.
// std is the population standard deviation (numpy's default ddof = 0, as vLLM reports it).
// Non-finite inputs are dropped, so a NaN never reaches a summary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ib::stats {

// p in [0, 100] over values sorted ascending (non-empty). Values outside [0, 100] are clamped.
double PercentileOfSorted(const std::vector<double>& sorted, double p);

struct Distribution {
  int64_t count = 0;
  double mean = 0;
  double std = 0;
  double min = 0;
  double max = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p, value) in the order asked
  // The value for p, or nullopt when p was not asked for.
  std::optional<double> Percentile(double p) const;
};

// Sorts `values` in place (taking it by value lets callers move big vectors in). nullopt when
// no finite value remains.
std::optional<Distribution> Describe(std::vector<double> values,
                                     const std::vector<double>& percentiles);

// A quantile estimated from histogram buckets (a server's /metrics), as Prometheus'
// histogram_quantile() does: the rank q * count falls in one bucket, and the value is linearly
// interpolated between that bucket's bounds (the first bucket's lower bound is 0: latencies are
// never negative). A rank in the +Inf bucket gives the highest finite bound (and hi = +Inf), so
// `hi - lo` is the estimate's resolution: the true quantile lies in [lo, hi].
struct BucketQuantile {
  double value = 0;
  double lo = 0;  // the bucket holding the quantile
  double hi = 0;
};
// le: finite upper bounds, ascending; counts: per bucket (not cumulative), le.size() + 1 entries,
// the last for +Inf. p in [0, 100]. nullopt when there are no observations or sizes disagree.
std::optional<BucketQuantile> HistogramQuantile(const std::vector<double>& le,
                                                const std::vector<double>& counts, double p);

// Repeats of one measurement (docs/metrics.md "Repeats"): the mean, the *sample* standard
// deviation (n - 1) and the half-width of the 95 % confidence interval of the mean,
// t(0.975, n - 1) * stddev / sqrt(n). With n = 1 stddev and half_width are nullopt.
struct MeanCi {
  int64_t n = 0;
  double mean = 0;
  std::optional<double> stddev;
  std::optional<double> half_width;
};
std::optional<MeanCi> MeanWithCi95(const std::vector<double>& values);
// The 0.975 quantile of Student's t with `df` degrees of freedom (table to 30, 1.960 beyond).
double StudentT975(int64_t df);

// "p50", "p99.9": the key a percentile gets in results files and summaries.
std::string PercentileKey(double p);

}  // namespace ib::stats
