#include "lib/results/study.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "lib/results/repeats.h"
#include "lib/results/report.h"

namespace ib::results {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

config::ExperimentConfig SearchConfig() {
  auto loaded = config::LoadExperimentFromString(R"(name: s
model: {name: m}
framework: vllm
infrastructure: {provider: local}
workload:
  type: rate
  requests: {synthetic: {}, count: 5}
  search: {over: request_rate, slo: {ttft_ms: {p99: 500}}, max: 8}
)",
                                                 "s.yaml");
  EXPECT_TRUE(loaded.ok());
  return *loaded.config;
}

json Summary(double rps, double tok_s, double ttft_p99) {
  return {{"requests_per_second", rps},
          {"tokens_per_second", tok_s},
          {"successful_requests", 10},
          {"failed_requests", 0},
          {"total_duration_s", 5.0},
          {"ttft", {{"p50", ttft_p99 / 2}, {"p90", ttft_p99 * 0.9}, {"p99", ttft_p99}, {"mean", 1.0}, {"max", 9.0}}},
          {"tpot", nullptr},
          {"goodput", {{"fraction", 0.75}}},
          {"client", {{"degraded_requests", 2}}},
          {"gpu_summary", {{"kv_cache_usage_peak", 0.5}, {"server_counter_deltas", {{"preemptions", 3}}}}}};
}

TEST(Study, CurveAnswerAndCostAreWrittenAtomically) {
  Study study("s-20260101-000000", "search", SearchConfig());
  StudyIteration a{1, "s-p1-r1-20260101-000000", "s-p1-r1", {{"request_rate", 1}}, 1, "completed", "results/a.json",
                   "lowest", true, "TTFT p99 100 ms ✓"};
  study.AddIteration(a, Summary(0.98, 120, 100));
  StudyIteration b = a;
  b.index = 2;
  b.run_id = "s-p2-r8-20260101-000000";
  b.value = 8;
  b.probe = "highest";
  b.passed = false;
  study.AddIteration(b, Summary(5.1, 600, 900));
  StudyIteration c = a;
  c.index = 3;
  c.status = "failed";
  study.AddIteration(c, nullptr);  // no results summary: listed, but no curve point
  study.SetAnswer({{"over", "request_rate"}, {"value", 1}, {"output_tok_s", 120.0}});
  study.SetCost(0.36, "gpu table", 1800);
  study.SetStatus("completed");
  std::string dir = ::testing::TempDir() + "/study_test";
  fs::create_directories(dir);
  std::string error;
  ASSERT_TRUE(study.Write(dir, &error)) << error;
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "temporary left: " << e.path();
  }
  auto j = ReadStudy(dir + "/s-20260101-000000.study.json", &error);
  ASSERT_TRUE(j.has_value()) << error;
  EXPECT_EQ((*j)["status"], "completed");
  EXPECT_EQ((*j)["over"], "request_rate");
  EXPECT_EQ((*j)["config"]["workload"]["search"]["max"], 8.0);
  ASSERT_EQ((*j)["iterations"].size(), 3u);
  EXPECT_EQ((*j)["iterations"][1]["probe"], "highest");
  EXPECT_EQ((*j)["iterations"][1]["passed"], false);
  ASSERT_EQ((*j)["curve"].size(), 2u);
  const json& p = (*j)["curve"][1];
  EXPECT_EQ(p["value"], 8.0);
  EXPECT_EQ(p["offered"], 8.0);
  EXPECT_EQ(p["achieved_rps"], 5.1);
  EXPECT_EQ(p["output_tok_s"], 600.0);
  EXPECT_EQ(p["ttft_ms"]["p99"], 900.0);
  EXPECT_EQ(p["ttft_ms"]["p90"], 810.0);
  EXPECT_TRUE(p["tpot_ms"].is_null());
  EXPECT_EQ(p["goodput_frac"], 0.75);
  EXPECT_EQ(p["kv_cache_peak"], 0.5);
  EXPECT_EQ(p["preemptions"], 3);
  EXPECT_EQ(p["client_degraded"], 2);
  EXPECT_EQ(p["passed"], false);
  // 0.36 $/h over 30 min; a million tokens at 120 tok/s take 8333 s = 2.31 h = $0.833.
  EXPECT_DOUBLE_EQ((*j)["cost"]["pod_usd"].get<double>(), 0.18);
  EXPECT_NEAR((*j)["cost"]["usd_per_million_output_tokens"].get<double>(), 0.36 / (120.0 * 3600) * 1e6, 1e-9);
  EXPECT_EQ((*j)["cost"]["price_source"], "gpu table");
}

// Compare of repeated measurements: a delta inside the two 95 % intervals is "within noise",
// one outside them keeps its better/worse verdict (docs/metrics.md "Repeats").
TEST(Study, CompareSaysWithinNoiseInsideTheIntervals) {
  auto run = [](const char* id, double ttft_p99, double tok_s) {
    return json{{"run_id", id}, {"summary", {{"ttft", {{"p99", ttft_p99}}}, {"tokens_per_second", tok_s}}}};
  };
  // A: TTFT p99 100, 102, 98 (mean 100, s 2, half 4.303 * 2 / sqrt 3 = 4.97);
  // B: 102, 104, 100 (mean 102: +2 %, inside); tok/s 1000 ± 0 against 1100 ± 0: outside.
  json a = MeanResults({run("a1", 100, 1000), run("a2", 102, 1000), run("a3", 98, 1000)});
  json b = MeanResults({run("b1", 102, 1100), run("b2", 104, 1100), run("b3", 100, 1100)});
  EXPECT_EQ(a["repeat_run_ids"].size(), 3u);
  EXPECT_DOUBLE_EQ(a["summary"]["ttft"]["p99"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(a["repeat_stats"]["ttft"]["p99"]["stddev"].get<double>(), 2);
  json c = Compare({a, b});
  bool ttft = false, tok = false;
  for (const auto& row : c["rows"]) {
    if (row["metric"] == "TTFT p99") {
      ttft = true;
      EXPECT_EQ(row["deltas"][1]["verdict"], "within noise") << row.dump();
      EXPECT_NEAR(row["ci95_half"][0].get<double>(), 4.303 * 2 / std::sqrt(3.0), 1e-9);
    }
    if (row["metric"] == "Throughput (tok/s)") {
      tok = true;
      EXPECT_EQ(row["deltas"][1]["verdict"], "better") << row.dump();
    }
  }
  EXPECT_TRUE(ttft && tok) << c.dump();
  EXPECT_NE(FormatComparison(c).find("within noise"), std::string::npos);
  // Plain runs: no intervals, a 2 % delta is a change.
  json plain = Compare({run("x", 100, 1000), run("y", 102, 1000)});
  for (const auto& row : plain["rows"]) {
    EXPECT_FALSE(row.contains("ci95_half"));
    if (row["metric"] == "TTFT p99") EXPECT_EQ(row["deltas"][1]["verdict"], "worse");
  }
}

TEST(Study, ReadStudyRefusesOtherFiles) {
  std::string error;
  EXPECT_FALSE(ReadStudy(::testing::TempDir() + "/none.study.json", &error).has_value());
  EXPECT_NE(error.find("no study file"), std::string::npos);
}

}  // namespace
}  // namespace ib::results
