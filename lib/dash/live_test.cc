#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/dash/client_queue.h"
#include "lib/dash/live_hub.h"
#include "lib/dash/live_state.h"

namespace ib::dash {
namespace {

using nlohmann::json;

events::GpuSample Sample(const std::string& run, double t) {
  events::GpuSample s;
  s.run_id = run;
  s.t_s = t;
  s.kv_cache_usage_frac = 0.5;
  return s;
}

events::RequestComplete Request(const std::string& run, int64_t index, bool warmup = false) {
  events::RequestComplete r;
  r.run_id = run;
  r.request_index = index;
  r.warmup = warmup;
  r.start_ms = 1;
  r.end_ms = 2;
  return r;
}

events::Phase Phase(const std::string& run, const std::string& name, json data = json::object()) {
  return {run, name, std::move(data)};
}

std::vector<json> Drain(LiveHub::Client& client) {
  std::vector<json> out;
  while (true) {
    auto batch = client.WaitBatch(1 << 20, std::chrono::milliseconds(0));
    if (batch.empty()) return out;
    for (auto& m : batch) out.push_back(json::parse(*m.text));
  }
}

TEST(ClientQueueTest, TrimsOldestGpuSamplesFirstAndKeepsEveryRequest) {
  ClientQueue q({.soft_limit_bytes = 2000, .hard_limit_bytes = 100000});
  std::string gpu(100, 'g'), req(100, 'r');
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(q.Push(OutMessage::Make(std::to_string(i) + gpu, MessageKind::kGpuSample)));
    if (i % 5 == 0) EXPECT_TRUE(q.Push(OutMessage::Make(std::to_string(i) + req, MessageKind::kRequest)));
  }
  EXPECT_GT(q.counters().dropped_gpu_samples, 0u);
  int requests = 0, last_gpu = -1;
  for (auto& m : q.PopBatch(1 << 20)) {
    if (m.kind == MessageKind::kRequest) ++requests;
    if (m.kind == MessageKind::kGpuSample) last_gpu = std::stoi(*m.text);
  }
  EXPECT_EQ(requests, 10);
  EXPECT_EQ(last_gpu, 49);  // the newest sample survives; the oldest went first
}

TEST(ClientQueueTest, OverflowsOnlyWhenRequestsAloneExceedTheHardLimit) {
  ClientQueue q({.soft_limit_bytes = 100, .hard_limit_bytes = 1000});
  std::string log(100, 'l'), req(100, 'r');
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(q.Push(OutMessage::Make(log, MessageKind::kLog)));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(q.Push(OutMessage::Make(req, MessageKind::kRequest)));
  EXPECT_GT(q.counters().dropped_logs, 0u);
  bool ok = true;
  for (int i = 0; i < 10 && ok; ++i) ok = q.Push(OutMessage::Make(req, MessageKind::kRequest));
  EXPECT_FALSE(ok);
  EXPECT_TRUE(q.overflowed());
}

TEST(ClientQueueTest, PopBatchRespectsTheByteBudgetButAlwaysMakesProgress) {
  ClientQueue q;
  q.Push(OutMessage::Make(std::string(500, 'a'), MessageKind::kOther));
  q.Push(OutMessage::Make(std::string(500, 'b'), MessageKind::kOther));
  EXPECT_EQ(q.PopBatch(10).size(), 1u);
  EXPECT_EQ(q.PopBatch(10).size(), 1u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(LiveHubTest, LateClientGetsStateFirstThenTheLiveStream) {
  LiveHub hub;
  hub.SetPort(1234);
  hub.PublishEvent(Phase("run-a", "execution",
                         {{"total_requests", 3},
                          {"metadata", {{"framework", "vllm"}, {"model", "m"}, {"gpu_type", "A100-80GB"}, {"gpu_count", 1}}},
                          {"experiment", {{"name", "demo"}}}}));
  hub.PublishEvent(Request("run-a", 0, /*warmup=*/true));
  hub.PublishEvent(Request("run-a", 1));
  auto client = hub.Connect();
  hub.PublishEvent(Request("run-a", 2));
  auto messages = Drain(*client);
  ASSERT_EQ(messages.size(), 2u);
  ASSERT_EQ(messages[0]["type"], "state");
  const json& state = messages[0]["data"];
  EXPECT_EQ(state["port"], 1234);
  EXPECT_EQ(state["current_run"]["run_id"], "run-a");
  EXPECT_EQ(state["current_run"]["name"], "demo");
  EXPECT_EQ(state["current_run"]["framework"], "vllm");
  EXPECT_EQ(state["current_run"]["phase"], "execution");
  EXPECT_EQ(state["current_run"]["phase_index"], 3);
  EXPECT_EQ(state["current_run"]["phase_count"], 4);
  EXPECT_EQ(state["current_run"]["total_requests"], 3);
  EXPECT_EQ(state["current_run"]["completed_requests"], 1);  // warmup not counted
  EXPECT_EQ(state["recent_requests"].size(), 2u);
  EXPECT_TRUE(state["last_summary"].is_null());
  EXPECT_EQ(messages[1]["type"], "request_complete");
  EXPECT_EQ(messages[1]["data"]["request_index"], 2);
}

TEST(LiveHubTest, DownsamplesGpuSamplesPerRunToOnePerSecond) {
  LiveHub hub;
  auto client = hub.Connect();
  Drain(*client);
  for (int i = 0; i < 50; ++i) hub.PublishEvent(Sample("run-a", i * 0.1));  // 5 s at 10/s
  for (int i = 0; i < 10; ++i) hub.PublishEvent(Sample("run-b", i * 0.1));
  auto messages = Drain(*client);
  int a = 0, b = 0;
  for (auto& m : messages) (m["run_id"] == "run-a" ? a : b)++;
  EXPECT_EQ(a, 5);
  EXPECT_EQ(b, 1);
  auto stats = hub.Stats();
  EXPECT_EQ(stats["gpu_samples_in"], 60);
  EXPECT_EQ(stats["gpu_samples_forwarded"], 6);
}

TEST(LiveHubTest, QueueChangesReachEveryClientAndTheState) {
  LiveHub hub;
  auto c1 = hub.Connect(), c2 = hub.Connect();
  Drain(*c1);
  Drain(*c2);
  hub.SetQueue(json::array({{{"queue_id", "q-1"}, {"state", "queued"}}}));
  for (auto* c : {c1.get(), c2.get()}) {
    auto m = Drain(*c);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0]["type"], "queue");
    EXPECT_EQ(m[0]["data"][0]["queue_id"], "q-1");
  }
  EXPECT_EQ(json::parse(hub.StateJson())["queue"][0]["queue_id"], "q-1");
}

TEST(LiveHubTest, DisconnectedClientsReceiveNothing) {
  LiveHub hub;
  auto client = hub.Connect();
  hub.Disconnect(client);
  hub.PublishEvent(Request("run-a", 1));
  EXPECT_TRUE(client->closed());
  EXPECT_TRUE(client->WaitBatch(1 << 20, std::chrono::milliseconds(0)).empty());
  EXPECT_EQ(hub.Stats()["clients"].size(), 0u);
}

TEST(LiveHubTest, SecretsNeverLeave) {
  LiveHub hub({.secrets = {"rpa_SECRETKEY12345"}});
  auto client = hub.Connect();
  Drain(*client);
  hub.PublishEvent(events::MakeLog("run-a", "info", "using key rpa_SECRETKEY12345 now", "ib-run"));
  auto messages = Drain(*client);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["message"], "using key [redacted] now");
  EXPECT_EQ(hub.StateJson().find("SECRETKEY"), std::string::npos);
}

TEST(LiveStateTest, PhasesMapToFourStagesAndANewRunResetsCounters) {
  EXPECT_EQ(PhaseIndex("provisioning_skipped"), 1);
  EXPECT_EQ(PhaseIndex("model_loading_done"), 2);
  EXPECT_EQ(PhaseIndex("sweep_iteration"), 3);
  EXPECT_EQ(PhaseIndex("done"), 4);
  EXPECT_EQ(PhaseIndex("nonsense"), 0);
  LiveHub hub;
  hub.PublishEvent(Phase("run-a", "execution"));
  hub.PublishEvent(Request("run-a", 0));
  hub.PublishEvent(Phase("run-b", "execution"));
  json state = json::parse(hub.StateJson());
  EXPECT_EQ(state["current_run"]["run_id"], "run-b");
  EXPECT_EQ(state["current_run"]["completed_requests"], 0);
  EXPECT_EQ(hub.CurrentRunId(), "run-b");
}

TEST(LiveStateTest, SweepClosingPhasesKeepTheLastIterationCurrent) {
  LiveHub hub;
  hub.PublishEvent(Phase("exp-20261204-024137", "provisioning"));
  hub.PublishEvent(Phase("exp-c4-20261204-024137", "sweep_iteration", {{"name", "exp-c4"}, {"iteration", 1}, {"total", 2}}));
  hub.PublishEvent(Request("exp-c4-20261204-024137", 0));
  hub.PublishEvent(Phase("exp-c8-20261204-024137", "sweep_iteration", {{"name", "exp-c8"}, {"iteration", 2}, {"total", 2}}));
  hub.PublishEvent(Request("exp-c8-20261204-024137", 0));
  hub.PublishEvent(Request("exp-c8-20261204-024137", 1));
  hub.PublishEvent(Phase("exp-20261204-024137", "cleanup"));
  hub.PublishEvent(Phase("exp-20261204-024137", "done"));
  json run = json::parse(hub.StateJson())["current_run"];
  EXPECT_EQ(run["run_id"], "exp-c8-20261204-024137");
  EXPECT_EQ(run["experiment_run_id"], "exp-20261204-024137");
  EXPECT_EQ(run["name"], "exp");
  EXPECT_EQ(run["iteration_name"], "exp-c8");
  EXPECT_EQ(run["phase"], "done");
  EXPECT_EQ(run["status"], "done");
  EXPECT_EQ(run["completed_requests"], 2);
  // The next experiment starts afresh, even when it fails at once.
  hub.PublishEvent(Phase("exp-2", "failed"));
  EXPECT_EQ(hub.CurrentRunId(), "exp-2");
}

TEST(LiveStateTest, AFailedStartAfterAFinishedRunKeepsNothingOfThePreviousRun) {
  LiveHub hub;
  hub.PublishEvent(Phase("sim-demo-20261204-024137", "execution",
                         {{"total_requests", 60}, {"metadata", {{"model", "m"}, {"gpu_type", "A100-80GB"}, {"gpu_count", 1}}}}));
  hub.PublishEvent(Request("sim-demo-20261204-024137", 1));
  hub.PublishEvent(Phase("sim-demo-20261204-024137", "done"));
  hub.PublishEvent(Phase("quick-smoke-test-vllm-20261204-024835", "provisioning", {{"framework", "vllm"}}));
  hub.PublishEvent(Phase("quick-smoke-test-vllm-20261204-024835", "failed", {{"reason", "no RunPod API key"}}));
  json run = json::parse(hub.StateJson())["current_run"];
  EXPECT_EQ(run["run_id"], "quick-smoke-test-vllm-20261204-024835");
  EXPECT_EQ(run["name"], "quick-smoke-test-vllm");
  EXPECT_EQ(run["framework"], "vllm");
  EXPECT_TRUE(run["model"].is_null());
  EXPECT_TRUE(run["gpu_type"].is_null());
  EXPECT_TRUE(run["total_requests"].is_null());
  EXPECT_EQ(run["completed_requests"], 0);
  EXPECT_EQ(run["status"], "failed");
  EXPECT_EQ(run["reason"], "no RunPod API key");
}

TEST(LiveStateTest, AnIterationKeepsTheExperimentAndClearsThePreviousIterationsReason) {
  LiveHub hub;
  hub.PublishEvent(Phase("sim-demo-20261204-024137", "provisioning", {{"model", "m"}, {"gpu_type", "A100-80GB"}}));
  std::string started = json::parse(hub.StateJson())["current_run"]["started_at"];
  hub.PublishEvent(Phase("sim-demo-c4-20261204-024137", "sweep_iteration", {{"iteration", 1}, {"total", 3}, {"name", "sim-demo-c4"}}));
  hub.PublishEvent(Phase("sim-demo-c4-20261204-024137", "execution", {{"total_requests", 60}, {"experiment", {{"name", "sim-demo-c4"}}}}));
  hub.PublishEvent(Request("sim-demo-c4-20261204-024137", 0));
  hub.PublishEvent(Phase("sim-demo-c4-20261204-024137", "iteration_done", {{"reason", "finished"}}));
  EXPECT_EQ(json::parse(hub.StateJson())["current_run"]["reason"], "finished");
  hub.PublishEvent(Phase("sim-demo-c16-20261204-024137", "sweep_iteration", {{"iteration", 2}, {"total", 3}, {"name", "sim-demo-c16"}}));
  json run = json::parse(hub.StateJson())["current_run"];
  EXPECT_EQ(run["run_id"], "sim-demo-c16-20261204-024137");
  EXPECT_EQ(run["name"], "sim-demo");  // the experiment's, before and after a reload
  EXPECT_EQ(run["model"], "m");
  EXPECT_EQ(run["gpu_type"], "A100-80GB");
  EXPECT_EQ(run["started_at"], started);  // elapsed counts from the experiment's start
  EXPECT_EQ(run["iteration"], 2);
  EXPECT_EQ(run["iteration_total"], 3);
  EXPECT_EQ(run["iteration_name"], "sim-demo-c16");
  EXPECT_TRUE(run["reason"].is_null());
  EXPECT_TRUE(run["total_requests"].is_null());
  EXPECT_EQ(run["completed_requests"], 0);
  EXPECT_EQ(run["phase_label"], "Sweep iteration");
  EXPECT_EQ(run["status"], "running");
}

TEST(LiveStateTest, AStopIsStoppedNotFailedAndEachPhaseIsLoggedOnceWithIbDashsTime) {
  LiveHub hub;
  hub.PublishEvent(Phase("sim-smoke-20261204-024137", "execution"));
  auto client = hub.Connect();
  Drain(*client);
  hub.PublishEvent(Phase("sim-smoke-20261204-024137", "failed", {{"reason", "interrupted"}}));
  auto messages = Drain(*client);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0]["type"], "phase");
  EXPECT_EQ(messages[1]["type"], "log");
  EXPECT_EQ(messages[1]["source"], "phase");
  EXPECT_EQ(messages[1]["level"], "info");
  EXPECT_EQ(messages[1]["message"], "stopped (interrupted)");
  EXPECT_FALSE(messages[1]["timestamp"].get<std::string>().empty());
  EXPECT_EQ(messages[2]["type"], "run");
  EXPECT_EQ(messages[2]["data"]["status"], "stopped");
  EXPECT_FALSE(messages[2]["data"]["ended_at"].is_null());
  // A real failure is an error.
  hub.PublishEvent(Phase("other-20261204-024200", "failed", {{"reason", "ib-load died"}}));
  messages = Drain(*client);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1]["level"], "error");
  EXPECT_EQ(messages[2]["data"]["status"], "failed");
  json tail = json::parse(hub.StateJson())["log_tail"];
  ASSERT_EQ(tail.size(), 3u);  // execution, stopped, failed: in the state too
  EXPECT_EQ(tail[2]["message"], "failed: ib-load died");
}

TEST(LiveStateTest, PhaseLabels) {
  EXPECT_EQ(PhaseLabel("execution"), "Running benchmark");
  EXPECT_EQ(PhaseLabel("something-new"), "something-new");
}

}  // namespace
}  // namespace ib::dash
