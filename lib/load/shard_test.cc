#include "lib/load/shard.h"

#include <set>

#include <gtest/gtest.h>

#include "lib/load/schedule.h"

namespace ib::load {
namespace {

TEST(Shard, ParsesKOfN) {
  Shard s;
  std::string error;
  ASSERT_TRUE(ParseShard("3/4", &s, &error)) << error;
  EXPECT_EQ(s.k, 3);
  EXPECT_EQ(s.n, 4);
  EXPECT_TRUE(s.on());
  ASSERT_TRUE(ParseShard("0/1", &s, &error));
  EXPECT_FALSE(s.on());
  for (const char* bad : {"4/4", "1", "-1/4", "1/0", "a/b", "1/4x", "/4", ""}) {
    EXPECT_FALSE(ParseShard(bad, &s, &error)) << bad;
    EXPECT_NE(error.find("--shard takes K/N"), std::string::npos) << error;
  }
}

TEST(Shard, SharesAddUpAndDifferByAtMostOne) {
  for (int64_t n = 1; n <= 7; ++n) {
    for (int64_t total = 0; total <= 30; ++total) {
      int64_t sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        int64_t share = ShareOf(total, {k, n});
        EXPECT_TRUE(share == total / n || share == total / n + 1);
        // Exactly the number of i < total with i = k (mod n).
        int64_t expected = 0;
        for (int64_t i = k; i < total; i += n) ++expected;
        EXPECT_EQ(share, expected) << total << " " << k << "/" << n;
        sum += share;
      }
      EXPECT_EQ(sum, total);
    }
  }
  EXPECT_EQ(ShareOf(10, {0, 4}), 3);  // slots: floor(10/4) + 1 for K < 10 mod 4
  EXPECT_EQ(ShareOf(10, {2, 4}), 2);
}

// The merged arrivals of N shards are exactly the single-process schedule, each index once,
// for every arrival shape.
TEST(Shard, MergedSchedulesEqualTheWhole) {
  for (const char* arrival : {"constant", "poisson", "gamma"}) {
    ArrivalSpec spec{37.5, arrival, 0.4, 11};
    std::vector<double> whole = ArrivalOffsets(spec, 203, std::nullopt);
    ASSERT_EQ(whole.size(), 203u);
    for (int64_t n : {2, 3, 4, 7}) {
      std::vector<double> merged(whole.size(), -1);
      std::set<int64_t> seen;
      for (int64_t k = 0; k < n; ++k) {
        Shard s{k, n};
        std::vector<double> mine = TakeShard(whole, s);
        EXPECT_EQ(static_cast<int64_t>(mine.size()), ShareOf(203, s));
        for (std::size_t m = 0; m < mine.size(); ++m) {
          int64_t i = GlobalNumber(static_cast<int64_t>(m), s);
          EXPECT_TRUE(seen.insert(i).second) << "index " << i << " twice";
          merged[static_cast<std::size_t>(i)] = mine[m];
        }
      }
      EXPECT_EQ(merged, whole) << arrival << " N=" << n;
    }
  }
}

int64_t Mono() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A realtime instant read between two monotonic reads maps between them (1 ms allows for the
// clocks' slewing; no timing is assumed about how long the reads take).
TEST(Shard, MonotonicOfRealtimeMapsNowBetweenItsNeighbours) {
  int64_t before = Mono();
  int64_t real = RealtimeNs();
  int64_t mapped = MonotonicOfRealtime(real);
  int64_t after = Mono();
  EXPECT_GE(mapped, before - 1'000'000);
  EXPECT_LE(mapped, after + 1'000'000);
  int64_t later = MonotonicOfRealtime(real + 5'000'000'000);
  EXPECT_GE(later - mapped, 5'000'000'000 - 1'000'000 - (after - before));
  EXPECT_LE(later - mapped, 5'000'000'000 + 1'000'000 + (Mono() - before));
}

}  // namespace
}  // namespace ib::load
