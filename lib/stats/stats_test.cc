#include "lib/stats/stats.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace ib::stats {
namespace {

std::vector<double> OneToHundred() {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  return v;
}

TEST(Stats, MatchesTheOriginalToolsAnchors) {
  auto d = Describe(OneToHundred(), {50, 95, 99});
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ(*d->Percentile(50), 50.5);
  EXPECT_DOUBLE_EQ(*d->Percentile(95), 95.05);
  EXPECT_DOUBLE_EQ(*d->Percentile(99), 99.01);
  EXPECT_DOUBLE_EQ(d->mean, 50.5);
  EXPECT_EQ(d->min, 1);
  EXPECT_EQ(d->max, 100);
  EXPECT_EQ(d->count, 100);
  auto pair = Describe({20, 10}, {50});
  EXPECT_DOUBLE_EQ(*pair->Percentile(50), 15);
}

TEST(Stats, SingleValueIsReturnedAsIs) {
  auto d = Describe({42.5}, {50, 99});
  ASSERT_TRUE(d);
  EXPECT_EQ(*d->Percentile(50), 42.5);
  EXPECT_EQ(*d->Percentile(99), 42.5);
  EXPECT_EQ(d->std, 0);
}

TEST(Stats, EmptyAndAllNonFiniteGiveNothing) {
  EXPECT_FALSE(Describe({}, {50}));
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(Describe({nan, inf, -inf}, {50}));
  auto d = Describe({nan, 1, 3, inf}, {50});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->count, 2);
  EXPECT_EQ(*d->Percentile(50), 2);
}

TEST(Stats, PopulationStandardDeviationLikeNumpy) {
  auto d = Describe({2, 4, 4, 4, 5, 5, 7, 9}, {});
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ(d->std, 2.0);
  EXPECT_DOUBLE_EQ(d->mean, 5.0);
}

TEST(Stats, ExtremesAndClampedPercentiles) {
  std::vector<double> sorted = {1, 2, 3, 4};
  EXPECT_EQ(PercentileOfSorted(sorted, 0), 1);
  EXPECT_EQ(PercentileOfSorted(sorted, 100), 4);
  EXPECT_EQ(PercentileOfSorted(sorted, -5), 1);
  EXPECT_EQ(PercentileOfSorted(sorted, 250), 4);
  EXPECT_DOUBLE_EQ(PercentileOfSorted(sorted, 90), 3.7);  // numpy.percentile([1,2,3,4], 90)
  EXPECT_FALSE(Describe({1, 2}, {50})->Percentile(90));
}

TEST(Stats, PercentileKeys) {
  EXPECT_EQ(PercentileKey(50), "p50");
  EXPECT_EQ(PercentileKey(99.9), "p99.9");
}

}  // namespace
}  // namespace ib::stats

// Hand-computed: 10, 12, 14 -> mean 12, s = sqrt((4 + 0 + 4) / 2) = 2, half = 4.303 * 2 / sqrt(3).
TEST(Stats, MeanWithCi95UsesSampleStddevAndStudentT) {
  auto m = ib::stats::MeanWithCi95({10, 12, 14});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->n, 3);
  EXPECT_DOUBLE_EQ(m->mean, 12);
  EXPECT_DOUBLE_EQ(*m->stddev, 2);
  EXPECT_NEAR(*m->half_width, 4.303 * 2 / std::sqrt(3.0), 1e-12);
  auto one = ib::stats::MeanWithCi95({5, NAN});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->n, 1);
  EXPECT_FALSE(one->stddev.has_value());
  EXPECT_FALSE(one->half_width.has_value());
  EXPECT_FALSE(ib::stats::MeanWithCi95({}).has_value());
  EXPECT_DOUBLE_EQ(ib::stats::StudentT975(1), 12.706);
  EXPECT_DOUBLE_EQ(ib::stats::StudentT975(100), 1.960);
}
