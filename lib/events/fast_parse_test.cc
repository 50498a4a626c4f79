#include "lib/events/fast_parse.h"

#include <unistd.h>

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "lib/events/stream.h"

namespace ib::events {
namespace {

using nlohmann::json;

// ParseEventFast must agree with ParseEvent on every line: same event or both an error.
void ExpectSameAsParseEvent(const std::string& line) {
  ParseResult slow = ParseEvent(line);
  ParseResult fast = ParseEventFast(line);
  ASSERT_EQ(slow.event.has_value(), fast.event.has_value()) << line;
  if (slow.event) {
    EXPECT_EQ(ToJson(*slow.event).dump(), ToJson(*fast.event).dump()) << line;
  } else {
    EXPECT_EQ(slow.error, fast.error) << line;
  }
}

std::string RandomString(std::mt19937& rng) {
  static const std::string kChars = "abc XYZ 019 \"\\/\b\f\n\r\t{}[]:,";
  std::string s;
  int n = static_cast<int>(rng() % 12);
  for (int i = 0; i < n; ++i) s.push_back(kChars[rng() % kChars.size()]);
  return s;
}

double RandomNumber(std::mt19937& rng) {
  switch (rng() % 5) {
    case 0: return static_cast<double>(rng() % 100000);
    case 1: return std::uniform_real_distribution<double>(0, 1)(rng);
    case 2: return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    case 3: return std::ldexp(std::uniform_real_distribution<double>(1, 2)(rng), static_cast<int>(rng() % 200) - 100);
    default: return 1e-7 * static_cast<double>(rng() % 1000);
  }
}

RequestComplete RandomRequest(std::mt19937& rng) {
  auto maybe = [&] { return rng() % 3 != 0; };
  RequestComplete r;
  r.run_id = maybe() ? "run-" + std::to_string(rng() % 1000) : "";
  r.request_index = static_cast<int64_t>(rng() % 2000000) - 10;
  r.iteration = static_cast<int>(rng() % 5);
  if (maybe()) r.conversation_index = static_cast<int>(rng() % 7);
  if (maybe()) r.turn_index = static_cast<int>(rng() % 7);
  r.warmup = rng() % 2;
  r.start_ms = RandomNumber(rng);
  r.end_ms = RandomNumber(rng);
  if (maybe()) r.scheduled_ms = RandomNumber(rng);
  if (maybe()) r.send_lag_ms = RandomNumber(rng);
  if (maybe()) r.ttft_ms = RandomNumber(rng);
  if (maybe()) r.ttfc_ms = RandomNumber(rng);
  if (maybe()) r.e2e_latency_ms = RandomNumber(rng);
  if (maybe()) r.tpot_ms = RandomNumber(rng);
  int gaps = static_cast<int>(rng() % 6);
  for (int i = 0; i < gaps; ++i) r.inter_token_latencies_ms.push_back(RandomNumber(rng));
  if (maybe()) r.prompt_tokens = static_cast<int64_t>(rng() % 100000);
  if (maybe()) r.completion_tokens = static_cast<int64_t>(rng() % 100000);
  r.token_count_source = maybe() ? "usage" : "";
  if (!maybe()) r.error = RandomString(rng);
  if (!maybe()) r.error_kind = "http_status";
  if (maybe()) r.http_status = 200 + static_cast<int>(rng() % 400);
  if (maybe()) r.started_at = "2026-11-28T03:00:00.001Z";
  r.client_degraded = rng() % 2;
  if (maybe()) r.intended_ms = RandomNumber(rng);
  if (maybe()) r.client_queue_ms = RandomNumber(rng);
  if (maybe()) {
    r.itl_tokens = std::vector<double>();
    for (int i = 0; i < gaps; ++i) r.itl_tokens->push_back(static_cast<double>(rng() % 5));
    r.itl_token_source = maybe() ? "usage" : "estimated";
  }
  return r;
}

TEST(FastParse, AcceptsWhatIbLoadWritesAndAgreesWithParseEvent) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 3000; ++i) {
    RequestComplete r = RandomRequest(rng);
    std::string line = Serialize(r);
    auto fast = TryParseRequestCompleteFast(line);
    ASSERT_TRUE(fast) << line;  // the canonical form always takes the fast path
    EXPECT_EQ(Serialize(*fast), line);
    ExpectSameAsParseEvent(line);
  }
}

TEST(FastParse, OddButValidLinesFallBackOrAgree) {
  const std::string base =
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"ttft_ms":1.5}})";
  std::vector<std::string> lines = {
      base,
      R"(  { "v" : 2 , "type" : "request_complete" , "run_id" : "r" , "data" : { "request_index" : 3 } }  )",
      R"({"data":{"ttft_ms":1.5,"request_index":3},"run_id":"r","type":"request_complete","v":2})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3.0}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"extra":{"a":[1]}}})",
      R"({"v":2,"type":"request_complete","run_id":"r","x":1,"data":{"request_index":3}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"request_index":4}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"error":"caf\u00e9"}})",
      "{\"v\":2,\"type\":\"request_complete\",\"run_id\":\"r\",\"data\":{\"request_index\":3,\"error\":\"caf\xc3\xa9\"}}",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":-0,"start_ms":-0}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":123456789012345678901}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"start_ms":1e400}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"start_ms":12345678901234567890123}})",
      R"({"v":2,"type":"request_complete","run_id":null,"data":{"request_index":3,"warmup":null,"token_count_source":null}})",
      R"({"type":"request_complete","run_id":"r","data":{"request_index":3,"tbt_ms":2.5}})",  // v1
      // Errors must stay errors with ParseEvent's message.
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"ttft_ms":"fast"}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3}} trailing)",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"inter_token_latencies_ms":[1,"x"]}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":01}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"ttft_ms":.5}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"ttft_ms":NaN}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{"request_index":3,"warmup":1}})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":null})",
      R"({"v":2,"type":"request_complete","run_id":"r","data":{}})",
      R"({"v":3,"type":"request_complete","run_id":"r","data":{"request_index":3}})",
      "{\"v\":2,\"type\":\"request_complete\",\"run_id\":\"r\",\"data\":{\"request_index\":3,\"error\":\"a\x01\"}}",
      R"({"v":2,"type":"gpu_sample","run_id":"r","data":{"t_s":1}})",
      "",
      "[]",
  };
  for (const auto& line : lines) ExpectSameAsParseEvent(line);
  EXPECT_TRUE(TryParseRequestCompleteFast(lines[1]));
  EXPECT_TRUE(TryParseRequestCompleteFast(lines[2]));
  EXPECT_FALSE(TryParseRequestCompleteFast(lines[3]));  // falls back, still parses
  EXPECT_TRUE(ParseEventFast(lines[3]).event);
}

TEST(FastParse, EventReaderUsesItAndTheBeforeReadHookCanStop) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  RequestComplete r;
  r.run_id = "x";
  r.request_index = 7;
  std::string data = Serialize(r) + "\nnot json\n";
  ASSERT_TRUE(WriteAll(fds[1], data));
  EventReader reader(fds[0], "test");
  reader.set_fast_request_complete(true);
  int reads = 0;
  reader.set_before_read([&] { return ++reads == 1; });  // the second read would block: stop
  auto first = reader.Next();
  ASSERT_TRUE(first && first->valid);
  EXPECT_EQ(std::get<RequestComplete>(first->event).request_index, 7);
  auto second = reader.Next();
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->valid);
  EXPECT_FALSE(reader.Next());  // stopped by the hook, not blocked on the open pipe
  EXPECT_EQ(reads, 2);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace ib::events
