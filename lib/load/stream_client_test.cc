#include "lib/load/stream_client.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/load/measure.h"
#include "lib/load/test_server.h"

namespace ib::load {
namespace {

testing::TestServer* server = nullptr;

class Env : public ::testing::Environment {
 public:
  void SetUp() override { server = new testing::TestServer(); }
  void TearDown() override { delete server; }
};
const auto* env = ::testing::AddGlobalTestEnvironment(new Env);

// Runs the given requests against one URL until all are done (bounded by the client's timeouts).
std::vector<Result> RunAll(const std::string& url, std::vector<Request> requests, double timeout_s = 10,
                           double idle_timeout_s = 5) {
  StreamClient client({.url = url, .timeout_s = timeout_s, .idle_timeout_s = idle_timeout_s,
                       .max_connections = static_cast<int64_t>(requests.size())});
  EXPECT_EQ(client.error(), "");
  for (auto& r : requests) client.Start(std::move(r));
  std::vector<Result> done;
  int64_t give_up = NowNs() + 30'000'000'000;
  while (client.in_flight() > 0 && NowNs() < give_up) client.RunOnce(give_up, &done);
  EXPECT_EQ(client.in_flight(), 0u);
  return done;
}

Request Req(int64_t index, bool keep = false) {
  Request r;
  r.index = index;
  r.body = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true})";
  r.keep_content = keep;
  return r;
}

events::RequestComplete MeasureOne(const Result& r, int64_t t0 = 0) {
  return Measure(r.request, r.observation, {.run_id = "run", .iteration = 2, .t0_ns = t0, .idle_timeout_s = 0.3,
                                            .timeout_s = 0.5});
}

TEST(StreamClient, MeasuresAStreamAsVllmDefinesIt) {
  int64_t t0 = NowNs();
  auto done = RunAll(server->base_url() + "/stream?tokens=6&ttft_ms=30&itl_ms=10", {Req(3, true)});
  ASSERT_EQ(done.size(), 1u);
  const Observation& o = done[0].observation;
  EXPECT_TRUE(o.saw_done);
  EXPECT_EQ(o.http_status, 200);
  EXPECT_EQ(o.content, "t0 t1 t2 t3 t4 t5 ");
  // role chunk + 6 content chunks + the finish chunk bear "choices"; the usage chunk does not.
  EXPECT_EQ(o.choice_ns.size(), 8u);
  EXPECT_EQ(server->last_body(), done[0].request.body);

  auto rc = MeasureOne(done[0], t0);
  EXPECT_FALSE(rc.error.has_value()) << *rc.error;
  EXPECT_EQ(rc.run_id, "run");
  EXPECT_EQ(rc.request_index, 3);
  EXPECT_EQ(rc.iteration, 2);
  EXPECT_GE(rc.start_ms, 0);
  EXPECT_GE(rc.end_ms, rc.start_ms + *rc.e2e_latency_ms - 0.001);
  ASSERT_TRUE(rc.ttft_ms && rc.ttfc_ms && rc.e2e_latency_ms && rc.tpot_ms);
  EXPECT_GE(*rc.ttft_ms, 29.0);  // the server slept 30 ms before any byte (lower bounds only)
  EXPECT_GE(*rc.ttfc_ms, *rc.ttft_ms);
  EXPECT_EQ(rc.inter_token_latencies_ms.size(), 7u);
  double sum = 0;
  for (double g : rc.inter_token_latencies_ms) sum += g;
  EXPECT_NEAR(*rc.ttft_ms + sum, *rc.e2e_latency_ms, 1e-6);
  EXPECT_GE(sum, 49.0);  // five 10 ms sleeps between content chunks
  EXPECT_EQ(rc.completion_tokens, 6);
  EXPECT_EQ(rc.prompt_tokens, 7);
  EXPECT_EQ(rc.token_count_source, "usage");
  EXPECT_NEAR(*rc.tpot_ms, (*rc.e2e_latency_ms - *rc.ttft_ms) / 5, 1e-9);
  EXPECT_TRUE(rc.started_at.has_value());
}

TEST(StreamClient, CountsChunksWhenThereIsNoUsage) {
  auto done = RunAll(server->base_url() + "/nousage?tokens=4", {Req(0)});
  ASSERT_EQ(done.size(), 1u);
  auto rc = MeasureOne(done[0]);
  EXPECT_FALSE(rc.error.has_value());
  EXPECT_EQ(rc.completion_tokens, 4);
  EXPECT_EQ(rc.token_count_source, "chunks");
  EXPECT_FALSE(rc.prompt_tokens.has_value());
}

TEST(StreamClient, RunsManyStreamsConcurrentlyOnOneThread) {
  std::vector<Request> reqs;
  for (int i = 0; i < 12; ++i) reqs.push_back(Req(i));
  int64_t before = NowNs();
  auto done = RunAll(server->base_url() + "/stream?tokens=3&ttft_ms=200", std::move(reqs));
  ASSERT_EQ(done.size(), 12u);
  for (auto& r : done) EXPECT_FALSE(MeasureOne(r).error.has_value());
  // They overlapped: each started before any could have finished (ttft 200 ms).
  for (auto& r : done) EXPECT_LT(r.observation.start_ns - before, done[0].observation.choice_ns.front() - before);
}

struct FailureCase {
  std::string path;
  std::string kind;
  std::string message_part;
};

TEST(StreamClient, EveryFailureBecomesAClassifiedResult) {
  std::vector<FailureCase> cases = {
      {"/http500", "http_status", "HTTP 500: {\"object\":\"error\",\"message\":\"simulated failure\""},
      {"/sse_error", "sse_error", "SSE error event: out of KV cache"},
      {"/malformed", "sse_error", "malformed SSE data (1 event(s)): {\"choices\""},
      {"/reset", "reset", "connection lost"},
      {"/truncated", "truncated", "stream ended without [DONE]"},
      {"/stall?ms=1500", "idle_timeout", "idle timeout: no bytes for 0.3 s"},
  };
  for (const auto& c : cases) {
    auto done = RunAll(server->base_url() + c.path, {Req(0)}, /*timeout_s=*/10, /*idle_timeout_s=*/0.3);
    ASSERT_EQ(done.size(), 1u) << c.path;
    auto rc = MeasureOne(done[0]);
    ASSERT_TRUE(rc.error.has_value()) << c.path;
    EXPECT_EQ(rc.error_kind, c.kind) << c.path << ": " << *rc.error;
    EXPECT_NE(rc.error->find(c.message_part), std::string::npos) << c.path << ": " << *rc.error;
    EXPECT_FALSE(rc.ttft_ms.has_value()) << c.path;
  }
}

TEST(StreamClient, WholeRequestTimeout) {
  auto done = RunAll(server->base_url() + "/stall?ms=1500", {Req(0)}, /*timeout_s=*/0.5, /*idle_timeout_s=*/5);
  ASSERT_EQ(done.size(), 1u);
  auto rc = MeasureOne(done[0]);
  EXPECT_EQ(rc.error_kind, "timeout") << rc.error.value_or("");
}

TEST(StreamClient, ConnectErrors) {
  auto done = RunAll(testing::RefusedUrl() + "/v1/chat/completions", {Req(0)});
  ASSERT_EQ(done.size(), 1u);
  auto rc = MeasureOne(done[0]);
  EXPECT_EQ(rc.error_kind, "connect") << rc.error.value_or("");
  EXPECT_FALSE(rc.http_status.has_value());
}

TEST(StreamClient, CancelAllAbandonsInFlightRequests) {
  StreamClient client({.url = server->base_url() + "/stall?ms=1500", .max_connections = 2});
  client.Start(Req(0));
  client.Start(Req(1));
  std::vector<Result> done;
  client.RunOnce(NowNs() + 100'000'000, &done);  // the requests go out
  EXPECT_TRUE(done.empty());
  client.CancelAll(&done);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(client.in_flight(), 0u);
  for (auto& r : done) EXPECT_EQ(MeasureOne(r).error_kind, "cancelled");
}

TEST(StreamClient, RunOnceReturnsAtItsDeadlineAndOnWake) {
  StreamClient client({.url = server->base_url() + "/stall?ms=1500"});
  std::vector<Result> done;
  int64_t deadline = NowNs() + 20'000'000;
  client.RunOnce(deadline, &done);
  EXPECT_GE(NowNs(), deadline);
  char byte = 1;
  ASSERT_EQ(write(client.wake_fd(), &byte, 1), 1);
  client.RunOnce(-1, &done);  // returns because of the wake byte, not a deadline
  EXPECT_TRUE(done.empty());
}

TEST(Measure, SkippedAndScheduled) {
  Request r = Req(9);
  r.turn_index = 2;
  r.conversation_index = 1;
  auto rc = Skipped(r, 5'000'000, "previous turn failed", {.run_id = "x", .t0_ns = 1'000'000});
  EXPECT_EQ(rc.error, "skipped: previous turn failed");
  EXPECT_EQ(rc.error_kind, "skipped");
  EXPECT_DOUBLE_EQ(rc.start_ms, 4.0);
  EXPECT_EQ(rc.turn_index, 2);

  Observation o;
  o.start_ns = 12'000'000;
  o.end_ns = 20'000'000;
  o.saw_done = true;
  o.http_status = 200;
  r.scheduled_ns = 10'000'000;
  auto m = Measure(r, o, {.t0_ns = 0});
  EXPECT_DOUBLE_EQ(*m.scheduled_ms, 10.0);
  EXPECT_DOUBLE_EQ(*m.send_lag_ms, 2.0);
  EXPECT_FALSE(m.ttft_ms.has_value());  // a 200 with no token-bearing event: success, no TTFT
  EXPECT_EQ(m.completion_tokens, 0);
}

}  // namespace
}  // namespace ib::load
