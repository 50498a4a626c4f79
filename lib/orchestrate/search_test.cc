#include "lib/orchestrate/search.h"

#include <cmath>

#include <gtest/gtest.h>

namespace ib::orchestrate {
namespace {

using nlohmann::json;
using Search = config::ExperimentConfig::Workload::Search;

Search RateSearch() {
  Search s;
  s.over = "request_rate";
  s.slo.push_back({"ttft_ms", "p99", 500});
  s.min = 1;
  s.max = 40;
  s.precision_pct = 5;
  s.max_probes = 12;
  return s;
}

json Summary(double ttft_p99, double total = 100, double failed = 0) {
  return {{"total_requests", total},
          {"successful_requests", total - failed},
          {"failed_requests", failed},
          {"ttft", {{"p50", ttft_p99 / 2}, {"p99", ttft_p99}, {"mean", ttft_p99 / 2}}}};
}

// Drives a plan against a server whose TTFT p99 crosses 500 ms at `boundary`.
SearchPlan Drive(const Search& s, double boundary, std::vector<Probe>* seen = nullptr) {
  SearchPlan plan(s);
  while (auto p = plan.Next()) {
    if (seen) seen->push_back(*p);
    if (p->kind == Probe::kSaturation) {
      plan.RecordSaturation(boundary * 1.3);
      continue;
    }
    plan.Record(*p, Judge(s, Summary(p->value <= boundary ? 400 : 900)));
  }
  return plan;
}

TEST(Judge, EveryBoundMustHold) {
  Search s = RateSearch();
  s.slo.push_back({"tpot_ms", "p99", 50});
  json summary = Summary(420);
  summary["tpot"] = {{"p99", 61.0}};
  Verdict v = Judge(s, summary);
  EXPECT_FALSE(v.passed);
  EXPECT_EQ(v.detail, "TTFT p99 420 ms ✓  TPOT p99 61 ms ✗");
  EXPECT_EQ(v.first_figure, "TTFT p99 420 ms");
  summary["tpot"]["p99"] = 49.5;
  EXPECT_TRUE(Judge(s, summary).passed);
}

TEST(Judge, FailedRequestsAndGoodput) {
  Search s = RateSearch();
  Verdict all = Judge(s, Summary(0, 20, 20));
  EXPECT_FALSE(all.passed);
  EXPECT_TRUE(all.all_failed);
  EXPECT_EQ(all.detail, "every request failed");
  Verdict some = Judge(s, Summary(100, 100, 2));  // 2 % failed: more than the 1 % allowed
  EXPECT_FALSE(some.passed);
  EXPECT_FALSE(some.all_failed);
  EXPECT_TRUE(Judge(s, Summary(100, 100, 1)).passed);
  s.goodput_frac = 0.95;
  json g = Summary(100);
  g["goodput"] = {{"fraction", 0.9}};
  EXPECT_FALSE(Judge(s, g).passed);
  g["goodput"]["fraction"] = 0.96;
  EXPECT_TRUE(Judge(s, g).passed);
}

TEST(SearchPlan, BracketsTheBoundaryWithinPrecisionAndTheProbeBound) {
  for (double boundary : {1.7, 5.0, 12.3, 22.2, 39.0}) {
    Search s = RateSearch();
    std::vector<Probe> probes;
    SearchPlan plan = Drive(s, boundary, &probes);
    ASSERT_TRUE(plan.passing().has_value()) << boundary;
    ASSERT_TRUE(plan.failing().has_value()) << boundary;
    EXPECT_LE(*plan.passing(), boundary);
    EXPECT_GT(*plan.failing(), boundary);
    EXPECT_LE(*plan.BracketPct(), s.precision_pct) << boundary;
    // ceil(log2(range / precision)) + 2, the precision taken at the answer.
    double precision = *plan.passing() * s.precision_pct / 100;
    int bound = static_cast<int>(std::ceil(std::log2((*s.max - *s.min) / precision))) + 2;
    EXPECT_LE(plan.probes(), bound) << boundary;
    EXPECT_EQ(plan.EndReason(), "precision");
    EXPECT_EQ(probes.front().kind, Probe::kLowest);
    EXPECT_EQ(probes[1].kind, Probe::kHighest);
  }
}

TEST(SearchPlan, WithoutMaxARateSearchProbesSaturationFirst) {
  Search s = RateSearch();
  s.max.reset();
  std::vector<Probe> probes;
  SearchPlan plan = Drive(s, 10, &probes);
  ASSERT_GE(probes.size(), 3u);
  EXPECT_EQ(probes[1].kind, Probe::kSaturation);
  EXPECT_EQ(probes[1].value, kSaturationRate);
  EXPECT_EQ(probes[2].kind, Probe::kHighest);
  EXPECT_DOUBLE_EQ(probes[2].value, 13);  // the measured throughput, 1.3 x the boundary here
  EXPECT_LE(*plan.passing(), 10);
  EXPECT_GT(*plan.failing(), 10);
}

TEST(SearchPlan, ASaturationFigureThatPassesIsGrownPast) {
  Search s = RateSearch();
  s.max.reset();
  SearchPlan plan(s);
  std::vector<Probe> probes;
  while (auto p = plan.Next()) {
    probes.push_back(*p);
    if (p->kind == Probe::kSaturation) {
      plan.RecordSaturation(8);  // the burst measured less than the 10 req/s the server sustains
      continue;
    }
    plan.Record(*p, Judge(s, Summary(p->value <= 10 ? 400 : 900)));
  }
  ASSERT_GE(probes.size(), 4u);
  EXPECT_EQ(probes[2].kind, Probe::kHighest);
  EXPECT_EQ(probes[3].kind, Probe::kGrow);
  EXPECT_DOUBLE_EQ(probes[3].value, 16);
  EXPECT_LE(*plan.passing(), 10);
  EXPECT_GT(*plan.failing(), 10);
  EXPECT_EQ(plan.EndReason(), "precision");
}

TEST(SearchPlan, ConcurrencyDoublesThenBisectsToOne) {
  Search s;
  s.over = "concurrency";
  s.slo.push_back({"ttft_ms", "p99", 500});
  s.max_probes = 20;
  SearchPlan plan = Drive(s, 37);
  EXPECT_EQ(*plan.passing(), 37);
  EXPECT_EQ(*plan.failing(), 38);
}

TEST(SearchPlan, EndsWhenTheLowestValueFails) {
  Search s = RateSearch();
  SearchPlan plan(s);
  plan.Record(*plan.Next(), Judge(s, Summary(0, 10, 10)));
  EXPECT_FALSE(plan.Next().has_value());
  EXPECT_TRUE(plan.server_broken());
  EXPECT_EQ(plan.EndReason(), "server_failed");
  SearchPlan slow(s);
  slow.Record(*slow.Next(), Judge(s, Summary(900)));
  EXPECT_FALSE(slow.Next().has_value());
  EXPECT_EQ(slow.EndReason(), "lowest_failed");
  EXPECT_FALSE(slow.passing().has_value());
}

TEST(SearchPlan, StopsAtMaxProbes) {
  Search s = RateSearch();
  s.max_probes = 4;
  s.precision_pct = 0.01;
  SearchPlan plan = Drive(s, 12.3);
  EXPECT_EQ(plan.probes(), 4);
  EXPECT_EQ(plan.EndReason(), "max_probes");
}

TEST(SearchPlan, HighestPassingEndsTheSearch) {
  Search s = RateSearch();
  SearchPlan plan = Drive(s, 100);
  EXPECT_EQ(plan.probes(), 2);
  EXPECT_EQ(*plan.passing(), 40);
  EXPECT_EQ(plan.EndReason(), "highest_passed");
}

}  // namespace
}  // namespace ib::orchestrate
