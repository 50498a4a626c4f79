#include "lib/load/workload.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/load/request_body.h"
#include "lib/load/schedule.h"
#include "lib/load/synthetic.h"
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

Workload Base(const std::string& type, int64_t count) {
  Workload w;
  w.type = type;
  w.count = count;
  w.model = "m";
  w.max_tokens = 8;
  w.timeout_s = 10;
  w.idle_timeout_s = 5;
  w.prompts = SyntheticPrompts(3, {4, 0, 1, 0}, {8, 0, 1, 0}, 1);
  return w;
}

struct RunLog {
  Outcome outcome;
  std::vector<events::RequestComplete> requests;
};

RunLog Execute(const Workload& w, const std::string& path) {
  RunLog run;
  std::string error = ValidateWorkload(w);
  EXPECT_EQ(error, "");
  RunContext ctx{server->base_url() + path, "r1", 1, NowNs()};
  run.outcome = RunWorkload(w, ctx, [&](const events::Event& e) {
    run.requests.push_back(std::get<events::RequestComplete>(e));
    return true;
  });
  return run;
}

int Failed(const RunLog& run) {
  return static_cast<int>(std::count_if(run.requests.begin(), run.requests.end(),
                                        [](const auto& r) { return r.error.has_value(); }));
}

TEST(Workload, SingleSendsOneAtATime) {
  RunLog run = Execute(Base("single", 4), "/stream?tokens=3&ttft_ms=5");
  EXPECT_TRUE(run.outcome.completed);
  EXPECT_EQ(run.outcome.reason, "finished");
  ASSERT_EQ(run.requests.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(run.requests[i].request_index, static_cast<int64_t>(i));
    EXPECT_FALSE(run.requests[i].error.has_value());
    if (i > 0) EXPECT_GE(run.requests[i].start_ms, run.requests[i - 1].end_ms);
  }
  EXPECT_EQ(run.outcome.sent, 4);
  EXPECT_EQ(run.outcome.succeeded, 4);
}

TEST(Workload, WarmupComesFirstAndIsFlagged) {
  Workload w = Base("concurrent", 4);
  w.concurrency = 2;
  w.warmup_requests = 2;
  RunLog run = Execute(w, "/stream?tokens=2");
  ASSERT_EQ(run.requests.size(), 6u);
  EXPECT_TRUE(run.requests[0].warmup && run.requests[1].warmup);
  for (std::size_t i = 2; i < 6; ++i) EXPECT_FALSE(run.requests[i].warmup);
  EXPECT_EQ(run.outcome.sent, 4);  // warmup is not counted
}

TEST(Workload, ChosenRequestNumbersKeepTheirIndexAndPrompt) {
  Workload all = Base("concurrent", 6);
  all.concurrency = 2;
  RunLog full = Execute(all, "/stream?tokens=2");
  Workload w = all;
  w.request_numbers = {1, 4, 5};
  w.count = 3;
  RunLog run = Execute(w, "/stream?tokens=2");
  EXPECT_TRUE(run.outcome.completed);
  EXPECT_EQ(run.outcome.sent, 3);
  std::set<int64_t> indices;
  for (const auto& r : run.requests) indices.insert(r.request_index);
  EXPECT_EQ(indices, (std::set<int64_t>{1, 4, 5}));
  // The same prompt as request i of the full run: the same prompt token count.
  for (const auto& r : run.requests) {
    for (const auto& f : full.requests) {
      if (f.request_index == r.request_index) EXPECT_EQ(f.prompt_tokens, r.prompt_tokens) << r.request_index;
    }
  }
  Workload bad = w;
  bad.count = 4;
  EXPECT_EQ(ValidateWorkload(bad), "count must equal the number of chosen request numbers");
  bad.type = "multi_turn";
  bad.conversations.push_back({nlohmann::json::array(), {}});
  EXPECT_EQ(ValidateWorkload(bad), "chosen request numbers are not supported for multi_turn");
}

TEST(Workload, ConcurrentKeepsNInFlight) {
  Workload w = Base("concurrent", 6);
  w.concurrency = 3;
  RunLog run = Execute(w, "/stream?tokens=2&ttft_ms=150");
  ASSERT_EQ(run.requests.size(), 6u);
  // The first three started together, before any finished.
  std::vector<double> starts;
  for (auto& r : run.requests) starts.push_back(r.start_ms);
  std::sort(starts.begin(), starts.end());
  double first_end = 1e18;
  for (auto& r : run.requests) first_end = std::min(first_end, r.end_ms);
  EXPECT_LT(starts[2], first_end);
  EXPECT_GE(starts[3], first_end - 0.001);
}

TEST(Workload, BatchWaitsForTheSlowest) {
  Workload w = Base("batch", 5);
  w.batch_size = 2;
  RunLog run = Execute(w, "/stream?tokens=2&ttft_ms=20");
  ASSERT_EQ(run.requests.size(), 5u);
  std::map<int64_t, const events::RequestComplete*> by_index;
  for (auto& r : run.requests) by_index[r.request_index] = &r;
  double batch1_end = std::max(by_index[0]->end_ms, by_index[1]->end_ms);
  EXPECT_GE(by_index[2]->start_ms, batch1_end);
  EXPECT_GE(by_index[3]->start_ms, batch1_end);
  EXPECT_GE(by_index[4]->start_ms, std::max(by_index[2]->end_ms, by_index[3]->end_ms));
}

TEST(Workload, RateFollowsTheScheduleAndRecordsSendLag) {
  Workload w = Base("rate", 6);
  w.request_rate = 50;
  w.arrival = "constant";
  RunLog run = Execute(w, "/stream?tokens=2");
  ASSERT_EQ(run.requests.size(), 6u);
  std::sort(run.requests.begin(), run.requests.end(),
            [](auto& a, auto& b) { return a.request_index < b.request_index; });
  double first = *run.requests[0].scheduled_ms;
  for (std::size_t i = 0; i < run.requests.size(); ++i) {
    auto& r = run.requests[i];
    ASSERT_TRUE(r.scheduled_ms && r.send_lag_ms);
    EXPECT_NEAR(*r.scheduled_ms - first, 20.0 * static_cast<double>(i), 1e-6);
    EXPECT_GE(*r.send_lag_ms, 0);
    EXPECT_NEAR(r.start_ms - *r.scheduled_ms, *r.send_lag_ms, 1e-6);
  }
}

TEST(Workload, MultiTurnCarriesTheContext) {
  Workload w = Base("multi_turn", 2);
  w.turns = 3;
  w.conversations = {{nlohmann::json::array({{{"role", "user"}, {"content", "first"}}}), {"second", "third"}}};
  RunLog run = Execute(w, "/stream?tokens=2");
  ASSERT_EQ(run.requests.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(run.requests[i].conversation_index, static_cast<int>(i / 3));
    EXPECT_EQ(run.requests[i].turn_index, static_cast<int>(i % 3));
  }
  // The last request of the last conversation carried the whole history.
  auto body = nlohmann::json::parse(server->last_body());
  ASSERT_EQ(body["messages"].size(), 5u);
  EXPECT_EQ(body["messages"][1]["role"], "assistant");
  EXPECT_EQ(body["messages"][1]["content"], "t0 t1 ");
  EXPECT_EQ(body["messages"][2]["content"], "second");
  EXPECT_EQ(body["messages"][4]["content"], "third");
}

TEST(Workload, MultiTurnSkipsTheRestAfterAFailedTurnAndStopsAfterThreeFailedConversations) {
  Workload w = Base("multi_turn", 5);
  w.turns = 2;
  w.conversations = {{nlohmann::json::array({{{"role", "user"}, {"content", "q"}}}), {"f"}}};
  RunLog run = Execute(w, "/http500");
  EXPECT_FALSE(run.outcome.completed);
  EXPECT_EQ(run.outcome.reason, "circuit breaker: 3 consecutive conversations failed");
  ASSERT_EQ(run.requests.size(), 6u);  // 3 conversations: a failed turn + a skipped one each
  EXPECT_EQ(run.requests[0].error_kind, "http_status");
  EXPECT_EQ(run.requests[1].error_kind, "skipped");
  EXPECT_EQ(run.requests[1].turn_index, 1);
}

TEST(Workload, CircuitBreakers) {
  RunLog single = Execute(Base("single", 20), "/http500");
  EXPECT_EQ(single.outcome.reason, "circuit breaker: 5 consecutive requests failed");
  EXPECT_EQ(single.requests.size(), 5u);

  Workload c = Base("concurrent", 10);
  c.concurrency = 2;
  RunLog concurrent = Execute(c, "/http500");
  EXPECT_EQ(concurrent.outcome.reason, "circuit breaker: 5 requests failed (at least half of them)");
  EXPECT_GE(Failed(concurrent), 5);
  EXPECT_LE(Failed(concurrent), 6);  // the one in flight finishes

  Workload b = Base("batch", 100);
  b.batch_size = 2;
  RunLog batch = Execute(b, "/http500");
  EXPECT_EQ(batch.outcome.reason, "circuit breaker: 3 consecutive batches failed entirely");
  EXPECT_EQ(batch.requests.size(), 6u);
}

TEST(Workload, DurationBoundsAnUncountedRun) {
  Workload w = Base("concurrent", 0);
  w.concurrency = 2;
  w.duration_s = 0.3;
  RunLog run = Execute(w, "/stream?tokens=2&ttft_ms=40");
  EXPECT_TRUE(run.outcome.completed);
  EXPECT_GE(run.requests.size(), 2u);
  for (auto& r : run.requests) EXPECT_FALSE(r.error.has_value());
}

TEST(Workload, ValidationNamesTheProblem) {
  Workload w = Base("batch", 3);
  EXPECT_EQ(ValidateWorkload(w), "workload type 'batch' requires a batch size >= 1");
  w = Base("concurrent", 3);
  EXPECT_EQ(ValidateWorkload(w), "workload type 'concurrent' requires a concurrency >= 1");
  w = Base("rate", 3);
  EXPECT_EQ(ValidateWorkload(w), "workload type 'rate': request rate must be a positive number of requests/s");
  w.request_rate = 1;
  w.arrival = "weibull";
  EXPECT_EQ(ValidateWorkload(w), "workload type 'rate': arrival must be constant, poisson or gamma (got 'weibull')");
  w = Base("nope", 3);
  EXPECT_NE(ValidateWorkload(w).find("workload type must be"), std::string::npos);
  w = Base("single", 0);
  EXPECT_EQ(ValidateWorkload(w), "count must be >= 1 (or set a duration)");
  w = Base("multi_turn", 2);
  EXPECT_EQ(ValidateWorkload(w), "workload type 'multi_turn' requires conversations");
}

TEST(Schedule, ShapesAndSeeds) {
  auto constant = ArrivalOffsets({10, "constant", 1, 1}, 5, std::nullopt);
  EXPECT_EQ(constant, (std::vector<double>{0, 0.1, 0.2, 0.3, 0.4}));
  auto a = ArrivalOffsets({100, "poisson", 1, 7}, 2000, std::nullopt);
  auto b = ArrivalOffsets({100, "poisson", 1, 7}, 2000, std::nullopt);
  EXPECT_EQ(a, b);
  EXPECT_NEAR(a.back() / 1999, 0.01, 0.002);  // mean gap 1/rate
  auto bursty = ArrivalOffsets({100, "gamma", 0.25, 7}, 4000, std::nullopt);
  auto regular = ArrivalOffsets({100, "gamma", 4, 7}, 4000, std::nullopt);
  auto cv = [](const std::vector<double>& t) {
    double mean = 0, sq = 0;
    std::size_t n = t.size() - 1;
    for (std::size_t i = 1; i < t.size(); ++i) mean += t[i] - t[i - 1];
    mean /= static_cast<double>(n);
    for (std::size_t i = 1; i < t.size(); ++i) sq += (t[i] - t[i - 1] - mean) * (t[i] - t[i - 1] - mean);
    return std::sqrt(sq / static_cast<double>(n)) / mean;
  };
  EXPECT_NEAR(cv(bursty), 2.0, 0.3);   // cv of a gamma gap = 1/sqrt(shape)
  EXPECT_NEAR(cv(regular), 0.5, 0.1);
  EXPECT_NEAR(cv(a), 1.0, 0.15);
  auto timed = ArrivalOffsets({10, "constant", 1, 1}, 0, 1.0);
  EXPECT_EQ(timed.size(), 10u);
}

// Arrivals per second follow the integral of the ramp's rate: exactly for constant arrivals
// (arrival k is where the integral reaches k), within 4 sigma per 5 s bin for Poisson ones.
TEST(Schedule, RampsFollowTheIntegralOfTheRate) {
  for (const char* shape : {"linear", "exponential"}) {
    RateRamp ramp{2, 40, 20, shape};
    ArrivalSpec constant{1, "constant", 1, 1, ramp};
    auto t = ArrivalOffsets(constant, 0, 30.0);
    ASSERT_FALSE(t.empty());
    EXPECT_EQ(static_cast<double>(t.size()), std::ceil(RampIntegral(ramp, 30)) ) << shape;
    for (std::size_t k = 0; k < t.size(); ++k) EXPECT_NEAR(RampIntegral(ramp, t[k]), static_cast<double>(k), 1e-6) << shape;
    // Per second: the count in [s, s+1) is the integral over it, to within one arrival.
    for (int sec = 0; sec < 30; ++sec) {
      auto n = std::count_if(t.begin(), t.end(), [&](double x) { return x >= sec && x < sec + 1; });
      EXPECT_NEAR(static_cast<double>(n), RampIntegral(ramp, sec + 1) - RampIntegral(ramp, sec), 1.0) << shape << " s=" << sec;
    }
    auto p = ArrivalOffsets({1, "poisson", 1, 11, ramp}, 0, 30.0);
    for (int bin = 0; bin < 6; ++bin) {
      double expected = RampIntegral(ramp, 5 * (bin + 1)) - RampIntegral(ramp, 5 * bin);
      auto n = std::count_if(p.begin(), p.end(), [&](double x) { return x >= 5 * bin && x < 5 * (bin + 1); });
      EXPECT_NEAR(static_cast<double>(n), expected, 4 * std::sqrt(expected)) << shape << " bin " << bin;
    }
    EXPECT_EQ(p, ArrivalOffsets({1, "poisson", 1, 11, ramp}, 0, 30.0));  // a pure function of spec + seed
  }
  // The rate itself: linear halfway is the mean, exponential halfway the geometric mean.
  EXPECT_DOUBLE_EQ(RampRate({2, 40, 20, "linear"}, 10), 21);
  EXPECT_NEAR(RampRate({2, 40, 20, "exponential"}, 10), std::sqrt(80.0), 1e-9);
  EXPECT_DOUBLE_EQ(RampRate({2, 40, 20, "linear"}, 25), 40);
  // A ramp down works the same way; from 0 starts with one arrival at 0.
  auto down = ArrivalOffsets({1, "constant", 1, 1, RateRamp{10, 1, 5, "linear"}}, 0, 5.0);
  EXPECT_EQ(static_cast<double>(down.size()), std::ceil(RampIntegral({10, 1, 5, "linear"}, 5)));
  auto from_zero = ArrivalOffsets({1, "constant", 1, 1, RateRamp{0, 10, 4, "linear"}}, 3, std::nullopt);
  EXPECT_EQ(from_zero.size(), 3u);
  EXPECT_EQ(from_zero[0], 0);
  EXPECT_NEAR(from_zero[1], std::sqrt(2 * 4 / 10.0), 1e-9);  // 10 t^2 / 8 = 1
}

TEST(Schedule, RampsAreValidated) {
  EXPECT_EQ(ValidateArrival({0, "poisson", 1, 1, RateRamp{1, 5, 0, "linear"}}), "rate_ramp.over_s must be > 0");
  EXPECT_EQ(ValidateArrival({0, "poisson", 1, 1, RateRamp{0, 5, 3, "exponential"}}),
            "rate_ramp.from must be > 0 requests/s for an exponential ramp");
  EXPECT_EQ(ValidateArrival({0, "poisson", 1, 1, RateRamp{1, 5, 3, "step"}}),
            "rate_ramp.shape must be linear or exponential (got 'step')");
  EXPECT_EQ(ValidateArrival({0, "poisson", 1, 1, RateRamp{1, 0, 3, "linear"}}), "rate_ramp.to must be > 0 requests/s");
  EXPECT_EQ(ValidateConcurrencyRamp({0, 4, 1}), "concurrency_ramp.from must be >= 1");
  EXPECT_EQ(ValidateConcurrencyRamp({1, 4, 0}), "concurrency_ramp.over_s must be > 0");
  Workload w = Base("rate", 3);
  w.rate_ramp = RateRamp{1, 5, -1, "linear"};
  EXPECT_EQ(ValidateWorkload(w), "workload type 'rate': rate_ramp.over_s must be > 0");
  w = Base("single", 3);
  w.concurrency_ramp = ConcurrencyRamp{1, 4, 2};
  EXPECT_EQ(ValidateWorkload(w), "a concurrency ramp needs workload type 'concurrent'");
}

// Each slot a step opens is intended to start at the step's instant, exactly, however late the
// loop woke; the limit is never exceeded.
TEST(Workload, ConcurrencyRampOpensSlotsAtTheStepInstants) {
  Workload w = Base("concurrent", 4);
  w.concurrency_ramp = ConcurrencyRamp{1, 3, 0.2};
  RunLog run = Execute(w, "/stream?tokens=2&ttft_ms=600");
  ASSERT_EQ(run.requests.size(), 4u);
  std::sort(run.requests.begin(), run.requests.end(), [](auto& a, auto& b) { return a.request_index < b.request_index; });
  for (auto& r : run.requests) ASSERT_TRUE(r.intended_ms.has_value());
  EXPECT_NEAR(*run.requests[2].intended_ms - *run.requests[1].intended_ms, 100.0, 1e-3);
  EXPECT_LE(*run.requests[1].intended_ms - *run.requests[0].intended_ms, 100.0 + 1e-3);
  EXPECT_GE(run.requests[1].start_ms, *run.requests[1].intended_ms);
  EXPECT_GE(run.requests[2].start_ms, *run.requests[2].intended_ms);
  // The 4th waits for a slot: 3 is the ramp's end.
  double first_end = std::min({run.requests[0].end_ms, run.requests[1].end_ms, run.requests[2].end_ms});
  EXPECT_GE(run.requests[3].start_ms, first_end - 0.001);
  EXPECT_GE(*run.requests[3].intended_ms, first_end - 0.001);
}

TEST(Workload, TraceSendsEachRequestAtItsTimestampWithItsOwnLengths) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/t.jsonl";
  std::ofstream(path) << "{\"timestamp\": 0, \"input_length\": 40, \"output_length\": 3, \"hash_ids\": [0]}\n"
                         "{\"timestamp\": 60, \"input_length\": 80, \"output_length\": 5, \"hash_ids\": [0, 1]}\n"
                         "{\"timestamp\": 60, \"input_length\": 20, \"output_length\": 7, \"hash_ids\": [2]}\n";
  Workload w = Base("trace", 3);
  w.prompts.clear();
  w.trace = trace::Options{.file = path, .speedup = 2, .block_tokens = 32};
  RunLog run = Execute(w, "/stream?tokens=2");
  ASSERT_EQ(run.requests.size(), 3u);
  EXPECT_TRUE(run.outcome.completed);
  std::sort(run.requests.begin(), run.requests.end(), [](auto& a, auto& b) { return a.request_index < b.request_index; });
  double first = *run.requests[0].scheduled_ms;
  EXPECT_NEAR(*run.requests[1].scheduled_ms - first, 30.0, 1e-3);
  EXPECT_NEAR(*run.requests[2].scheduled_ms - first, 30.0, 1e-3);
  for (auto& r : run.requests) EXPECT_NEAR(r.start_ms - *r.scheduled_ms, *r.send_lag_ms, 1e-6);
  // Request 0 alone (max_requests 1): 40 words of 4 bytes, max_tokens 3.
  w.trace->max_requests = 1;
  w.count = 1;
  RunLog one = Execute(w, "/stream?tokens=2");
  ASSERT_EQ(one.requests.size(), 1u);
  auto body = nlohmann::json::parse(server->last_body());
  EXPECT_EQ(body["max_tokens"], 3);
  EXPECT_EQ(body["messages"][0]["content"], trace::PromptText({.line = 1, .input_tokens = 40, .block_tokens = 32, .hash_ids = {0}}));
  EXPECT_EQ(body["messages"][0]["content"].get<std::string>().size(), 160u);
  // endpoint: completions sends the same text as a prompt string.
  w.endpoint = "completions";
  RunLog completion = Execute(w, "/stream?tokens=2");
  ASSERT_EQ(completion.requests.size(), 1u);
  auto cbody = nlohmann::json::parse(server->last_body());
  EXPECT_EQ(cbody["prompt"], body["messages"][0]["content"]);
  EXPECT_EQ(cbody["max_tokens"], 3);
}

TEST(Workload, ATraceFileThatTurnsBadMidRunStopsIt) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/bad.jsonl";
  std::ofstream(path) << "{\"timestamp\": 0, \"input_length\": 4, \"output_length\": 1, \"hash_ids\": []}\nnot json\n";
  Workload w = Base("trace", 2);
  w.prompts.clear();
  w.trace = trace::Options{.file = path};
  RunLog run = Execute(w, "/stream?tokens=1");
  EXPECT_FALSE(run.outcome.completed);
  EXPECT_EQ(run.outcome.reason, "circuit breaker: trace: " + path + ":2: not a JSON object");
  EXPECT_EQ(run.requests.size(), 1u);
}

TEST(RequestBody, OriginalKeyOrder) {
  std::string body = ChatBody("m", nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}}), 5, 0.5, true);
  EXPECT_EQ(body,
            R"({"model":"m","messages":[{"content":"hi","role":"user"}],"max_tokens":5,"temperature":0.5,)"
            R"("stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true},"ignore_eos":true})");
}

TEST(Synthetic, LengthsFollowTheDistribution) {
  auto prompts = SyntheticPrompts(200, {50, 10, 20, 70}, {30, 0, 1, 0}, 3);
  ASSERT_EQ(prompts.size(), 200u);
  std::set<std::string> distinct;
  for (auto& p : prompts) {
    std::string text = p.messages[0]["content"];
    distinct.insert(text);
    auto words = std::count(text.begin(), text.end(), ' ') + 1;
    EXPECT_GE(words, 20);
    EXPECT_LE(words, 70);
    EXPECT_EQ(p.max_tokens, 30);
  }
  EXPECT_EQ(distinct.size(), 200u);
}

}  // namespace
}  // namespace ib::load
