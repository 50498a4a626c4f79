#include "lib/sim/engine.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/sim/text.h"

namespace ib::sim {
namespace {

constexpr int64_t kMs = 1'000'000;

std::unique_ptr<Seq> MakeSeq(const std::string& prompt, int64_t out) {
  auto s = std::make_unique<Seq>();
  s->prompt_tokens = CountTokens(prompt);
  s->block_hashes = BlockHashes(prompt);
  s->output_tokens = out;
  return s;
}

// Runs the engine to completion on a simulated clock; returns emissions.
std::vector<Emission> RunAll(Engine& e, int64_t t, int64_t limit = 1000 * 1000 * kMs) {
  std::vector<Emission> all;
  while (e.NextEventNs() != INT64_MAX && t < limit) {
    t = std::max(t, e.NextEventNs());
    e.Advance(t, &all);
  }
  return all;
}

TEST(Engine, DeterministicScheduleIsArrivalPlusTtftPlusItl) {
  EngineConfig c;
  c.deterministic = true;
  c.ttft_ns = 50 * kMs;
  c.itl_ns = 20 * kMs;
  Engine e(c);
  auto s = MakeSeq("hello", 4);
  s->arrival_ns = 1000 * kMs;
  e.Submit(s.get(), 1000 * kMs);
  EXPECT_EQ(e.Stats().running, 1);
  auto out = RunAll(e, 1000 * kMs);
  ASSERT_EQ(out.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(out[i].index, i);
    EXPECT_EQ(out[i].scheduled_ns, (1050 + 20 * i) * kMs);
    EXPECT_EQ(out[i].last, i == 3);
  }
  EXPECT_TRUE(s->finished);
  EXPECT_EQ(e.Stats().running, 0);
  EXPECT_EQ(e.Stats().generation_tokens, 4);
}

TEST(Engine, DeterministicStallDelaysTheRest) {
  EngineConfig c;
  c.deterministic = true;
  c.ttft_ns = 10 * kMs;
  c.itl_ns = 10 * kMs;
  Engine e(c);
  auto s = MakeSeq("x", 3);
  s->stall_at = 1;
  s->stall_ns = 500 * kMs;
  s->arrival_ns = kMs;
  e.Submit(s.get(), kMs);
  auto out = RunAll(e, kMs);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].scheduled_ns - out[0].scheduled_ns, 510 * kMs);
  EXPECT_EQ(out[2].scheduled_ns - out[1].scheduled_ns, 10 * kMs);
}

TEST(Engine, QueuesBeyondMaxNumSeqs) {
  EngineConfig c;
  c.max_num_seqs = 2;
  Engine e(c);
  std::vector<std::unique_ptr<Seq>> seqs;
  for (int i = 0; i < 5; ++i) {
    seqs.push_back(MakeSeq("prompt " + std::to_string(i), 10));
    e.Submit(seqs.back().get(), kMs);
  }
  std::vector<Emission> out;
  e.Advance(kMs, &out);
  EXPECT_EQ(e.Stats().running, 2);
  EXPECT_EQ(e.Stats().waiting, 3);
  RunAll(e, kMs);
  for (auto& s : seqs) EXPECT_TRUE(s->finished);
  // The later ones waited: admitted after the first two finished.
  EXPECT_GT(seqs[4]->admitted_ns, seqs[0]->admitted_ns);
  EXPECT_EQ(e.Stats().waiting, 0);
  EXPECT_EQ(e.Stats().generation_tokens, 50);
}

TEST(Engine, KvUsageGrowsWithLoadAndIsFreedAfter) {
  EngineConfig c;
  c.kv_blocks = 1000;
  Engine e(c);
  std::vector<std::unique_ptr<Seq>> seqs;
  std::vector<Emission> out;
  int64_t prev = 0;
  for (int i = 0; i < 4; ++i) {
    seqs.push_back(MakeSeq(std::string(640, 'a' + i), 8));  // 160 tokens = 10 blocks
    int64_t t = i == 0 ? kMs : e.NextEventNs();
    e.Submit(seqs.back().get(), t);
    e.Advance(t, &out);  // admitted at the next step boundary
    int64_t used = e.Stats().used_blocks;
    EXPECT_GT(used, prev);
    prev = used;
  }
  RunAll(e, kMs);
  EXPECT_EQ(e.Stats().used_blocks, 0);
}

TEST(Engine, RepeatedPromptHitsThePrefixCacheAndPrefillsFaster) {
  EngineConfig c;
  c.prefill_ns_per_token = 1 * kMs;  // make prefill dominate
  Engine e(c);
  std::string prompt(64 * 20, 'p');  // 320 tokens, 20 full blocks
  auto a = MakeSeq(prompt, 2);
  e.Submit(a.get(), kMs);
  auto out1 = RunAll(e, kMs);
  int64_t ttft_a = out1[0].scheduled_ns - kMs;
  EXPECT_EQ(a->cached_tokens, 0);

  auto b = MakeSeq(prompt, 2);
  const int64_t t0 = out1.back().scheduled_ns + kMs;
  e.Submit(b.get(), t0);
  auto out2 = RunAll(e, t0);
  int64_t ttft_b = out2[0].scheduled_ns - t0;
  EXPECT_EQ(b->cached_tokens, 19 * 16);  // all full blocks but the last (one token is computed)
  EXPECT_LT(ttft_b, ttft_a / 4);
  auto st = e.Stats();
  EXPECT_EQ(st.prefix_queries, 640);
  EXPECT_EQ(st.prefix_hits, 19 * 16);
}

TEST(Engine, NoPrefixCachingMeansNoHits) {
  EngineConfig c;
  c.prefix_caching = false;
  Engine e(c);
  std::string prompt(64 * 4, 'q');
  for (int i = 0; i < 2; ++i) {
    auto s = MakeSeq(prompt, 1);
    e.Submit(s.get(), kMs * (1 + i * 100));
    RunAll(e, kMs * (1 + i * 100));
  }
  EXPECT_EQ(e.Stats().prefix_hits, 0);
}

TEST(Engine, DecodeStepGrowsWithBatch) {
  EngineConfig c;
  c.step_base_ns = 10 * kMs;
  c.step_per_seq_ns = 1 * kMs;
  c.prefill_ns_per_token = 0;
  Engine e(c);
  std::vector<std::unique_ptr<Seq>> seqs;
  for (int i = 0; i < 10; ++i) {
    seqs.push_back(MakeSeq("s" + std::to_string(i), 3));
    e.Submit(seqs.back().get(), kMs);
  }
  auto out = RunAll(e, kMs);
  // Tokens of all ten arrive together, every 20 ms (10 + 10 * 1).
  ASSERT_EQ(out.size(), 30u);
  EXPECT_EQ(out[10].scheduled_ns - out[0].scheduled_ns, 20 * kMs);
}

TEST(Engine, PreemptsTheYoungestWhenTheCacheIsFull) {
  EngineConfig c;
  c.kv_blocks = 6;
  c.prefill_ns_per_token = 0;
  Engine e(c);
  // Each needs 1 block at admission and grows to 3 blocks over 40 tokens.
  auto a = MakeSeq("aaaa", 40), b = MakeSeq("bbbb", 40), d = MakeSeq("dddd", 40);
  e.Submit(a.get(), kMs);
  e.Submit(b.get(), kMs);
  e.Submit(d.get(), kMs);
  auto out = RunAll(e, kMs);
  EXPECT_TRUE(a->finished && b->finished && d->finished);
  EXPECT_GT(e.Stats().preemptions, 0);
  EXPECT_EQ(out.size(), 120u);
  EXPECT_EQ(e.Stats().used_blocks, 0);
}

TEST(Engine, CancelFreesBlocksAndStopsTokens) {
  EngineConfig c;
  Engine e(c);
  auto a = MakeSeq(std::string(200, 'c'), 100);
  e.Submit(a.get(), kMs);
  std::vector<Emission> out;
  e.Advance(kMs, &out);
  EXPECT_GT(e.Stats().used_blocks, 0);
  e.Cancel(a.get());
  EXPECT_EQ(e.Stats().used_blocks, 0);
  EXPECT_EQ(e.Stats().running, 0);
  EXPECT_TRUE(RunAll(e, kMs).empty());
}

TEST(Engine, FitsChecksTheWholeCache) {
  EngineConfig c;
  c.kv_blocks = 4;
  Engine e(c);
  EXPECT_TRUE(e.Fits(64));
  EXPECT_FALSE(e.Fits(65));
}

}  // namespace
}  // namespace ib::sim
