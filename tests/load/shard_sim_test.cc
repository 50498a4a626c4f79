// The shard contract (lib/load/shard.h) with the real ib-load and ib-sim: N `--shard K/N`
// processes started together (--start-at) send together exactly what one process sends.
#include <time.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/load/tool_runner.h"
#include "tests/support/sim_process.h"

namespace ib::load {
namespace {

using testing::All;
using testing::ToolRun;

int64_t RealNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::vector<std::string> Base(const ib::testing::SimProcess& sim, std::vector<std::string> workload) {
  std::vector<std::string> args = {"--server-url", sim.base_url(), "--model", "Qwen/Qwen3-0.6B", "--max-tokens", "4"};
  args.insert(args.end(), workload.begin(), workload.end());
  return args;
}

// Runs N shards at once, all given the same start instant; returns each shard's run.
std::vector<ToolRun> RunShards(const std::vector<std::string>& args, int n) {
  std::vector<ToolRun> runs(static_cast<std::size_t>(n));
  // The start only has to be common; a shard that starts late shows it as send lag.
  const std::string start = std::to_string(RealNs() + 1'000'000'000);
  std::vector<std::thread> threads;
  for (int k = 0; k < n; ++k) {
    threads.emplace_back([&, k] {
      std::vector<std::string> a = args;
      a.insert(a.end(), {"--shard", std::to_string(k) + "/" + std::to_string(n), "--start-at", start});
      runs[static_cast<std::size_t>(k)] = testing::RunIbLoad(a);
    });
  }
  for (auto& t : threads) t.join();
  return runs;
}

std::map<int64_t, events::RequestComplete> Merge(const std::vector<ToolRun>& runs) {
  std::map<int64_t, events::RequestComplete> by_index;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    EXPECT_EQ(runs[k].exit_code, 0) << runs[k].stderr_text;
    for (const auto& r : All<events::RequestComplete>(runs[k])) {
      EXPECT_TRUE(by_index.emplace(r.request_index, r).second) << "request_index " << r.request_index << " twice";
      EXPECT_EQ(r.shard, static_cast<int>(k));
      EXPECT_FALSE(r.error.has_value()) << *r.error;
    }
  }
  return by_index;
}

TEST(ShardSim, FourRateShardsSendExactlyTheSingleProcessSchedule) {
  ib::testing::SimProcess sim({"--deterministic", "--ttft-ms", "5", "--itl-ms", "2"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  for (const char* arrival : {"poisson", "gamma"}) {
    auto args = Base(sim, {"--workload", "rate", "--request-rate", "60", "--arrival", arrival, "--burstiness", "0.5",
                           "--count", "42", "--seed", "7"});
    auto one_args = args;
    one_args.insert(one_args.end(), {"--start-at", std::to_string(RealNs())});
    ToolRun one = testing::RunIbLoad(one_args);
    ASSERT_EQ(one.exit_code, 0) << one.stderr_text;
    std::map<int64_t, double> single;
    for (const auto& r : All<events::RequestComplete>(one)) {
      ASSERT_TRUE(r.scheduled_ms.has_value());
      EXPECT_FALSE(r.shard.has_value()) << "shard only when sharded";
      single[r.request_index] = *r.scheduled_ms;
    }
    ASSERT_EQ(single.size(), 42u);

    auto merged = Merge(RunShards(args, 4));
    ASSERT_EQ(merged.size(), 42u) << arrival;
    for (const auto& [i, r] : merged) {
      EXPECT_EQ(r.shard, i % 4);
      ASSERT_TRUE(r.scheduled_ms.has_value());
      EXPECT_EQ(*r.scheduled_ms, single.at(i)) << arrival << " request " << i;  // the same instant, exactly
    }
    EXPECT_EQ(merged.begin()->first, 0);
    EXPECT_EQ(merged.rbegin()->first, 41);
  }
}

TEST(ShardSim, ClosedLoopShardsSplitSlotsAndRequests) {
  ib::testing::SimProcess sim({"--deterministic", "--ttft-ms", "5", "--itl-ms", "2"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto runs = RunShards(Base(sim, {"--workload", "concurrent", "--concurrency", "6", "--count", "30"}), 4);
  auto merged = Merge(runs);
  ASSERT_EQ(merged.size(), 30u);
  EXPECT_EQ(merged.rbegin()->first, 29);
  for (int k = 0; k < 4; ++k) {
    // Slots floor(6/4) + (k < 6 mod 4): 2, 2, 1, 1; the requests i = k (mod 4).
    auto done = testing::Phases(runs[static_cast<std::size_t>(k)], "iteration_done");
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].data["shard"], k);
    EXPECT_EQ(done[0].data["requests"]["sent"], k < 2 ? 8 : 7);
    auto exec = testing::Phases(runs[static_cast<std::size_t>(k)], "execution");
    ASSERT_EQ(exec.size(), 1u);
    EXPECT_EQ(exec[0].data["total_requests"], 30);  // the whole run's
    EXPECT_EQ(exec[0].data["shard"]["n"], 4);
  }
}

TEST(ShardSim, MultiTurnShardsSplitByConversation) {
  ib::testing::SimProcess sim({"--deterministic", "--ttft-ms", "5", "--itl-ms", "2"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto merged =
      Merge(RunShards(Base(sim, {"--workload", "multi_turn", "--concurrency", "4", "--count", "9", "--turns", "3"}), 4));
  ASSERT_EQ(merged.size(), 27u);
  for (const auto& [i, r] : merged) {
    ASSERT_TRUE(r.conversation_index && r.turn_index);
    EXPECT_EQ(*r.conversation_index % 4, *r.shard);
    EXPECT_EQ(i, *r.conversation_index * 3 + *r.turn_index);
  }
}

TEST(ShardSim, BadShardsAreUsageErrors) {
  ib::testing::SimProcess sim({"--deterministic"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  ToolRun r = testing::RunIbLoad(Base(sim, {"--workload", "rate", "--request-rate", "5", "--shard", "4/4"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("--shard takes K/N with 0 <= K < N"), std::string::npos) << r.stderr_text;
  r = testing::RunIbLoad(Base(sim, {"--workload", "batch", "--batch-size", "4", "--shard", "1/2"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("needs a rate, trace, concurrent or multi_turn workload"), std::string::npos) << r.stderr_text;
  r = testing::RunIbLoad(Base(sim, {"--workload", "concurrent", "--concurrency", "2", "--count", "8", "--shard", "1/4"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("concurrency 2 is smaller than the 4 shards"), std::string::npos) << r.stderr_text;
  EXPECT_TRUE(r.events.empty());
}

}  // namespace
}  // namespace ib::load
