#include "lib/pricing/estimate.h"

#include <gtest/gtest.h>

namespace ib::pricing {
namespace {

ib::config::ExperimentConfig Sweep() {
  ib::config::ExperimentConfig c;  // experiments/examples/concurrency-sweep.yaml, by hand
  c.name = "concurrency-sweep-vllm";
  c.framework = "vllm";
  c.model.name = "Qwen/Qwen3-0.6B";
  c.infrastructure.gpu_type = "RTX 4000 Ada";
  c.workload.type = "concurrent";
  c.workload.concurrency = 1;
  c.workload.requests.count = 32;
  c.workload.parameters.max_tokens = 128;
  c.workload.sweep = {{"concurrency", {1, 2, 4, 8, 16}}};
  return c;
}

TEST(EstimateTest, SweepOfConcurrencies) {
  CostEstimate e = EstimateCost(Sweep(), BuiltinPricing());
  EXPECT_EQ(e.iterations, 5);
  EXPECT_EQ(e.total_requests, 160);
  // 3.7 s per request (0.5 s + 128 tokens at 40/s); 32 requests at 1, 2, 4, 8, 16 at a time.
  EXPECT_NEAR(e.run_s, 3.7 * (32 + 16 + 8 + 4 + 2), 1e-9);
  EXPECT_NEAR(e.total_s, 600 + e.run_s, 1e-9);
  EXPECT_NEAR(*e.total_usd, 0.29 * e.total_s / 3600, 1e-12);
  EXPECT_FALSE(e.needs_confirmation);
  EXPECT_NE(e.Describe().find("RTX 4000 Ada x1 (community) at $0.29/hr"), std::string::npos) << e.Describe();
  EXPECT_NE(e.Describe().find("160 requests in 5 iterations"), std::string::npos) << e.Describe();
}

TEST(EstimateTest, ASearchIsEstimatedAtEveryProbeItMayRun) {
  ib::config::ExperimentConfig c = Sweep();
  c.workload.sweep.clear();
  c.workload.concurrency.reset();
  ib::config::ExperimentConfig::Workload::Search search;
  search.over = "concurrency";
  search.min = 2;
  search.max_probes = 6;
  c.workload.search = search;
  CostEstimate e = EstimateCost(c, BuiltinPricing());
  EXPECT_EQ(e.iterations, 6);
  EXPECT_EQ(e.total_requests, 6 * 32);
  // Each probe as long as the lowest: 32 requests, 2 at a time, 3.7 s each.
  EXPECT_NEAR(e.run_s, 6 * 3.7 * 16, 1e-9);
}

TEST(EstimateTest, ExpensiveRunsAskAndTiersAndCountsMultiply) {
  auto c = Sweep();
  c.infrastructure.gpu_type = "H100-80GB";
  c.infrastructure.gpu_count = 2;
  c.infrastructure.cloud_type = "secure";
  CostEstimate e = EstimateCost(c, BuiltinPricing());
  EXPECT_DOUBLE_EQ(*e.hourly_usd, 5.49 * 2);
  EXPECT_TRUE(e.needs_confirmation);  // ~14 min of $10.98/hr
  EstimateOptions fast;
  fast.model_load_s = 0;
  fast.output_tokens_per_s = 1e6;
  fast.ttft_s = 0.001;
  EXPECT_FALSE(EstimateCost(c, BuiltinPricing(), fast).needs_confirmation);
}

TEST(EstimateTest, WorkloadShapes) {
  EstimateOptions o;
  auto c = Sweep();
  c.workload.sweep.clear();
  c.workload.type = "batch";
  c.workload.batch_size = 8;
  c.workload.warmup_requests = 8;
  EXPECT_NEAR(IterationSeconds(c, o), 5 * 3.7, 1e-9);  // 40 requests, 8 at a time
  c.workload.type = "rate";
  c.workload.request_rate = 4;
  EXPECT_NEAR(IterationSeconds(c, o), 40 / 4.0 + 3.7, 1e-9);
  c.workload.duration_s = 2;
  EXPECT_NEAR(IterationSeconds(c, o), 2 + 3.7, 1e-9);
  c = Sweep();
  c.workload.sweep.clear();
  c.workload.type = "multi_turn";
  c.workload.concurrency.reset();
  c.workload.requests.count = 10;
  c.workload.conversation = ib::config::ExperimentConfig::Workload::Conversation{};
  c.workload.conversation->turns = 10;
  EXPECT_NEAR(IterationSeconds(c, o), 10 * 10 * 3.7, 1e-9);
}

TEST(EstimateTest, LocalIsFreeUnknownGpuHasNoPrice) {
  auto c = Sweep();
  c.infrastructure.provider = "local";
  CostEstimate e = EstimateCost(c, BuiltinPricing());
  EXPECT_DOUBLE_EQ(*e.total_usd, 0);
  EXPECT_EQ(e.load_s, 0);
  EXPECT_FALSE(e.needs_confirmation);
  EXPECT_NE(e.Describe().find("no pod (local)"), std::string::npos);
  c = Sweep();
  c.infrastructure.gpu_type = "TPU v5";
  e = EstimateCost(c, BuiltinPricing());
  EXPECT_FALSE(e.hourly_usd);
  EXPECT_FALSE(e.total_usd);
  EXPECT_FALSE(e.needs_confirmation);
  EXPECT_NE(e.Describe().find("unknown: no price for TPU v5"), std::string::npos);
}

}  // namespace
}  // namespace ib::pricing
