// A small streaming HTTP client for ib-sim's tests: POSTs a body with libcurl and records every
// SSE event with the CLOCK_MONOTONIC time its last byte arrived.
//
//   ib::testing::SseResult r = ib::testing::PostStream(base + "/v1/chat/completions", body);
//   EXPECT_EQ(r.events.back().data, "[DONE]");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ib::testing {

struct SseEvent {
  std::string data;       // the text after "data: "
  int64_t received_ns;    // when the bytes completing it arrived
};

struct SseResult {
  long status = 0;
  int curl_code = 0;           // 0: the transfer ended cleanly
  std::string body;            // everything received
  std::vector<SseEvent> events;
};

SseResult PostStream(const std::string& url, const std::string& body, long timeout_ms = 30000,
                     const std::vector<std::string>& headers = {});

}  // namespace ib::testing
