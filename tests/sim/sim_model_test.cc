// ib-sim's model and faults, seen from outside: queueing beyond max_num_seqs, KV usage rising
// with load, prefix-cache hits on a repeated prompt, and every fault flag.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/http/http.h"
#include "tests/sim/sse_client.h"
#include "tests/support/sim_process.h"

namespace ib::testing {
namespace {

using json = nlohmann::json;

// The value of the first sample of `name` on a metrics page; -1 if absent.
double Metric(const std::string& page, const std::string& name) {
  std::regex re("(^|\n)" + std::regex_replace(name, std::regex(R"([.:])"), R"(\$&)") + R"(\{[^}]*\} ([^\n]+))");
  std::smatch m;
  if (!std::regex_search(page, m, re)) return -1;
  return std::stod(m[2]);
}

std::string ChatBody(int max_tokens, const std::string& content = "hello", bool stream = true) {
  json b = {{"messages", {{{"role", "user"}, {"content", content}}}},
            {"max_tokens", max_tokens},
            {"stream", stream}};
  return b.dump();
}

// Polls /metrics until pred(page) holds; returns the page (empty on timeout).
template <typename Pred>
std::string PollMetrics(const SimProcess& sim, Pred pred, int timeout_ms = 15000) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    auto r = http::Get(sim.base_url() + "/metrics");
    if (r.status == 200 && pred(r.body)) return r.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

TEST(IbSimModel, QueuesBeyondMaxNumSeqsAndKvUsageRisesWithLoad) {
  SimProcess sim({"--max-num-seqs", "2", "--step-base-ms", "10", "--step-per-seq-ms", "0"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  std::string prompt(640, 'k');  // 160 tokens: 11 blocks with its first output token
  std::vector<std::thread> clients;
  clients.emplace_back([&] { PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(60, prompt + "0")); });
  std::string one = PollMetrics(sim, [](const std::string& p) { return Metric(p, "vllm:num_requests_running") == 1; });
  ASSERT_FALSE(one.empty());
  double kv1 = Metric(one, "vllm:kv_cache_usage_perc");
  EXPECT_GT(kv1, 0);
  for (int i = 1; i < 5; ++i)
    clients.emplace_back([&, i] { PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(60, prompt + std::to_string(i))); });
  std::string busy = PollMetrics(sim, [](const std::string& p) { return Metric(p, "vllm:num_requests_waiting") > 0 && Metric(p, "vllm:num_requests_running") == 2; });
  ASSERT_FALSE(busy.empty()) << "no request ever waited";
  EXPECT_EQ(Metric(busy, "vllm:num_requests_running"), 2);
  EXPECT_GT(Metric(busy, "vllm:kv_cache_usage_perc"), kv1);
  for (auto& t : clients) t.join();
  std::string idle = PollMetrics(sim, [](const std::string& p) { return Metric(p, "vllm:num_requests_running") == 0; });
  EXPECT_EQ(Metric(idle, "vllm:kv_cache_usage_perc"), 0);
  EXPECT_EQ(Metric(idle, "vllm:num_requests_waiting"), 0);
  EXPECT_EQ(Metric(idle, "vllm:generation_tokens_total"), 300);
  EXPECT_GT(Metric(idle, "vllm:request_queue_time_seconds_sum"), 0);
}

TEST(IbSimModel, RepeatedPromptHitsThePrefixCache) {
  std::string truth = TmpPath("prefix-truth.ndjson");
  for (std::string fw : {"vllm", "sglang"}) {
    SimProcess sim({"--framework", fw, "--preset", "tiny-fast", "--truth", truth});
    ASSERT_TRUE(sim.ok()) << sim.error();
    std::string prompt(64 * 10, 'p');
    http::Request req;
    req.method = "POST";
    req.url = sim.base_url() + "/v1/chat/completions";
    req.body = ChatBody(2, prompt, false);
    ASSERT_EQ(http::Send(req).status, 200);
    ASSERT_EQ(http::Send(req).status, 200);
    auto page = http::Get(sim.base_url() + "/metrics").body;
    if (fw == "vllm") {
      EXPECT_GT(Metric(page, "vllm:prefix_cache_hits_total"), 0) << page;
      EXPECT_GT(Metric(page, "vllm:prefix_cache_queries_total"), Metric(page, "vllm:prefix_cache_hits_total"));
    } else {
      EXPECT_GT(Metric(page, "sglang:cache_hit_rate"), 0) << page;
    }
    sim.Stop();
    auto lines = ReadNdjson(truth);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["cached_prompt_tokens"], 0);
    EXPECT_GT(lines[1]["cached_prompt_tokens"].get<int>(), 0);
    EXPECT_LT(lines[1]["cached_prompt_tokens"].get<int>(), lines[1]["prompt_tokens"].get<int>());
  }
}

std::vector<std::string> Det(std::vector<std::string> extra) {
  std::vector<std::string> f = {"--deterministic", "--ttft-ms", "1", "--itl-ms", "1"};
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

TEST(IbSimFaults, HttpErrorsHaveRealBodies) {
  for (auto [flag, status] : {std::pair<std::string, int>{"--fault-500-rate", 500}, {"--fault-429-rate", 429}}) {
    for (std::string fw : {"vllm", "sglang"}) {
      std::string truth = TmpPath("err-truth.ndjson");
      SimProcess sim(Det({flag, "1", "--framework", fw, "--truth", truth}));
      ASSERT_TRUE(sim.ok()) << sim.error();
      SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(4));
      EXPECT_EQ(r.status, status);
      json body = json::parse(r.body);
      const json& err = fw == "vllm" ? body["error"] : body;
      EXPECT_EQ(err["code"], status) << r.body;
      EXPECT_TRUE(err["message"].is_string());
      if (fw == "sglang") EXPECT_EQ(body["object"], "error");
      sim.Stop();
      auto lines = ReadNdjson(truth);
      ASSERT_EQ(lines.size(), 1u);
      EXPECT_EQ(lines[0]["status"], status);
      EXPECT_EQ(lines[0]["fault"], status == 500 ? "http_500" : "http_429");
    }
  }
}

TEST(IbSimFaults, MidstreamErrorEvent) {
  SimProcess sim(Det({"--fault-midstream-error-rate", "1", "--fault-after-tokens", "2"}));
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(6));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.curl_code, 0);
  ASSERT_EQ(r.events.size(), 5u) << r.body;  // role, 2 tokens, error, [DONE]
  EXPECT_EQ(r.events[3].data.rfind(R"({"error": {"message": )", 0), 0u) << r.events[3].data;
  EXPECT_EQ(json::parse(r.events[3].data)["error"]["code"], 500);
  EXPECT_EQ(r.events[4].data, "[DONE]");
}

TEST(IbSimFaults, DroppedConnection) {
  std::string truth = TmpPath("drop-truth.ndjson");
  SimProcess sim(Det({"--fault-drop-rate", "1", "--fault-after-tokens", "3", "--truth", truth}));
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(8));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.curl_code, 0);  // the transfer ended early (CURLE_PARTIAL_FILE)
  EXPECT_EQ(r.body.find("[DONE]"), std::string::npos);
  ASSERT_EQ(r.events.size(), 4u) << r.body;  // role + 3 tokens
  // The server is still fine afterwards.
  EXPECT_EQ(http::Get(sim.base_url() + "/health").status, 200);
  sim.Stop();
  auto lines = ReadNdjson(truth);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["fault"], "drop");
  EXPECT_EQ(lines[0]["completion_tokens"], 3);
}

TEST(IbSimFaults, StallThenResume) {
  std::string truth = TmpPath("stall-truth.ndjson");
  SimProcess sim(Det({"--fault-stall-rate", "1", "--fault-stall-s", "0.3", "--fault-after-tokens", "2", "--truth", truth}));
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(4));
  EXPECT_EQ(r.curl_code, 0);
  EXPECT_EQ(r.events.back().data, "[DONE]");
  sim.Stop();
  auto lines = ReadNdjson(truth);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["fault"], "stall");
  const json& t = lines[0]["token_ns"];
  ASSERT_EQ(t.size(), 4u);
  // Token 2 is due at arrival + ttft + 2 * itl + stall, and is never early.
  EXPECT_GE(t[2].get<int64_t>() - lines[0]["arrival_ns"].get<int64_t>(), 303'000'000);
}

TEST(IbSimFaults, MalformedChunkThenTheStreamGoesOn) {
  SimProcess sim(Det({"--fault-malformed-rate", "1", "--fault-after-tokens", "1"}));
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(3));
  EXPECT_EQ(r.curl_code, 0);
  int bad = 0;
  for (const auto& e : r.events)
    if (e.data != "[DONE]" && json::parse(e.data, nullptr, false).is_discarded()) ++bad;
  EXPECT_EQ(bad, 1) << r.body;
  EXPECT_EQ(r.events.back().data, "[DONE]");
  EXPECT_EQ(r.events.size(), 6u);  // role, token, malformed, 2 tokens, [DONE]
}

TEST(IbSimFaults, SlowLoadMetricsGoneAndSlowHealth) {
  SimProcess sim(Det({"--load-time-s", "0.5", "--fault-metrics-gone-after-s", "0", "--fault-health-delay-ms", "20"}));
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto loading = http::Get(sim.base_url() + "/health");
  EXPECT_EQ(loading.status, 503);
  SseResult early = PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(2));
  EXPECT_EQ(early.status, 503);
  ASSERT_TRUE(sim.WaitHealthy());
  EXPECT_EQ(http::Get(sim.base_url() + "/health").status, 200);
  EXPECT_EQ(http::Get(sim.base_url() + "/metrics").status, 404);
  SseResult ok = PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(2));
  EXPECT_EQ(ok.status, 200);
}

TEST(IbSimFaults, SeededRatesPickTheSameRequests) {
  auto run = [](const std::string& seed) {
    std::string truth = TmpPath("seed-" + seed + ".ndjson");
    SimProcess sim(Det({"--fault-500-rate", "0.5", "--seed", seed, "--truth", truth}));
    std::string statuses;
    for (int i = 0; i < 12; ++i)
      statuses += std::to_string(PostStream(sim.base_url() + "/v1/chat/completions", ChatBody(1)).status) + " ";
    return statuses;
  };
  std::string a = run("7"), b = run("7");
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find("500"), std::string::npos);
  EXPECT_NE(a.find("200"), std::string::npos);
}

}  // namespace
}  // namespace ib::testing
