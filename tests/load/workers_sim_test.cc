// ib-load --workers N against the real ib-sim: the merged stream of N local shard processes
// equals one process's run in its counts and arrivals, every request's timings are causal
// against ib-sim's truth as one process's are, and a worker killed mid-run makes a
// partial run that names it and keeps every request the others sent.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/results/aggregator.h"
#include "tests/load/tool_runner.h"
#include "tests/support/sim_process.h"

namespace ib::load {
namespace {

using testing::All;
using testing::ToolRun;

constexpr double kCausalMs = 1.0;

struct SimRun {
  ToolRun load;
  std::vector<nlohmann::json> truth;
  int64_t t0 = 0;
  std::vector<results::RunRecord> records;
};

SimRun RunAgainstSim(const std::vector<std::string>& extra) {
  SimRun r;
  std::string truth_path = ib::testing::TmpPath("truth-" + std::to_string(testing::MonotonicNs()) + ".ndjson");
  ib::testing::SimProcess sim({"--deterministic", "--ttft-ms", "30", "--itl-ms", "4", "--truth", truth_path});
  EXPECT_TRUE(sim.ok()) << sim.error();
  if (!sim.ok()) return r;
  r.t0 = testing::MonotonicNs();
  std::vector<std::string> args = {"--server-url", sim.base_url(), "--model", "Qwen/Qwen3-0.6B", "--t0-ns",
                                   std::to_string(r.t0), "--workload", "rate", "--arrival", "poisson",
                                   "--request-rate", "25", "--count", "60", "--max-tokens", "6", "--seed", "3"};
  args.insert(args.end(), extra.begin(), extra.end());
  r.load = testing::RunIbLoad(args);
  sim.Stop();
  r.truth = ib::testing::ReadNdjson(truth_path);
  results::StreamAggregator agg({});
  for (auto e : r.load.events)
    for (auto& rec : agg.Add(std::move(e))) r.records.push_back(std::move(rec));
  for (auto& rec : agg.Finish("end of stream")) r.records.push_back(std::move(rec));
  return r;
}

// Every request's first and last token against the server's writes: never before (causal; how
// much later is a speed figure, measured by scripts/bench/workers, not asserted here). Requests started close together (here from different workers) can
// reach the server in either order, so each pairs with a truth record by least cost, as in
// ib_load_sim_test: distance of arrival from the send plus how far the client saw its first and
// last token after the writes, an event seen before it was written costing 1000x; the
// cheapest pairs are taken first.
void CheckAgainstTruth(const SimRun& r) {
  auto requests = All<events::RequestComplete>(r.load);
  ASSERT_EQ(requests.size(), r.truth.size());
  const std::size_t n = requests.size();
  auto start_ns = [&](const events::RequestComplete& rc) { return static_cast<double>(r.t0) + rc.start_ms * 1e6; };
  auto cost = [&](const events::RequestComplete& rc, const nlohmann::json& t) {
    double s = start_ns(rc);
    double c = std::abs(t["arrival_ns"].get<double>() - s);
    for (auto [seen_ms, written] : {std::pair{*rc.ttft_ms, t["token_ns"].front().get<double>()},
                                    std::pair{*rc.e2e_latency_ms, t["token_ns"].back().get<double>()}}) {
      double d = s + seen_ms * 1e6 - written;
      c += d >= 0 ? d : -1000 * d;
    }
    return c;
  };
  for (const auto& rc : requests) ASSERT_TRUE(rc.ttft_ms && rc.e2e_latency_ms) << rc.request_index;
  std::vector<int> pair_of(n, -1);
  std::vector<bool> used(n, false);
  for (std::size_t round = 0; round < n; ++round) {
    double best = INFINITY;
    std::size_t bi = 0, bj = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (pair_of[i] >= 0) continue;
      for (std::size_t j = 0; j < n; ++j) {
        if (used[j]) continue;
        double c = cost(requests[i], r.truth[j]);
        if (c < best) best = c, bi = i, bj = j;
      }
    }
    pair_of[bi] = static_cast<int>(bj);
    used[bj] = true;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& rc = requests[i];
    const auto& tokens = r.truth[static_cast<std::size_t>(pair_of[i])]["token_ns"];
    double first = (tokens.front().get<double>() - start_ns(rc)) / 1e6;
    double last = (tokens.back().get<double>() - start_ns(rc)) / 1e6;
    EXPECT_GE(*rc.ttft_ms, first - kCausalMs) << rc.request_index;
    EXPECT_GE(*rc.e2e_latency_ms, last - kCausalMs) << rc.request_index;
  }
}

TEST(WorkersSim, FourWorkersEqualOneProcess) {
  SimRun one = RunAgainstSim({});
  ASSERT_EQ(one.load.exit_code, 0) << one.load.stderr_text;
  SimRun four = RunAgainstSim({"--workers", "4"});
  ASSERT_EQ(four.load.exit_code, 0) << four.load.stderr_text;

  // Arrivals: each index once, the same scheduled instants (relative to the first arrival).
  auto sched = [](const SimRun& r) {
    std::map<int64_t, double> m;
    for (const auto& rc : All<events::RequestComplete>(r.load)) {
      EXPECT_TRUE(m.emplace(rc.request_index, *rc.scheduled_ms).second) << "index " << rc.request_index << " twice";
    }
    double first = m.at(0);
    for (auto& [i, s] : m) s -= first;
    return m;
  };
  auto a = sched(one), b = sched(four);
  ASSERT_EQ(a.size(), 60u);
  ASSERT_EQ(b.size(), 60u);
  for (const auto& [i, s] : a) EXPECT_NEAR(b.at(i), s, 1e-6) << "request " << i;  // ns rounding only
  for (const auto& rc : All<events::RequestComplete>(four.load)) EXPECT_EQ(rc.shard, rc.request_index % 4);

  CheckAgainstTruth(one);
  CheckAgainstTruth(four);

  // The results: the same counts, one run each.
  ASSERT_EQ(one.records.size(), 1u);
  ASSERT_EQ(four.records.size(), 1u);
  const auto& s1 = one.records[0].summary;
  const auto& s4 = four.records[0].summary;
  EXPECT_EQ(one.records[0].status, "completed");
  EXPECT_EQ(four.records[0].status, "completed");
  for (const char* key : {"total_requests", "successful_requests", "failed_requests", "total_completion_tokens"})
    EXPECT_EQ(s4.value(key, nlohmann::json()), s1.value(key, nlohmann::json())) << key;
  EXPECT_EQ(s4["total_requests"], 60);
  const auto& shards = four.records[0].metadata["shards"];
  EXPECT_EQ(shards["count"], 4);
  EXPECT_TRUE(shards["lost"].empty());
  EXPECT_TRUE(shards["clock_offset_max_ms"].is_number());
  EXPECT_FALSE(one.records[0].metadata.contains("shards"));
}

// The pid of the worker running shard k of the coordinator `parent`.
pid_t WorkerOf(pid_t parent, int k, int n) {
  std::ifstream children("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  pid_t pid;
  while (children >> pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(" --shard " + std::to_string(k) + "/" + std::to_string(n) + " ") != std::string::npos) return pid;
  }
  return -1;
}

TEST(WorkersSim, AKilledWorkerMakesAPartialNamingItAndLosesNothingElse) {
  ib::testing::SimProcess sim({"--deterministic", "--ttft-ms", "10", "--itl-ms", "2"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  bool killed = false;
  int seen = 0;
  ToolRun run = testing::RunIbLoad(
      {"--server-url", sim.base_url(), "--model", "Qwen/Qwen3-0.6B", "--workload", "rate", "--arrival", "constant",
       "--request-rate", "20", "--count", "80", "--max-tokens", "4", "--workers", "4"},
      [&](pid_t pid, const events::Event& e) {
        if (!std::holds_alternative<events::RequestComplete>(e) || killed || ++seen < 12) return;
        pid_t worker = WorkerOf(pid, 2, 4);
        ASSERT_GT(worker, 0);
        kill(worker, SIGKILL);
        killed = true;
      });
  ASSERT_TRUE(killed);
  EXPECT_EQ(run.exit_code, 1) << run.stderr_text;
  // Every request of shards 0, 1 and 3 is there, once; shard 2's are those it finished.
  std::map<int64_t, int> count;
  for (const auto& rc : All<events::RequestComplete>(run)) ++count[rc.request_index];
  for (int64_t i = 0; i < 80; ++i) {
    if (i % 4 != 2) EXPECT_EQ(count[i], 1) << "request " << i;
    else EXPECT_LE(count[i], 1) << "request " << i;
  }
  auto done = testing::Phases(run, "iteration_done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].data["completed"], false);
  EXPECT_EQ(done[0].data["lost_shards"], nlohmann::json::array({2}));
  EXPECT_NE(done[0].data["reason"].get<std::string>().find("shard 2 lost (connection from 127.0.0.1:"), std::string::npos)
      << done[0].data["reason"];
  results::StreamAggregator agg({});
  std::vector<results::RunRecord> records;
  for (auto e : run.events)
    for (auto& rec : agg.Add(std::move(e))) records.push_back(std::move(rec));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, "partial");
  EXPECT_NE(records[0].stop_reason.find("shard 2 lost"), std::string::npos) << records[0].stop_reason;
  EXPECT_EQ(records[0].metadata["shards"]["lost"], nlohmann::json::array({2}));
}

TEST(WorkersSim, AShardThatCannotReachTheCollectorExitsWithAClearError) {
  ib::testing::SimProcess sim({"--deterministic"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  std::vector<std::string> args = {"--server-url", sim.base_url(), "--model", "Qwen/Qwen3-0.6B", "--workload", "rate",
                                   "--request-rate", "5", "--count", "4", "--shard", "1/2", "--run-id", "r-1",
                                   "--report-to", "127.0.0.1:1"};
  unsetenv("IB_REPORT_TOKEN");
  ToolRun r = testing::RunIbLoad(args);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("--report-to needs the collector's token in IB_REPORT_TOKEN"), std::string::npos) << r.stderr_text;
  setenv("IB_REPORT_TOKEN", "0123456789abcdef0123456789abcdef", 1);
  r = testing::RunIbLoad(args);  // nothing listens on port 1: refused until the 10 s retry window ends
  unsetenv("IB_REPORT_TOKEN");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.stderr_text.find("ib-load: error: cannot reach the collector at 127.0.0.1:1: Connection refused"),
            std::string::npos) << r.stderr_text;
  EXPECT_TRUE(r.events.empty());
}

}  // namespace
}  // namespace ib::load
