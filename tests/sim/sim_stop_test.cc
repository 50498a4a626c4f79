// ib-sim's Server in-process: a stream the client read to [DONE] is recorded as complete in the
// truth file even when the server stops right after (it once said "client_gone": Stop() marked
// every request still in its live set, including those whose last chunk was already written but
// whose handler had not yet run).
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/sim/options.h"
#include "lib/sim/server.h"
#include "tests/sim/sse_client.h"
#include "tests/support/sim_process.h"

namespace {

using ib::testing::PostStream;
using ib::testing::SseResult;
using json = nlohmann::json;

TEST(IbSimStop, StreamsReadToDoneAreCompleteInTheTruthFileWhenStopFollowsAtOnce) {
  std::string truth = ib::testing::TmpPath("stop-truth.ndjson");
  ib::sim::Options o;
  o.model = "sim/m";
  o.deterministic = true;
  o.ttft_ms = 20;
  o.itl_ms = 2;
  o.threads = 64;
  o.truth_file = truth;
  ib::sim::Server server(o);
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1/chat/completions";
  const std::string body =
      R"({"model":"sim/m","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true})";
  // Concurrent streams with the same schedule end in one scheduler step: their last chunks are
  // written together, and Stop() comes the moment the client has read every [DONE].
  constexpr int kStreams = 16;
  std::vector<SseResult> results(kStreams);
  std::vector<std::thread> clients;
  for (int i = 0; i < kStreams; ++i) clients.emplace_back([&, i] { results[i] = PostStream(url, body); });
  for (auto& t : clients) t.join();
  server.Stop(/*stop_http=*/false);
  for (const SseResult& r : results) {
    ASSERT_EQ(r.curl_code, 0);
    ASSERT_FALSE(r.events.empty());
    ASSERT_EQ(r.events.back().data, "[DONE]");
  }
  auto lines = ib::testing::ReadNdjson(truth);
  EXPECT_EQ(lines.size(), static_cast<std::size_t>(kStreams));
  for (const json& t : lines) {
    EXPECT_EQ(t["fault"], "none") << t.dump();
    EXPECT_EQ(t["completion_tokens"], 4) << t.dump();
  }
}

}  // namespace
