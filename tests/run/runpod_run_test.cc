// ib-run with `provider: runpod` end to end through the fake RunPod API (tests/fake_runpod):
// the real ib-provision creates a "pod" (the fake starts an ib-sim for it), and the real
// ib-scrape, ib-load and ib-aggregate run each sweep iteration against it. Checks the cost gate
// and the dry-run estimate, the combined stream's phases, one results file per iteration, and
// that the ledger shows every pod deleted: after a normal run, and after SIGINT, SIGTERM or
// SIGKILL to ib-run mid-execution (the kill points wait for events in the stream, not sleeps).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/proc/proc.h"
#include "tests/run/run_harness.h"

namespace {

namespace ev = ib::events;
namespace fs = std::filesystem;
using namespace ib::run_test;

class RunpodRunTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { BecomeSubreaper(); }

  void SetUp() override {
    dir_ = MakeWorkDir("runpod");
    std::string error;
    // RUNNING at once and healthy at once, so ib-provision's 5 s polls are rarely needed; the
    // pods' ib-sim is the fast preset.
    ASSERT_TRUE(fake_.Start(dir_, {"--running-after-ms", "0", "--sim-load-time-s", "0",
                                   "--sim-arg=--preset", "--sim-arg=tiny-fast", "--sim-arg=--speed",
                                   "--sim-arg=4"},
                            &error))
        << error;
  }

  void TearDown() override {
    // Whatever happened, nothing ib-run started may outlive the test.
    EXPECT_TRUE(WaitForNoChildren({fake_.pid()}, 30000)) << "processes left behind";
  }

  // An 8-GPU H100 config: the estimate is above the confirmation threshold.
  std::string Config(const std::string& name, int count, const std::string& sweep) {
    std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << "name: \"" << name << "\"\n"
                        << "model:\n  name: \"Qwen/Qwen3-0.6B\"\n"
                        << "framework: \"vllm\"\n"
                        << "infrastructure:\n  provider: \"runpod\"\n  gpu_type: \"H100-80GB\"\n"
                        << "  gpu_count: 8\n"
                        << "workload:\n  type: \"concurrent\"\n  concurrency: 3\n"
                        << "  requests:\n    source: \"" << fs::absolute("prompts/baseline.jsonl").string()
                        << "\"\n    count: " << count << "\n"
                        << "  parameters:\n    max_tokens: 24\n"
                        << sweep << "metrics:\n  sample_interval_ms: 50\n";
    return path;
  }

  RunSpec Spec(std::vector<std::string> args) {
    RunSpec spec;
    spec.args = std::move(args);
    spec.env = fake_.Env(dir_);
    return spec;
  }

  std::string dir_;
  FakeRunPod fake_;
};

TEST_F(RunpodRunTest, DryRunShowsTheEstimateAndCreatesNothing) {
  std::string config = Config("rpdry", 10, "  sweep:\n    concurrency: [1, 3]\n");
  // The dry run's stdout is text, not events.
  std::string out_path = dir_ + "/dry.txt";
  ib::proc::SpawnOptions so;
  so.argv = {fs::absolute("tools/ib-run/ib-run").string(), config, "--dry-run"};
  so.env = fake_.Env(dir_);
  so.env.push_back({"IB_BIN_DIR", dir_ + "/bin"});
  so.pipe_stdout = false;
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  so.stdout_fd = fd;
  std::string error;
  auto child = ib::proc::Spawn(so, &error);
  ::close(fd);
  ASSERT_TRUE(child) << error;
  auto status = ib::proc::Wait(child->pid);
  ASSERT_TRUE(status.exited);
  EXPECT_EQ(status.code, 0);
  {
    std::string text = Slurp(out_path);
    EXPECT_NE(text.find("runpod"), std::string::npos) << text;
    EXPECT_NE(text.find("H100-80GB x8"), std::string::npos) << text;
    EXPECT_NE(text.find("Iterations: 2"), std::string::npos) << text;
    EXPECT_NE(text.find("Total requests: 20"), std::string::npos) << text;
    EXPECT_NE(text.find("Est. cost: ~$"), std::string::npos) << text;
    EXPECT_NE(text.find("asks before provisioning unless --confirm"), std::string::npos) << text;
  }
  EXPECT_EQ(fake_.Created(), 0);
}

TEST_F(RunpodRunTest, PaidRunWithoutConfirmIsRefusedBeforeAnyPod) {
  RunResult r = RunIbRun(dir_, Spec({Config("rpgate", 5, ""), "--output-dir", dir_ + "/results"}));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("estimated cost ~$"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pass --confirm"), std::string::npos) << r.err;
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(fake_.Created(), 0);
}

TEST_F(RunpodRunTest, NoApiKeyIsAConfigErrorWhoseCauseReachesAPipedUsersTerminal) {
  RunSpec spec = Spec({Config("rpnokey", 5, ""), "--confirm", "--output-dir", dir_ + "/results"});
  for (auto& [name, value] : spec.env) {
    if (name == "RUNPOD_API_KEY") value = "";  // no key anywhere: HOME is the empty test dir
  }
  RunResult r = RunIbRun(dir_, spec);  // stdout piped: stderr is all the user sees
  EXPECT_EQ(r.code, 2) << r.err;     // docs/pipeline.md: bad usage or config
  EXPECT_NE(r.err.find("ib-run: error: ib-provision ended (exit 2) without a server: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No RunPod API key found"), std::string::npos) << r.err;
  EXPECT_EQ(fake_.Created(), 0);
}

TEST_F(RunpodRunTest, SweepThroughTheFakeApiCompletesAndDeletesThePod) {
  const int kCount = 9;
  std::string results = dir_ + "/results";
  RunResult r = RunIbRun(dir_, Spec({Config("rpsweep", kCount, "  sweep:\n    concurrency: [1, 3]\n"),
                                     "--confirm", "--output-dir", results}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // At ib-run's exit the pod is already gone: ib-run waited for ib-provision's teardown.
  EXPECT_EQ(fake_.Created(), 1);
  EXPECT_EQ(fake_.Alive(), 0) << fake_.Ledger().dump();

  EXPECT_EQ(Phases(r.events),
            (std::vector<std::string>{"provisioning", "provisioning_done", "model_loading",
                                      "model_loading_done", "sweep_iteration", "execution", "iteration_done",
                                      "sweep_iteration", "execution", "iteration_done", "cleanup", "done"}));
  const ev::Phase* provisioned = FindPhase(r.events, "provisioning_done");
  ASSERT_NE(provisioned, nullptr);
  std::string pod_id = provisioned->data.value("pod_id", "");
  EXPECT_FALSE(pod_id.empty());
  EXPECT_EQ(fake_.Ledger()["pods"][0]["id"], pod_id);
  EXPECT_EQ(fake_.Ledger()["pods"][0]["name"], "ib-" + provisioned->run_id);

  // Per iteration: every request once, GPU samples, a summary; the pod's teardown is logged
  // between cleanup and done.
  std::map<std::string, int> requests, samples, summaries;
  std::size_t cleanup_at = 0, terminated_at = 0, done_at = 0;
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    const auto& e = r.events[i];
    const std::string& run_id = ev::RunId(e);
    if (auto* q = std::get_if<ev::RequestComplete>(&e)) {
      EXPECT_FALSE(q->error) << *q->error;
      ++requests[run_id];
    }
    if (std::holds_alternative<ev::GpuSample>(e)) ++samples[run_id];
    if (std::holds_alternative<ev::Summary>(e)) ++summaries[run_id];
    if (auto* p = std::get_if<ev::Phase>(&e)) {
      if (p->phase == "cleanup") cleanup_at = i;
      if (p->phase == "done") done_at = i;
    }
    if (auto* l = std::get_if<ev::Log>(&e); l && l->source == "ib-provision" &&
                                             l->message.find("terminated") != std::string::npos) {
      terminated_at = i;
    }
  }
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& [run_id, n] : requests) {
    EXPECT_EQ(n, kCount) << run_id;
    EXPECT_GT(samples[run_id], 0) << run_id;
    EXPECT_EQ(summaries[run_id], 1) << run_id;
  }
  EXPECT_LT(cleanup_at, terminated_at);
  EXPECT_LT(terminated_at, done_at);

  // One results file per iteration, completed, with the pod's metadata.
  const ev::Phase* done = LastPhase(r.events);
  ASSERT_EQ(done->data["result_paths"].size(), 2u);
  EXPECT_EQ(JsonFiles(results).size(), 2u);
  for (const auto& path : done->data["result_paths"]) {
    auto file = ReadJson(path.get<std::string>());
    ASSERT_TRUE(file.is_object()) << path;
    EXPECT_EQ(file["status"], "completed") << path;
    EXPECT_EQ(file["requests"].size(), static_cast<std::size_t>(kCount)) << path;
    EXPECT_EQ(file["summary"]["successful_requests"], kCount) << path;
    EXPECT_EQ(file["metadata"]["pod_id"], pod_id);
    EXPECT_EQ(file["metadata"]["gpu_type"], "H100-80GB");
    // The pod's own rate (the fake says 0.74), as numbers, so the cost is computed.
    EXPECT_EQ(file["metadata"]["cost_per_hr"], 0.74) << file["metadata"].dump();
    EXPECT_EQ(file["metadata"]["gpu_count"], 8);
    EXPECT_TRUE(file["metadata"]["cost_usd"].is_number()) << file["metadata"].dump();
  }
}

// A mid-execution stop: the signal goes out once the third request of the run completed.
class RunpodKillTest : public RunpodRunTest, public testing::WithParamInterface<int> {};

TEST_P(RunpodKillTest, StopMidExecutionLeavesAPartialFileAndNoPod) {
  const int sig = GetParam();
  std::string results = dir_ + "/results";
  RunSpec spec = Spec({Config("rpkill", 100000, ""), "--confirm", "--output-dir", results});
  int seen = 0;
  spec.on_event = [&](const ev::Event& e) {
    if (std::holds_alternative<ev::RequestComplete>(e) && ++seen == 3) return sig;
    return 0;
  };
  spec.timeout_ms = 90000;
  RunResult r = RunIbRun(dir_, spec);
  ASSERT_GE(seen, 3) << r.err;
  std::cout << "[ measure ] " << strsignal(sig) << ": signal to ib-run's exit " << r.signal_to_exit_s << " s\n";

  if (sig == SIGKILL) {
    EXPECT_TRUE(r.signaled);
    EXPECT_EQ(r.signal, SIGKILL);
    // Nobody is left to report: ib-provision sees its stdin end (and its parent die) and
    // deletes the pod; ib-aggregate sees EOF (and SIGTERM) and writes the run as partial.
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(fake_.WaitAllDeleted(30000)) << fake_.Ledger().dump();
    std::cout << "[ measure ] SIGKILL: ib-run's death to the pod's deletion "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
    EXPECT_TRUE(WaitForNoChildren({fake_.pid()}, 30000));
  } else {
    EXPECT_EQ(r.code, 130) << r.err;
    EXPECT_EQ(fake_.Alive(), 0) << "pod still alive at ib-run's exit: " << fake_.Ledger().dump();
    const ev::Phase* last = LastPhase(r.events);
    ASSERT_NE(last, nullptr);
    EXPECT_EQ(last->phase, "failed");
    EXPECT_EQ(last->data["reason"], "interrupted");
    ASSERT_EQ(last->data["result_paths"].size(), 1u);
    const ev::Phase* done = FindPhase(r.events, "iteration_done");
    ASSERT_NE(done, nullptr);
    EXPECT_EQ(done->data["reason"], "interrupted");
    EXPECT_EQ(Phases(r.events).back(), "failed");
  }
  EXPECT_EQ(fake_.Created(), 1);

  // One partial results file, valid JSON, holding at least every request the stream showed.
  auto files = JsonFiles(results);
  ASSERT_EQ(files.size(), 1u);
  auto file = ReadJson(files[0]);
  ASSERT_TRUE(file.is_object()) << Slurp(files[0]).substr(0, 300);
  EXPECT_EQ(file["status"], "partial");
  std::cout << "[ result  ] " << strsignal(sig) << ": " << file["requests"].size() << " requests, stop_reason "
            << file["stop_reason"] << "\n";
  EXPECT_GE(file["requests"].size(), static_cast<std::size_t>(seen));
  if (sig != SIGKILL) {
    int in_stream = 0;
    for (const auto& e : r.events) in_stream += std::holds_alternative<ev::RequestComplete>(e);
    EXPECT_EQ(file["requests"].size(), static_cast<std::size_t>(in_stream));
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, RunpodKillTest, testing::Values(SIGINT, SIGTERM, SIGKILL),
                         [](const testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGINT    ? "SIGINT"
                                              : info.param == SIGTERM ? "SIGTERM"
                                                                      : "SIGKILL");
                         });

}  // namespace
