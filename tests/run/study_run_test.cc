// Studies end to end against the real ib-sim, ib-load and ib-aggregate (docs/config.md
// "Repeats", "Capacity search"; docs/ib-run.md "Resuming a study"):
// - repeats: 3 gives three results files, and the study's mean / stddev / 95 % interval equal a
//   hand computation from those three files;
// - SIGINT mid-sweep, then --resume STUDY_ID: the finished study has the iterations an
//   uninterrupted one has; a finished study is refused;
// - early stop: a probe far above capacity (ib-sim --max-num-seqs 4) stops early, its results
//   file says so, and the search's answer is the one of the same search without early stop.
#include <signal.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
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

class StudyRunTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { BecomeSubreaper(); }
  void SetUp() override { dir_ = MakeWorkDir("study"); }
  void TearDown() override { EXPECT_TRUE(WaitForNoChildren({}, 30000)) << "processes left behind"; }

  std::string Config(const std::string& name, const std::string& block, int count) {
    std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << "name: \"" << name << "\"\n"
                        << "model:\n  name: \"Qwen/Qwen3-0.6B\"\n"
                        << "framework: \"vllm\"\n"
                        << "infrastructure:\n  provider: \"local\"\n  gpu_type: \"RTX 4000 Ada\"\n"
                        << "  sim:\n    preset: \"tiny-fast\"\n    speed: 2.0\n    load_time_s: 0\n"
                        << "    args: [\"--max-num-seqs\", \"4\", \"--step-base-ms\", \"6\", \"--step-per-seq-ms\", \"0\"]\n"
                        << "workload:\n  type: \"concurrent\"\n  concurrency: 2\n"
                        << "  requests:\n    synthetic:\n      input_tokens: {mean: 32}\n    count: " << count << "\n"
                        << "  parameters:\n    max_tokens: 32\n    ignore_eos: true\n"
                        << block << "metrics:\n  collect_gpu_metrics: false\n  percentiles: [50, 90, 99]\n";
    return path;
  }

  RunResult Run(std::vector<std::string> args, std::function<int(const ev::Event&)> on_event = nullptr) {
    RunSpec spec;
    spec.args = std::move(args);
    spec.args.insert(spec.args.end(), {"--output-dir", dir_ + "/results"});
    spec.timeout_ms = 300000;
    spec.on_event = std::move(on_event);
    return RunIbRun(dir_, spec);
  }

  json Study(const RunResult& r) {
    const ev::Phase* last = LastPhase(r.events);
    std::string path = last ? last->data.value("study_path", "") : "";
    EXPECT_FALSE(path.empty()) << "no study_path in the last phase";
    return ReadJson(path);
  }

  std::string dir_;
};

TEST_F(StudyRunTest, RepeatsGiveThreeFilesAndTheirMeanStddevAndInterval) {
  RunResult r = Run({Config("rep", "  repeats: 3\n", 12)});
  ASSERT_EQ(r.code, 0) << r.err;
  json study = Study(r);
  EXPECT_EQ(study["repeats"], 3);
  ASSERT_EQ(study["iterations"].size(), 3u);
  std::vector<json> files;
  std::set<std::string> ids;
  for (int k = 0; k < 3; ++k) {
    const json& it = study["iterations"][k];
    EXPECT_EQ(it["index"], 1);
    EXPECT_EQ(it["repeat"], k + 1);
    EXPECT_EQ(it["status"], "completed");
    EXPECT_NE(it["run_id"].get<std::string>().find("-rep" + std::to_string(k + 1) + "-"), std::string::npos);
    ids.insert(it["run_id"].get<std::string>());
    files.push_back(ReadJson(it["result_path"].get<std::string>()));
    ASSERT_TRUE(files.back().is_object());
    EXPECT_EQ(files.back()["requests"].size(), 12u);
  }
  EXPECT_EQ(ids.size(), 3u);
  ASSERT_EQ(study["curve"].size(), 1u);
  const json& p = study["curve"][0];
  EXPECT_EQ(p["repeats"], 3);
  EXPECT_EQ(p["run_ids"].size(), 3u);
  // By hand from the three files: mean, sample stddev, t(0.975, 2) = 4.303.
  auto check = [&](const std::string& figure, std::vector<std::string> path, const json& stats, const json& mean) {
    double x[3], sum = 0;
    for (int k = 0; k < 3; ++k) {
      const json* v = &files[k]["summary"];
      for (const auto& key : path) v = &(*v)[key];
      x[k] = v->get<double>();
      sum += x[k];
    }
    double m = sum / 3, ss = 0;
    for (double v : x) ss += (v - m) * (v - m);
    double s = std::sqrt(ss / 2), half = 4.303 * s / std::sqrt(3.0);
    EXPECT_NEAR(mean.get<double>(), m, 1e-9 * std::max(1.0, m)) << figure;
    EXPECT_EQ(stats["n"], 3) << figure;
    EXPECT_NEAR(stats["mean"].get<double>(), m, 1e-9 * std::max(1.0, m)) << figure;
    EXPECT_NEAR(stats["stddev"].get<double>(), s, 1e-9 * std::max(1.0, s)) << figure;
    EXPECT_NEAR(stats["ci95_low"].get<double>(), m - half, 1e-9 * std::max(1.0, m)) << figure;
    EXPECT_NEAR(stats["ci95_high"].get<double>(), m + half, 1e-9 * std::max(1.0, m)) << figure;
  };
  check("ttft p99", {"ttft", "p99"}, p["stats"]["ttft_ms"]["p99"], p["ttft_ms"]["p99"]);
  check("tpot p50", {"tpot", "p50"}, p["stats"]["tpot_ms"]["p50"], p["tpot_ms"]["p50"]);
  check("output tok/s", {"tokens_per_second"}, p["stats"]["output_tok_s"], p["output_tok_s"]);
  check("req/s", {"requests_per_second"}, p["stats"]["achieved_rps"], p["achieved_rps"]);
}

TEST_F(StudyRunTest, ResumedSweepEqualsAnUninterruptedOne) {
  std::string sweep = "  sweep:\n    concurrency: [1, 2, 3]\n";
  RunResult whole = Run({Config("whole", sweep, 16)});
  ASSERT_EQ(whole.code, 0) << whole.err;
  json expected = Study(whole);

  std::string config = Config("cut", sweep, 16);
  int iterations = 0, requests = 0;
  RunResult cut = Run({config}, [&](const ev::Event& e) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "sweep_iteration") ++iterations;
    // Mid-sweep: a few requests into the second iteration.
    if (iterations == 2 && std::holds_alternative<ev::RequestComplete>(e) && ++requests == 3) return SIGINT;
    return 0;
  });
  ASSERT_EQ(cut.code, 130) << cut.err;
  json partial = Study(cut);
  ASSERT_EQ(partial["status"], "partial");
  std::string id = partial["study_id"];
  ASSERT_EQ(partial["iterations"].size(), 2u);
  std::string kept = partial["iterations"][0]["run_id"];

  RunResult resumed = Run({config, "--resume", id});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  json done = Study(resumed);
  EXPECT_EQ(done["study_id"], id);
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["resumes"], 1);
  ASSERT_EQ(done["iterations"].size(), expected["iterations"].size());
  for (std::size_t i = 0; i < expected["iterations"].size(); ++i) {
    const json& a = expected["iterations"][i];
    const json& b = done["iterations"][i];
    EXPECT_EQ(b["index"], a["index"]);
    EXPECT_EQ(b["value"], a["value"]);
    EXPECT_EQ(b["params"], a["params"]);
    EXPECT_EQ(b["status"], "completed");
    EXPECT_TRUE(fs::exists(b["result_path"].get<std::string>()));
  }
  EXPECT_EQ(done["iterations"][0]["run_id"], kept);  // the finished iteration kept its results
  EXPECT_EQ(done["curve"].size(), 3u);
  // The resumed ib-run ran only iterations 2 and 3.
  int ran = 0;
  for (const auto& e : resumed.events) {
    if (auto* p = std::get_if<ev::Phase>(&e); p && p->phase == "sweep_iteration") ++ran;
  }
  EXPECT_EQ(ran, 2);

  RunResult again = Run({config, "--resume", id});
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("--resume: study " + id + " is completed: nothing to resume"), std::string::npos) << again.err;
}

TEST_F(StudyRunTest, AProbeFarAboveCapacityStopsEarlyAndTheAnswerIsUnchanged) {
  auto search = [](bool early) {
    return std::string("  search:\n    over: concurrency\n    slo: {ttft_ms: {p90: 60}}\n"
                       "    min: 1\n    max: 16\n    precision_pct: 5\n    max_probes: 12\n") +
           (early ? "" : "    early_stop: false\n");
  };
  RunResult full = Run({Config("full", search(false), 60)});
  ASSERT_EQ(full.code, 0) << full.err;
  json a = Study(full);
  RunResult early = Run({Config("early", search(true), 60)});
  ASSERT_EQ(early.code, 0) << early.err;
  json b = Study(early);
  EXPECT_EQ(b["answer"]["value"], a["answer"]["value"]) << a["answer"].dump() << "\n" << b["answer"].dump();
  EXPECT_EQ(b["answer"]["failing_value"], a["answer"]["failing_value"]);
  EXPECT_EQ(a["answer"]["value"], 4);  // the simulator's slot count
  int stopped = 0;
  for (const auto& it : a["iterations"]) EXPECT_FALSE(it.contains("early_stop")) << it.dump();
  for (const auto& it : b["iterations"]) {
    json file = ReadJson(it["result_path"].get<std::string>());
    if (!it.value("early_stop", false)) {
      EXPECT_FALSE(file["metadata"].contains("early_stop")) << it.dump();
      continue;
    }
    ++stopped;
    EXPECT_EQ(it["passed"], false);
    EXPECT_EQ(it["verdict"].get<std::string>().rfind("stopped early: ", 0), 0u) << it.dump();
    EXPECT_GT(it["value"].get<double>(), 4);
    const json& es = file["metadata"]["early_stop"];
    ASSERT_TRUE(es.is_object()) << file["metadata"].dump();
    EXPECT_EQ(es["reason"], "slo");
    EXPECT_EQ(es["metric"], "ttft_ms");
    EXPECT_EQ(es["percentile"], "p90");
    EXPECT_EQ(es["planned"], 60);
    // Enough requests over the bound to fail p90 of 60: 60 - floor(0.9 * 59) = 7.
    EXPECT_GE(es["over_bound"].get<int>(), 7);
    EXPECT_EQ(file["status"], "partial");
    EXPECT_LT(file["requests"].size(), 60u);  // it did not send them all
  }
  // At least the highest probe (16 concurrent on 4 slots) is far above capacity.
  EXPECT_GE(stopped, 1) << b["iterations"].dump();
}

}  // namespace
