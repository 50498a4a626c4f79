#include "lib/sim/options.h"

#include <gtest/gtest.h>

#include "lib/sim/engine.h"
#include "lib/sim/server.h"

namespace ib::sim {
namespace {

TEST(Options, PresetSetsTheShapeAndModel) {
  Options o;
  std::string error;
  ASSERT_TRUE(ApplyPreset("llama-3.1-8b-a100", &o, &error)) << error;
  EXPECT_EQ(o.model, "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(o.kv_blocks, 30000);
  ASSERT_TRUE(ApplyPreset("qwen3-0.6b-rtx4000", &o, &error));
  EXPECT_EQ(o.model, "Qwen/Qwen3-0.6B");
}

TEST(Options, UnknownPresetListsTheKnownOnes) {
  Options o;
  std::string error;
  EXPECT_FALSE(ApplyPreset("h200-dream", &o, &error));
  EXPECT_NE(error.find("unknown preset \"h200-dream\""), std::string::npos);
  EXPECT_NE(error.find("llama-3.1-8b-a100"), std::string::npos);
}

TEST(Options, SpeedDividesModelTimesButNotDeterministicOnes) {
  Options o;
  o.step_base_ms = 10;
  o.step_per_seq_ms = 1;
  o.prefill_ms_per_token = 0.5;
  o.ttft_ms = 40;
  o.itl_ms = 8;
  o.speed = 4;
  EngineConfig c = EngineConfigFor(o);
  EXPECT_EQ(c.step_base_ns, 2'500'000);
  EXPECT_EQ(c.step_per_seq_ns, 250'000);
  EXPECT_DOUBLE_EQ(c.prefill_ns_per_token, 125'000);
  EXPECT_EQ(c.ttft_ns, 40'000'000);
  EXPECT_EQ(c.itl_ns, 8'000'000);
}

TEST(Options, ValidateNamesTheBadFlag) {
  std::string error;
  Options o;
  EXPECT_TRUE(Validate(o, &error)) << error;
  o.speed = 0;
  EXPECT_FALSE(Validate(o, &error));
  EXPECT_EQ(error, "--speed must be > 0");
  o = Options();
  o.faults.stall_rate = 1.5;
  EXPECT_FALSE(Validate(o, &error));
  EXPECT_EQ(error, "--fault-stall-rate must be between 0 and 1");
  o = Options();
  o.writer = "handler";
  EXPECT_FALSE(Validate(o, &error));
  EXPECT_EQ(error, "--writer handler needs --deterministic");
  o = Options();
  o.max_num_seqs = 0;
  EXPECT_FALSE(Validate(o, &error));
}

}  // namespace
}  // namespace ib::sim
