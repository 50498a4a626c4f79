#include "lib/orchestrate/early_stop.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

#include "lib/stats/stats.h"

namespace ib::orchestrate {
namespace {

config::ExperimentConfig::Workload::Search Search(const std::string& percentile, double bound) {
  config::ExperimentConfig::Workload::Search s;
  s.over = "request_rate";
  s.slo.push_back({"ttft_ms", percentile, bound});
  return s;
}

events::RequestComplete Request(double ttft, bool failed = false) {
  events::RequestComplete r;
  r.ttft_ms = ttft;
  if (failed) r.error = "boom";
  return r;
}

// The rule is a proof: with exactly OverBoundNeeded values above the bound and the rest as low
// as possible, the final interpolated percentile (lib/stats) is above the bound; with one fewer
// it can stay at or below it.
TEST(EarlyStop, OverBoundNeededIsTightForTheInterpolatedPercentile) {
  for (int64_t n : {20, 37, 100, 101, 500}) {
    for (double q : {0.5, 0.9, 0.95, 0.99}) {
      int64_t k = EarlyStop::OverBoundNeeded(n, q);
      auto percentile = [&](int64_t over) {
        std::vector<double> v(n, 0.0);
        for (int64_t i = 0; i < over; ++i) v[i] = 500 + 1e-6;  // barely over
        std::sort(v.begin(), v.end());
        return stats::PercentileOfSorted(v, q * 100);
      };
      EXPECT_GT(percentile(k), 500) << n << " " << q;
      EXPECT_LE(percentile(k - 1), 500) << n << " " << q;
    }
  }
}

TEST(EarlyStop, StopsOnceP99IsCertainlyOverTheBound) {
  auto s = Search("p99", 500);
  EarlyStop check(s, 100);  // p99 of 100: 2 values over the bound decide it
  EXPECT_EQ(EarlyStop::OverBoundNeeded(100, 0.99), 2);
  EXPECT_FALSE(check.Add(Request(900)));
  EXPECT_FALSE(check.Add(Request(900)));  // decided, but fewer than 20 samples
  for (int i = 0; i < 17; ++i) EXPECT_FALSE(check.Add(Request(100)));
  EXPECT_TRUE(check.Add(Request(100)));  // the 20th
  const auto& f = check.Finding();
  EXPECT_EQ(f["reason"], "slo");
  EXPECT_EQ(f["metric"], "ttft_ms");
  EXPECT_EQ(f["percentile"], "p99");
  EXPECT_EQ(f["over_bound"], 2);
  EXPECT_EQ(f["completed"], 20);
  EXPECT_EQ(f["planned"], 100);
}

TEST(EarlyStop, APassingProbeNeverStops) {
  auto s = Search("p99", 500);
  EarlyStop check(s, 100);
  EXPECT_FALSE(check.Add(Request(900)));  // one over: the final p99 may still pass
  for (int i = 0; i < 99; ++i) EXPECT_FALSE(check.Add(Request(100)));
  EXPECT_TRUE(check.Finding().is_null());
}

TEST(EarlyStop, MeanAndFailures) {
  auto s = Search("mean", 100);
  EarlyStop mean(s, 40);  // bound x planned = 4000
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(mean.Add(Request(200)));  // 3800
  EXPECT_TRUE(mean.Add(Request(201)));                                // 4001 > 4000
  EXPECT_EQ(mean.Finding()["reason"], "slo_mean");

  auto p = Search("p50", 1e9);
  EarlyStop failures(p, 100);  // more than 1 failed request of 100 fails the probe
  EXPECT_FALSE(failures.Add(Request(0, true)));
  for (int i = 0; i < 18; ++i) EXPECT_FALSE(failures.Add(Request(1)));
  EXPECT_FALSE(failures.Add(Request(1)));  // 20 samples, 1 failure: not more than 1 %
  EXPECT_TRUE(failures.Add(Request(0, true)));
  EXPECT_EQ(failures.Finding()["reason"], "failures");
  EXPECT_EQ(failures.Finding()["failed"], 2);

  EarlyStop last(s, 20);  // decided only by the last request: nothing left to save
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(last.Add(Request(1000)));

  EarlyStop off(p, 0);  // unknown planned count: never
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(off.Add(Request(0, true)));
}

}  // namespace
}  // namespace ib::orchestrate
