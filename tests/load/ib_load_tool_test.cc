// ib-load as a process, against the Civetweb test server: the event stream it writes, its
// exit codes, its usage errors, configs with sweeps, and Ctrl-C.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/events/stream.h"
#include "lib/load/test_server.h"
#include "lib/proc/proc.h"
#include "tests/load/tool_runner.h"

namespace ib::load {
namespace {

testing::TestServer* server = nullptr;

class Env : public ::testing::Environment {
 public:
  void SetUp() override { server = new testing::TestServer(); }
  void TearDown() override { delete server; }
};
const auto* env = ::testing::AddGlobalTestEnvironment(new Env);

using testing::All;
using testing::Phases;
using testing::ToolRun;
ToolRun RunTool(std::vector<std::string> args,
                const std::function<void(pid_t, const events::Event&)>& on_event = nullptr) {
  return testing::RunIbLoad(std::move(args), on_event);
}

TEST(IbLoadTool, AdHocRunEmitsTheContractStream) {
  ToolRun run = RunTool({"--server-url", server->base_url(), "--endpoint", "/stream?tokens=3", "--model", "m",
                         "--workload", "concurrent", "--concurrency", "2", "--count", "5", "--warmup", "1",
                         "--run-id", "adhoc-1", "--meta", "gpu_type=none", "--meta", "pod_id=p1"});
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_GE(run.events.size(), 8u);
  auto* first = std::get_if<events::Phase>(&run.events.front());
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->phase, "execution");
  EXPECT_EQ(first->run_id, "adhoc-1");
  EXPECT_EQ(first->data["total_requests"], 5);
  EXPECT_EQ(first->data["workload_type"], "concurrent");
  EXPECT_EQ(first->data["iteration"], 1);
  EXPECT_EQ(first->data["total"], 1);
  EXPECT_EQ(first->data["metadata"]["server_url"], server->base_url());
  EXPECT_EQ(first->data["metadata"]["model"], "m");
  EXPECT_EQ(first->data["metadata"]["framework"], "vllm");
  EXPECT_EQ(first->data["metadata"]["gpu_type"], "none");
  EXPECT_EQ(first->data["metadata"]["pod_id"], "p1");
  EXPECT_EQ(first->data["experiment"]["workload"]["concurrency"], 2);
  // The ad-hoc experiment is lib/config's ToJson of the flags (its name, model, framework and
  // workload sections), with what --warmup changed; no metrics section (ib-aggregate's flags decide).
  const events::Execution e = events::ExecutionOf(*first);
  ASSERT_TRUE(e.experiment.has_value());
  EXPECT_EQ(e.experiment->size(), 4u) << e.experiment->dump();
  EXPECT_EQ((*e.experiment)["name"], "ib-load");
  EXPECT_EQ((*e.experiment)["framework"], "vllm");
  EXPECT_EQ((*e.experiment)["model"], nlohmann::json::parse(R"({"name":"m","quantization":null})"));
  EXPECT_EQ((*e.experiment)["workload"]["type"], "concurrent");
  EXPECT_EQ((*e.experiment)["workload"]["requests"]["count"], 5);
  EXPECT_EQ((*e.experiment)["workload"]["warmup_requests"], 1);
  EXPECT_EQ((*e.experiment)["workload"]["timeout_s"], 600.0);
  EXPECT_TRUE((*e.experiment)["workload"]["batch_size"].is_null());
  EXPECT_EQ(e.total_requests, 5);

  auto requests = All<events::RequestComplete>(run);
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_TRUE(requests[0].warmup);
  for (std::size_t i = 1; i < requests.size(); ++i) {
    EXPECT_FALSE(requests[i].warmup);
    EXPECT_FALSE(requests[i].error.has_value()) << *requests[i].error;
    EXPECT_EQ(requests[i].run_id, "adhoc-1");
    EXPECT_EQ(requests[i].iteration, 0);
    EXPECT_EQ(requests[i].completion_tokens, 3);
  }
  auto* last = std::get_if<events::Phase>(&run.events.back());
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->phase, "iteration_done");
  EXPECT_EQ(last->data["completed"], true);
  EXPECT_EQ(last->data["reason"], "finished");
  EXPECT_EQ(last->data["requests"]["succeeded"], 5);
  EXPECT_GT(last->data["client"]["sse_events"].get<int64_t>(), 0);
}

TEST(IbLoadTool, OffsetsAreFromT0) {
  int64_t t0 = 0;
  {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec - 5'000'000'000;  // 5 s ago
  }
  ToolRun run = RunTool({"--server-url", server->base_url(), "--endpoint", "/stream", "--model", "m", "--count",
                         "1", "--t0-ns", std::to_string(t0)});
  auto requests = All<events::RequestComplete>(run);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_GE(requests[0].start_ms, 5000.0);
  EXPECT_TRUE(requests[0].run_id.rfind("ib-load-", 0) == 0) << requests[0].run_id;
}

TEST(IbLoadTool, ConfigWithASweepRunsEachIteration) {
  std::string dir = ::testing::TempDir();
  {
    std::ofstream prompts(dir + "/p.jsonl");
    prompts << R"({"messages":[{"role":"user","content":"one"}]})" << "\n"
            << R"({"messages":[{"role":"user","content":"two"}]})" << "\n";
    std::ofstream yaml(dir + "/x.yaml");
    yaml << "name: sweep-test\nmodel:\n  name: m\nframework: sglang\nworkload:\n  type: concurrent\n"
            "  concurrency: 1\n  requests:\n    source: p.jsonl\n    count: 3\n  parameters:\n    max_tokens: 4\n"
            "  sweep:\n    concurrency: [1, 2]\n";
  }
  ToolRun all = RunTool({"--server-url", server->base_url(), "--endpoint", "/stream", "--config", dir + "/x.yaml"});
  EXPECT_EQ(all.exit_code, 0) << all.stderr_text;
  auto starts = Phases(all, "execution");
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].data["params"]["concurrency"], 1);
  EXPECT_EQ(starts[1].data["params"]["concurrency"], 2);
  EXPECT_EQ(starts[1].data["iteration"], 2);
  EXPECT_EQ(starts[1].data["total"], 2);
  EXPECT_EQ(starts[1].data["metadata"]["framework"], "sglang");
  EXPECT_EQ(starts[1].data["experiment"]["name"].get<std::string>().rfind("sweep-test", 0), 0u);
  EXPECT_NE(starts[0].run_id, starts[1].run_id);
  EXPECT_EQ(Phases(all, "iteration_done").size(), 2u);
  EXPECT_EQ(All<events::RequestComplete>(all).size(), 6u);
  EXPECT_EQ(server->last_body().find("\"max_tokens\":4") != std::string::npos, true);

  ToolRun one = RunTool({"--server-url", server->base_url(), "--endpoint", "/stream", "--config", dir + "/x.yaml",
                         "--iteration", "2", "--run-id", "given"});
  EXPECT_EQ(one.exit_code, 0) << one.stderr_text;
  auto one_start = Phases(one, "execution");
  ASSERT_EQ(one_start.size(), 1u);
  EXPECT_EQ(one_start[0].run_id, "given");
  EXPECT_EQ(one_start[0].data["iteration"], 2);
  for (auto& r : All<events::RequestComplete>(one)) EXPECT_EQ(r.iteration, 2);
}

TEST(IbLoadTool, UsageErrorsExitTwoWithAClearMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::string url = server->base_url();
  std::vector<Case> cases = {
      {{"--model", "m"}, "--server-url"},
      {{"--server-url", "localhost:1", "--model", "m"}, "must start with http://"},
      {{"--server-url", url}, "--model is required without --config"},
      {{"--server-url", url, "--model", "m", "--workload", "zigzag"}, "workload type must be"},
      {{"--server-url", url, "--model", "m", "--workload", "batch"}, "requires a batch size"},
      {{"--server-url", url, "--model", "m", "--workload", "rate", "--request-rate", "-1"}, "positive number"},
      {{"--server-url", url, "--model", "m", "--meta", "novalue"}, "--meta takes key=value"},
      {{"--server-url", url, "--model", "m", "--prompts", "/nonexistent.jsonl"}, "Prompt file not found"},
      {{"--server-url", url, "--config", "/nonexistent.yaml"}, "ib-load: error"},
      {{"--server-url", url, "--model", "m", "--count", "x"}, "ib-load: error"},
      {{"--server-url", url, "--model", "m", "--count", "5", "--only-requests", "3,1"}, "ascending without repeats"},
      {{"--server-url", url, "--model", "m", "--count", "5", "--only-requests", "2-9"}, "beyond the workload's 5"},
      {{"--server-url", url, "--model", "m", "--count", "5", "--only-requests", "a-b"}, "ranges like 0-9,12"},
      {{"--server-url", url, "--model", "m", "--workload", "multi_turn", "--only-requests", "1"},
       "not multi_turn"},
  };
  for (const auto& c : cases) {
    ToolRun run = RunTool(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.message << "\n" << run.stderr_text;
    EXPECT_NE(run.stderr_text.find(c.message), std::string::npos) << c.message << "\n" << run.stderr_text;
    EXPECT_TRUE(run.events.empty());
  }
}

TEST(IbLoadTool, CircuitBreakerExitsOneAndSaysWhy) {
  ToolRun run = RunTool({"--server-url", server->base_url(), "--endpoint", "/http500", "--model", "m", "--count", "20"});
  EXPECT_EQ(run.exit_code, 1);
  auto done = Phases(run, "iteration_done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].data["completed"], false);
  EXPECT_EQ(done[0].data["reason"], "circuit breaker: 5 consecutive requests failed");
  EXPECT_EQ(All<events::RequestComplete>(run).size(), 5u);
}

TEST(IbLoadTool, CtrlCStopsSendingCancelsInFlightAndReports) {
  bool sent = false;
  ToolRun run = RunTool({"--server-url", server->base_url(), "--endpoint", "/stall?ms=3000", "--model", "m",
                         "--workload", "concurrent", "--concurrency", "3", "--count", "30", "--drain-timeout-s", "0.2"},
                        [&](pid_t pid, const events::Event& e) {
                          auto* p = std::get_if<events::Phase>(&e);
                          if (p && p->phase == "execution" && !sent) {
                            std::this_thread::sleep_for(std::chrono::milliseconds(200));
                            kill(pid, SIGINT);
                            sent = true;
                          }
                        });
  EXPECT_EQ(run.exit_code, 130) << run.stderr_text;
  auto requests = All<events::RequestComplete>(run);
  ASSERT_EQ(requests.size(), 3u);
  for (auto& r : requests) EXPECT_EQ(r.error_kind, "cancelled");
  auto done = Phases(run, "iteration_done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].data["completed"], false);
  EXPECT_EQ(done[0].data["reason"], "interrupted");
}

}  // namespace
}  // namespace ib::load
