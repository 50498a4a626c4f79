// Trace replay against the real ib-sim: the trace's shared blocks (hash_ids) must show up as
// prefix-cache hits in ib-sim's own truth, request by request. With concurrency 1 each request
// is sent after the previous one finished (so its blocks are in the cache) and the hits are
// exact: ib-sim hits the full 16-token (64-byte) blocks of the longest common prefix of the
// rendered prompt ("<|user|>\n" + text + ...) with an earlier one (lib/sim/text.h), at most
// (prompt_tokens - 1) / 16 of them. The test predicts that from the prompt texts (lib/trace's
// PromptText of the same trace lines) and, independently, checks it against the trace's own
// block sharing. Run on the shipped synthetic trace and on the heads of the two real Mooncake
// traces (lengths scaled to fit the simulated model). No timing assertions (the send lag is
// measured in docs/benchmarks.md).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/trace/trace.h"
#include "tests/load/tool_runner.h"
#include "tests/support/sim_process.h"

namespace ib::load {
namespace {

struct Case {
  const char* file;
  double length_scale;
  int max_requests;
  double speedup;
};

class TraceSim : public ::testing::TestWithParam<Case> {};

TEST_P(TraceSim, SharedBlocksAreIbSimPrefixHits) {
  const Case c = GetParam();
  std::string dir = ::testing::TempDir();
  std::string truth_path = dir + "/truth-" + std::to_string(testing::MonotonicNs()) + ".ndjson";
  std::string trace_file = std::filesystem::absolute(c.file).string();  // the config is elsewhere
  std::string config = dir + "/trace-" + std::to_string(testing::MonotonicNs()) + ".yaml";
  std::ofstream(config) << "name: trace-sim\nmodel:\n  name: Qwen/Qwen3-0.6B\nframework: vllm\n"
                           "infrastructure:\n  provider: local\nworkload:\n  type: trace\n  concurrency: 1\n"
                           "  trace:\n    file: " << trace_file << "\n    max_requests: " << c.max_requests
                        << "\n    speedup: " << c.speedup << "\n    length_scale: " << c.length_scale
                        << "\n  parameters:\n    ignore_eos: true\n";
  ib::testing::SimProcess sim({"--speed", "50", "--truth", truth_path});
  ASSERT_TRUE(sim.ok()) << sim.error();
  testing::ToolRun run = testing::RunIbLoad({"--server-url", sim.base_url(), "--config", config});
  sim.Stop();
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;

  // The same requests, read back through lib/trace.
  trace::Options o{.file = trace_file, .speedup = c.speedup, .max_requests = c.max_requests, .length_scale = c.length_scale};
  trace::Replay replay(o);
  std::vector<trace::Request> reqs;
  for (trace::Request r; replay.Next(&r);) reqs.push_back(r);
  ASSERT_EQ(static_cast<int>(reqs.size()), c.max_requests);

  std::vector<nlohmann::json> truth;
  std::ifstream in(truth_path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) truth.push_back(nlohmann::json::parse(line));
  std::sort(truth.begin(), truth.end(), [](auto& a, auto& b) { return a["arrival_ns"] < b["arrival_ns"]; });
  ASSERT_EQ(truth.size(), reqs.size());

  std::vector<std::string> rendered;
  int64_t hits = 0, predicted_from_blocks = 0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto& t = truth[i];
    ASSERT_EQ(t["status"], 200);
    std::string r = "<|user|>\n" + trace::PromptText(reqs[i]) + "<|end|>\n<|assistant|>\n";
    int64_t prompt_tokens = (static_cast<int64_t>(r.size()) + 3) / 4;
    ASSERT_EQ(t["prompt_tokens"], prompt_tokens) << "request " << i;  // 4 bytes a word
    std::size_t lcp = 0;
    int64_t shared_words = 0;
    for (std::size_t j = 0; j < i; ++j) {
      std::size_t k = 0;
      while (k < r.size() && k < rendered[j].size() && r[k] == rendered[j][k]) ++k;
      lcp = std::max(lcp, k);
      // The trace's own sharing: leading ids in common, as words (bounded by both lengths).
      std::size_t ids = 0;
      while (ids < reqs[i].hash_ids.size() && ids < reqs[j].hash_ids.size() && reqs[i].hash_ids[ids] == reqs[j].hash_ids[ids]) ++ids;
      shared_words = std::max(shared_words, std::min({static_cast<int64_t>(ids) * reqs[i].block_tokens,
                                                      reqs[i].input_tokens, reqs[j].input_tokens}));
    }
    int64_t expected = std::min<int64_t>(static_cast<int64_t>(lcp) / 64, (prompt_tokens - 1) / 16) * 16;
    EXPECT_EQ(t["cached_prompt_tokens"], expected) << "request " << i << " (trace line " << reqs[i].line << ")";
    // The shared words begin after the 9-byte template head; a chance word match can add a few.
    int64_t from_blocks = std::min<int64_t>((9 + 4 * shared_words) / 64, (prompt_tokens - 1) / 16) * 16;
    EXPECT_GE(expected, from_blocks) << "request " << i;
    EXPECT_LE(expected, from_blocks + 16) << "request " << i;
    hits += t["cached_prompt_tokens"].get<int64_t>();
    predicted_from_blocks += from_blocks;
    rendered.push_back(std::move(r));
  }
  EXPECT_GT(hits, 0) << "the trace shares blocks; ib-sim must have hit some";
  EXPECT_GE(hits, predicted_from_blocks);
  std::printf("%s: %lld prefix-hit tokens (trace blocks predict %lld)\n", c.file, static_cast<long long>(hits),
              static_cast<long long>(predicted_from_blocks));
}

INSTANTIATE_TEST_SUITE_P(Traces, TraceSim,
                         ::testing::Values(Case{"experiments/traces/synthetic-mooncake.jsonl", 0.125, 60, 50},
                                           Case{"lib/trace/testdata/mooncake-conversation-head300.jsonl", 0.05, 60, 50},
                                           Case{"lib/trace/testdata/mooncake-synthetic-head200.jsonl", 0.05, 60, 50}));

}  // namespace
}  // namespace ib::load
