// ib-run --resume against the real ib-sim, ib-load and ib-aggregate (provider local): a sweep
// interrupted in its first iteration, resumed and interrupted again, then resumed to the end.
// The three files of iteration 1 hold every request number exactly once, each resumed file
// names the one it continues (metadata.resumed_from), and ib-sim's truth file of the last run
// shows that it received exactly the requests left plus the whole second iteration.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "tests/run/run_harness.h"

namespace {

namespace ev = ib::events;
namespace fs = std::filesystem;
using namespace ib::run_test;

constexpr int kCount = 40;

class ResumeRunTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { BecomeSubreaper(); }
  void SetUp() override { dir_ = MakeWorkDir("resume"); }
  void TearDown() override { EXPECT_TRUE(WaitForNoChildren({}, 30000)) << "processes left behind"; }

  // The same experiment each time; only ib-sim's truth file changes.
  std::string Config(const std::string& truth) {
    std::string path = dir_ + "/resume.yaml";
    std::ofstream(path) << "name: \"resume\"\n"
                        << "model:\n  name: \"Qwen/Qwen3-0.6B\"\n"
                        << "framework: \"vllm\"\n"
                        << "infrastructure:\n  provider: \"local\"\n  sim:\n    preset: \"tiny-fast\"\n"
                        << "    speed: 2.0\n    load_time_s: 0\n"
                        << "    args: [\"--truth\", \"" << truth << "\"]\n"
                        << "workload:\n  type: \"concurrent\"\n  concurrency: 4\n"
                        << "  requests:\n    source: \"" << fs::absolute("prompts/baseline.jsonl").string()
                        << "\"\n    count: " << kCount << "\n"
                        << "  parameters:\n    max_tokens: 32\n"
                        << "  sweep:\n    concurrency: [4, 3]\n"
                        << "metrics:\n  collect_gpu_metrics: false\n";
    return path;
  }

  // Runs ib-run; stop_after > 0 sends SIGTERM after that many request_complete lines.
  RunResult Run(const std::string& truth, std::vector<std::string> extra, int stop_after) {
    RunSpec spec;
    spec.args = {Config(truth), "--output-dir", dir_ + "/results"};
    spec.args.insert(spec.args.end(), extra.begin(), extra.end());
    int seen = 0;
    spec.on_event = [&](const ev::Event& e) {
      return stop_after > 0 && std::holds_alternative<ev::RequestComplete>(e) && ++seen == stop_after ? SIGTERM : 0;
    };
    spec.timeout_ms = 90000;
    return RunIbRun(dir_, spec);
  }

  std::string dir_;
};

std::string IdOf(const std::string& path) { return fs::path(path).stem().string(); }

// Request numbers a file finished (cancelled ones are not finished).
std::set<int64_t> Finished(const nlohmann::json& file) {
  std::set<int64_t> out;
  for (const auto& r : file["requests"]) {
    if (r.contains("error_kind") && r["error_kind"] == "cancelled") continue;
    EXPECT_TRUE(out.insert(r["request_index"].get<int64_t>()).second) << "twice in one file";
  }
  return out;
}

bool HasLog(const RunResult& r, const std::string& fragment) {
  for (const auto& e : r.events) {
    if (auto* l = std::get_if<ev::Log>(&e); l && l->message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

TEST_F(ResumeRunTest, ResumedRunsSendOnlyTheRequestsLeftAndLinkTheirFiles) {
  // 1. Interrupted in iteration 1.
  RunResult first = Run(dir_ + "/truth1.ndjson", {}, 8);
  ASSERT_EQ(first.code, 130) << first.err;
  const ev::Phase* failed = LastPhase(first.events);
  ASSERT_EQ(failed->data["result_paths"].size(), 1u);
  std::string p1 = failed->data["result_paths"][0];
  auto f1 = ReadJson(p1);
  ASSERT_EQ(f1["status"], "partial");
  std::set<int64_t> done1 = Finished(f1);
  ASSERT_GE(done1.size(), 8u);
  ASSERT_LT(done1.size(), static_cast<std::size_t>(kCount));

  // 2. Resumed, and interrupted again.
  RunResult second = Run(dir_ + "/truth2.ndjson", {"--resume", IdOf(p1)}, 5);
  ASSERT_EQ(second.code, 130) << second.err;
  EXPECT_TRUE(HasLog(second, "sends the " + std::to_string(kCount - done1.size()) + " of 40 requests not finished"))
      << second.err;
  std::string p2 = LastPhase(second.events)->data["result_paths"][0];
  auto f2 = ReadJson(p2);
  ASSERT_EQ(f2["status"], "partial");
  EXPECT_EQ(f2["metadata"]["resumed_from"], IdOf(p1));
  EXPECT_EQ(f2["metadata"]["planned_requests"], kCount - static_cast<int>(done1.size()));
  std::set<int64_t> done2 = Finished(f2);
  for (int64_t i : done2) EXPECT_FALSE(done1.count(i)) << "request " << i << " sent again";

  // 3. Resumed from the second partial file (whose link leads to the first): to the end.
  RunResult third = Run(dir_ + "/truth3.ndjson", {"--resume", IdOf(p2)}, 0);
  ASSERT_EQ(third.code, 0) << third.err;
  std::size_t left = kCount - done1.size() - done2.size();
  EXPECT_TRUE(HasLog(third, "sends the " + std::to_string(left) + " of 40 requests not finished (2 files)"))
      << third.err;
  const ev::Phase* done = LastPhase(third.events);
  ASSERT_EQ(done->phase, "done");
  ASSERT_EQ(done->data["result_paths"].size(), 2u);
  auto f3 = ReadJson(done->data["result_paths"][0]);
  auto next = ReadJson(done->data["result_paths"][1]);
  EXPECT_EQ(f3["status"], "completed");
  EXPECT_EQ(f3["metadata"]["resumed_from"], IdOf(p2));
  EXPECT_EQ(f3["metadata"]["iteration"], 1);
  EXPECT_EQ(f3["requests"].size(), left);
  EXPECT_EQ(f3["summary"]["successful_requests"], static_cast<int>(left));
  // Iteration 2 never started before: it runs in full and continues nothing.
  EXPECT_EQ(next["status"], "completed");
  EXPECT_EQ(next["metadata"]["iteration"], 2);
  EXPECT_EQ(next["requests"].size(), static_cast<std::size_t>(kCount));
  EXPECT_FALSE(next["metadata"].contains("resumed_from"));

  // Every request number of iteration 1 exactly once across the three files.
  std::set<int64_t> all = done1;
  for (int64_t i : done2) all.insert(i);
  for (int64_t i : Finished(f3)) {
    EXPECT_FALSE(done1.count(i) || done2.count(i)) << "request " << i << " sent again";
    all.insert(i);
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(*all.rbegin(), kCount - 1);

  // ib-sim's truth: the last run's server received the requests left, then iteration 2.
  std::istringstream truth(Slurp(dir_ + "/truth3.ndjson"));
  std::size_t received = 0;
  for (std::string line; std::getline(truth, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["status"], 200);
    ++received;
  }
  EXPECT_EQ(received, left + kCount);
  std::cout << "[ result  ] iteration 1: " << done1.size() << " + " << done2.size() << " + " << left
            << " requests over three runs\n";
}

}  // namespace
