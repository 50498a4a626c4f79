// The capacity search end to end against the real ib-sim, ib-load and ib-aggregate.
//
// Ground truth: ib-sim run with --max-num-seqs 4 serves at most 4 sequences at once, so from
// concurrency 5 on a share of the requests waits a whole request (~190 ms) for a slot before
// its first token, while up to 4 their TTFT is a few ms. A fine sweep over concurrency 1..8
// brute-forces the TTFT p90 <= 100 ms boundary from results files; the search must land within
// precision_pct of it with at most ceil(log2(range / precision)) + 2 probes. The margins are
// wide (the SLO sits ~95 ms above the unqueued TTFT and ~90 ms below the queued one) so the
// machine's load does not move the boundary.
//
// Also: a server failing every request ends the study at the lowest load with that finding,
// and SIGINT mid-search leaves a partial study, a partial probe file and no process.
#include <signal.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "tests/run/run_harness.h"

namespace {

namespace ev = ib::events;
namespace fs = std::filesystem;
using namespace ib::run_test;
using nlohmann::json;

constexpr double kSloMs = 100;  // at load average 27 the unqueued TTFT p90 reached 68 ms

class SearchRunTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { BecomeSubreaper(); }
  void SetUp() override { dir_ = MakeWorkDir("search"); }
  void TearDown() override { EXPECT_TRUE(WaitForNoChildren({}, 30000)) << "processes left behind"; }

  std::string Config(const std::string& name, const std::string& block, const std::string& sim_args = "") {
    std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << "name: \"" << name << "\"\n"
                        << "model:\n  name: \"Qwen/Qwen3-0.6B\"\n"
                        << "framework: \"vllm\"\n"
                        << "infrastructure:\n  provider: \"local\"\n  gpu_type: \"RTX 4000 Ada\"\n"
                        << "  sim:\n    preset: \"tiny-fast\"\n    speed: 2.0\n    load_time_s: 0\n"
                        << "    args: [\"--max-num-seqs\", \"4\", \"--step-base-ms\", \"6\", \"--step-per-seq-ms\", \"0\""
                        << sim_args << "]\n"
                        << "workload:\n  type: \"concurrent\"\n"
                        << "  requests:\n    synthetic:\n      input_tokens: {mean: 32}\n    count: 20\n"
                        << "  parameters:\n    max_tokens: 64\n    ignore_eos: true\n"
                        << block << "metrics:\n  collect_gpu_metrics: false\n  percentiles: [50, 90, 99]\n";
    return path;
  }

  RunResult Run(const std::string& config, int sigint_after_probe_requests = 0) {
    RunSpec spec;
    spec.args = {config, "--output-dir", dir_ + "/results"};
    spec.timeout_ms = 240000;
    int iterations = 0, requests = 0;
    spec.on_event = [&](const ev::Event& e) {
      if (sigint_after_probe_requests <= 0) return 0;
      if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "sweep_iteration") ++iterations;
      // In the first probe, after a few of its requests.
      if (iterations == 1 && std::holds_alternative<ev::RequestComplete>(e) && ++requests == sigint_after_probe_requests) {
        return SIGINT;
      }
      return 0;
    };
    return RunIbRun(dir_, spec);
  }

  json Study(const RunResult& r) {
    const ev::Phase* last = LastPhase(r.events);
    EXPECT_NE(last, nullptr);
    std::string path = last ? last->data.value("study_path", "") : "";
    EXPECT_FALSE(path.empty()) << "no study_path in the last phase";
    return ReadJson(path);
  }

  std::string dir_;
};

TEST_F(SearchRunTest, LandsOnTheBruteForcedBoundaryWithinTheProbeBound) {
  // Brute force: every concurrency 1..8.
  RunResult grid = Run(Config("grid", "  sweep:\n    concurrency: [1, 2, 3, 4, 5, 6, 7, 8]\n"));
  ASSERT_EQ(grid.code, 0) << grid.err;
  json grid_study = Study(grid);
  ASSERT_EQ(grid_study["kind"], "sweep");
  ASSERT_EQ(grid_study["curve"].size(), 8u);
  double boundary = 0;
  for (const auto& p : grid_study["curve"]) {
    double p90 = p["ttft_ms"]["p90"].get<double>();
    if (p90 > kSloMs) break;
    boundary = p["value"].get<double>();
  }
  EXPECT_EQ(boundary, 4) << grid_study["curve"].dump();  // the simulator's slot count

  RunResult r = Run(Config("cap", "  search:\n    over: concurrency\n    slo: {ttft_ms: {p90: 100}}\n"
                                  "    min: 1\n    max: 8\n    precision_pct: 5\n    max_probes: 12\n"));
  ASSERT_EQ(r.code, 0) << r.err;
  json study = Study(r);
  EXPECT_EQ(study["kind"], "search");
  EXPECT_EQ(study["status"], "completed");
  const json& answer = study["answer"];
  ASSERT_TRUE(answer["value"].is_number()) << answer.dump();
  double found = answer["value"].get<double>();
  EXPECT_LE(std::fabs(found - boundary) / boundary * 100, 5) << "found " << found << ", boundary " << boundary;
  int probes = answer["probes"].get<int>();
  int bound = static_cast<int>(std::ceil(std::log2((8.0 - 1.0) / (boundary * 0.05)))) + 2;
  EXPECT_LE(probes, bound);
  EXPECT_EQ(study["iterations"].size(), static_cast<std::size_t>(probes));
  // Every probe is an ordinary iteration with its own results file, its verdict recorded.
  for (const auto& it : study["iterations"]) {
    EXPECT_EQ(it["status"], "completed") << it.dump();
    EXPECT_TRUE(fs::exists(it["result_path"].get<std::string>())) << it.dump();
    EXPECT_TRUE(it["passed"].is_boolean());
    EXPECT_EQ(it["passed"].get<bool>(), it["value"].get<double>() <= boundary) << it.dump();
  }
  EXPECT_EQ(answer["passing_probe"].is_string(), true);
  EXPECT_EQ(answer["failing_value"], boundary + 1);
  EXPECT_NE(study["prompts"].get<std::string>().find("ib-sim restarted before each probe"), std::string::npos);
  // The sweep_iteration phases name the study.
  int named = 0;
  for (const auto& e : r.events) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "sweep_iteration") {
      EXPECT_EQ(p->data.value("study_id", ""), study["study_id"]);
      ++named;
    }
  }
  EXPECT_EQ(named, probes);
  // The RTX 4000 Ada's table price gives the cost per million output tokens at the answer.
  EXPECT_TRUE(study["cost"]["usd_per_million_output_tokens"].is_number()) << study["cost"].dump();
}

TEST_F(SearchRunTest, AServerFailingEveryRequestEndsTheStudyAtTheLowestLoad) {
  RunResult r = Run(Config("broken", "  search:\n    over: concurrency\n    slo: {ttft_ms: {p90: 100}}\n    max: 8\n",
                           ", \"--fault-500-rate\", \"1\""));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("the server failed every request at the lowest load (1 concurrent)"), std::string::npos) << r.err;
  json study = Study(r);
  EXPECT_EQ(study["status"], "failed");
  ASSERT_EQ(study["iterations"].size(), 1u);
  EXPECT_EQ(study["iterations"][0]["passed"], false);
  EXPECT_EQ(study["iterations"][0]["verdict"], "every request failed");
  EXPECT_EQ(study["answer"]["end_reason"], "server_failed");
  EXPECT_TRUE(study["answer"]["value"].is_null());
}

TEST_F(SearchRunTest, SigintMidSearchLeavesAPartialStudyAndProbe) {
  RunResult r = Run(Config("stopped", "  search:\n    over: concurrency\n    slo: {ttft_ms: {p90: 100}}\n    max: 8\n"
                                      "    probe: {count: 400}\n"),
                    /*sigint_after_probe_requests=*/3);
  EXPECT_EQ(r.code, 130) << r.err;
  json study = Study(r);
  EXPECT_EQ(study["status"], "partial");
  ASSERT_EQ(study["iterations"].size(), 1u);
  EXPECT_EQ(study["iterations"][0]["status"], "partial");
  EXPECT_TRUE(study["answer"].is_null());  // no answer from an interrupted search
  json probe = ReadJson(study["iterations"][0]["result_path"].get<std::string>());
  EXPECT_EQ(probe["status"], "partial");
  EXPECT_LT(probe["requests"].size(), 400u);
}

}  // namespace
