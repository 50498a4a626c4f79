// The README's first command runs experiments/examples/sim-demo.yaml (scripts/demo). Its header
// promises what every chart will show; this runs it as shipped, through ib-run and the real
// ib-sim, ib-scrape, ib-load and ib-aggregate, and holds it to each promise:
//   - three iterations (concurrency 4, 16, 48), 60 measured requests each, none failed;
//   - prompt families sharing prefixes: a prefix-cache hit rate above zero in every iteration;
//   - at 48 the 700-block KV cache fills, requests wait in the queue and running ones are
//     preempted; at 4 and 16 nothing stays queued (a new request may be sampled there for one
//     engine step) and nothing is preempted;
//   - goodput is reported against the config's SLOs.
// The figures come from ib-scrape's samples of ib-sim's own gauges and counters.
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "tests/run/run_harness.h"

namespace {

using namespace ib::run_test;
using nlohmann::json;

TEST(DemoRun, TheEmbeddedDefaultMovesEveryChartAsItsHeaderSays) {
  BecomeSubreaper();
  std::string dir = MakeWorkDir("demo");
  RunSpec spec;
  spec.args = {"experiments/examples/sim-demo.yaml", "--output-dir", dir + "/results"};
  spec.timeout_ms = 280000;
  RunResult r = RunIbRun(dir, spec);
  ASSERT_EQ(r.code, 0) << r.err;
  const ib::events::Phase* done = LastPhase(r.events);
  ASSERT_NE(done, nullptr);
  ASSERT_TRUE(done->data.contains("result_paths")) << done->data.dump();
  ASSERT_EQ(done->data["result_paths"].size(), 3u);

  std::vector<json> runs;
  for (const auto& path : done->data["result_paths"]) runs.push_back(ReadJson(path.get<std::string>()));
  const std::vector<int> concurrency = {4, 16, 48};
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const json& run = runs[i];
    SCOPED_TRACE("concurrency " + std::to_string(concurrency[i]));
    EXPECT_EQ(run["status"], "completed");
    EXPECT_EQ(run["experiment"]["workload"]["concurrency"], concurrency[i]);
    const json& s = run["summary"];
    EXPECT_EQ(s["successful_requests"], 60);
    EXPECT_EQ(s["failed_requests"], 0);
    ASSERT_TRUE(s["goodput"].is_object()) << s.dump();
    const json& g = s["gpu_summary"];
    ASSERT_TRUE(g.is_object()) << "no GPU summary: was ib-scrape found?";
    EXPECT_GT(g["total_samples"].get<int>(), 5);
    EXPECT_EQ(g["scrape_errors"], 0);
    ASSERT_TRUE(g["prefix_cache_hit_rate"].is_number());
    EXPECT_GT(g["prefix_cache_hit_rate"].get<double>(), 0.2) << "families share 300-token prefixes";
    const json& counters = g["server_counter_deltas"];
    SCOPED_TRACE("gpu_summary " + g.dump());
    std::cout << "concurrency " << concurrency[i] << ": gpu_summary " << g.dump() << "\n";
    if (concurrency[i] < 48) {
      // A new request can be sampled in the queue for the one engine step before it is
      // scheduled (as in vLLM); below the cap nothing stays there.
      EXPECT_LT(g["queued_requests_mean"].get<double>(), 0.2) << "nobody waits below the 32-sequence cap";
      EXPECT_EQ(counters["preemptions"], 0);
      EXPECT_LT(g["kv_cache_usage_peak"].get<double>(), 1.0);
    } else {
      EXPECT_GE(g["queued_requests_peak"].get<double>(), 10) << "48 streams over a 32-sequence cap";
      EXPECT_GT(counters["preemptions"].get<double>(), 0) << "the 700-block cache overflows";
      EXPECT_GE(g["kv_cache_usage_peak"].get<double>(), 0.9);
    }
  }
  EXPECT_TRUE(WaitForNoChildren({}, 30000)) << "processes left behind";
}

}  // namespace
