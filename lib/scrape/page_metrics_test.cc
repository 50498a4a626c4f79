#include "lib/scrape/page_metrics.h"

#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "lib/results/aggregator.h"
#include "lib/scrape/sample_builder.h"
#include "lib/scrape/server_histograms.h"
#include "lib/stats/stats.h"

namespace ib::scrape {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in("lib/prom/testdata/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

PageMetrics Extract(Framework fw, const std::string& text, std::string model = "") {
  PageExtractor extractor(fw, std::move(model));
  prom::TextParser parser;
  extractor.Reset();
  prom::ParseReport report = parser.Parse(text, extractor);
  EXPECT_TRUE(report.ok()) << text;
  return extractor.metrics();
}

double CounterSum(const CounterValue& c) {
  double sum = 0;
  for (std::size_t i = 0; i < c.series.size(); ++i) sum += c.series.value(i);
  return sum;
}

// ---- Mapping of the real pages ----

TEST(PageMetrics, VllmV1IdlePage) {
  PageMetrics m = Extract(Framework::kVllm, Fixture("vllm-v1-idle-qwen1.5-0.5b-chat.txt"));
  EXPECT_TRUE(m.saw_vllm);
  EXPECT_FALSE(m.saw_sglang);
  EXPECT_EQ(DetectFramework(m), Framework::kVllm);
  EXPECT_EQ(m.kv_cache_usage.Mean(), 0.0);
  EXPECT_EQ(m.kv_cache_usage.priority, 0);
  EXPECT_EQ(m.running.Sum(), 0.0);
  EXPECT_EQ(m.waiting.Sum(), 0.0);
  ASSERT_EQ(m.prefix_queries.series.size(), 1u);
  EXPECT_EQ(m.prefix_queries.series.key(0), "engine=\"0\",model_name=\"Qwen/Qwen1.5-0.5B-Chat\"");
  EXPECT_EQ(m.prefix_hits.series.size(), 1u);  // not the _created companion
  EXPECT_EQ(m.preemptions.series.size(), 1u);
  EXPECT_EQ(m.generation_tokens.series.size(), 1u);
  EXPECT_EQ(m.hit_rate_gauge.Mean(), std::nullopt);
  EXPECT_EQ(m.models, (std::vector<std::string>{"Qwen/Qwen1.5-0.5B-Chat"}));
  EXPECT_EQ(m.mapped_samples, 8);

  SampleBuilder builder("r");
  events::GpuSample s = builder.Build(m, 0.25, 3.5);
  EXPECT_EQ(s.run_id, "r");
  EXPECT_EQ(s.t_s, 0.25);
  EXPECT_EQ(s.scrape_ms, 3.5);
  EXPECT_EQ(s.kv_cache_usage_frac, 0.0);
  EXPECT_EQ(s.generation_tokens_total, 0.0);
  EXPECT_EQ(s.generation_tokens_per_s, std::nullopt);  // no rate from one sample
  EXPECT_EQ(s.prefix_cache_hit_rate_frac, std::nullopt);  // no query in the run yet
}

TEST(PageMetrics, VllmV0NamesFallBack) {
  PageMetrics m = Extract(Framework::kVllm, Fixture("vllm-v0-0.5-opt-125m.txt"));
  EXPECT_EQ(m.kv_cache_usage.Mean(), 0.0);
  EXPECT_EQ(m.kv_cache_usage.priority, 1);  // gpu_cache_usage_perc
  EXPECT_EQ(CounterSum(m.prompt_tokens), 5.0);
  EXPECT_EQ(CounterSum(m.generation_tokens), 7.0);
  EXPECT_EQ(m.generation_rate_gauge.Sum(), 0.0);
  EXPECT_EQ(m.prompt_rate_gauge.Sum(), 0.0);
  EXPECT_FALSE(m.prefix_hits.present());
  EXPECT_EQ(m.hit_rate_gauge.Mean(), std::nullopt);  // added in V0 0.5.5, after this capture
}

TEST(PageMetrics, VllmV0HitRateGauge) {
  PageMetrics m = Extract(Framework::kVllm,
                          "vllm:gpu_prefix_cache_hit_rate{model_name=\"m\"} 0.25\n"
                          "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\n");
  SampleBuilder builder("r");
  events::GpuSample s = builder.Build(m, 1, 1);
  EXPECT_EQ(s.prefix_cache_hit_rate_frac, 0.25);
  EXPECT_EQ(s.kv_cache_usage_frac, 0.5);
}

TEST(PageMetrics, Vllm010PrefersNewCountersOverDeprecated) {
  PageMetrics m = Extract(Framework::kVllm, Fixture("vllm-v1-0.10.0-glm-4.5-excerpt.txt"));
  EXPECT_EQ(m.kv_cache_usage.Mean(), 9.75010481363281e-06);
  EXPECT_EQ(CounterSum(m.prefix_queries), 32.0);
  EXPECT_EQ(m.prefix_queries.priority, 0);
  EXPECT_EQ(m.prefix_hits.priority, 1);  // only the deprecated one is in the excerpt
  // Both names on one page, deprecated first: the preferred one replaces it, never adds to it.
  PageMetrics both = Extract(Framework::kVllm,
                             "vllm:gpu_prefix_cache_hits_total{engine=\"0\"} 7\n"
                             "vllm:prefix_cache_hits_total{engine=\"0\"} 9\n"
                             "vllm:gpu_prefix_cache_hits_total{engine=\"1\"} 7\n");
  EXPECT_EQ(CounterSum(both.prefix_hits), 9.0);
}

TEST(PageMetrics, SglangDocsPage) {
  PageMetrics m = Extract(Framework::kSglang, Fixture("sglang-docs-llama-3.1-8b.txt"));
  EXPECT_EQ(DetectFramework(m), Framework::kSglang);
  EXPECT_EQ(m.kv_cache_usage.Mean(), 0.28);
  EXPECT_EQ(m.running.Sum(), 162.0);
  EXPECT_EQ(m.waiting.Sum(), 2826.0);
  EXPECT_EQ(m.hit_rate_gauge.Mean(), 0.007507552643049313);
  EXPECT_EQ(m.generation_rate_gauge.Sum(), 86.50814177726902);
  EXPECT_EQ(CounterSum(m.prompt_tokens), 8.128902e+06);
  EXPECT_EQ(CounterSum(m.generation_tokens), 7.557572e+06);
  SampleBuilder builder("r");
  events::GpuSample s = builder.Build(m, 0, 1);
  EXPECT_EQ(s.prefix_cache_hit_rate_frac, 0.007507552643049313);  // the gauge
  EXPECT_EQ(s.running_requests, 162.0);
}

TEST(PageMetrics, SglangDpRanksAreSummed) {
  PageMetrics m = Extract(Framework::kSglang, Fixture("sglang-dp-attention-deepseek-r1-excerpt.txt"));
  EXPECT_EQ(m.generation_rate_gauge.count, 7);  // tp_rank != 0, but each is its own DP rank
  EXPECT_DOUBLE_EQ(*m.generation_rate_gauge.Sum(), 565.9856781963813);
  EXPECT_EQ(m.waiting.Sum(), 0.0);
  EXPECT_EQ(m.waiting.count, 2);
}

TEST(PageMetrics, SglangEngineTypeLabels) {
  PageMetrics m = Extract(Framework::kSglang, Fixture("sglang-0.5.1-engine-type-labels-excerpt.txt"));
  EXPECT_EQ(m.running.Sum(), 1.0);
  EXPECT_EQ(m.kv_cache_usage.Mean(), 0.0);
  EXPECT_EQ(m.generation_rate_gauge.Sum(), 0.8371284457403783);
}

TEST(PageMetrics, ReplicatedRanksAreSkipped) {
  PageMetrics m = Extract(Framework::kSglang,
                          "sglang:num_running_reqs{tp_rank=\"0\",pp_rank=\"0\"} 4\n"
                          "sglang:num_running_reqs{tp_rank=\"1\",pp_rank=\"0\"} 4\n"
                          "sglang:num_running_reqs{tp_rank=\"0\",pp_rank=\"1\"} 4\n");
  EXPECT_EQ(m.running.Sum(), 4.0);
}

TEST(PageMetrics, EnginesSummedFractionsAveraged) {
  PageMetrics m = Extract(Framework::kVllm,
                          "vllm:kv_cache_usage_perc{engine=\"0\"} 0.2\n"
                          "vllm:kv_cache_usage_perc{engine=\"1\"} 0.6\n"
                          "vllm:num_requests_running{engine=\"0\"} 3\n"
                          "vllm:num_requests_running{engine=\"1\"} 5\n"
                          "vllm:num_requests_waiting{engine=\"1\"} NaN\n");
  EXPECT_DOUBLE_EQ(*m.kv_cache_usage.Mean(), 0.4);
  EXPECT_EQ(m.running.Sum(), 8.0);
  EXPECT_EQ(m.waiting.Sum(), std::nullopt);  // NaN is missing, not a number
}

TEST(PageMetrics, ModelFilterKeepsOneModel) {
  const std::string page =
      "vllm:num_requests_running{model_name=\"a\"} 3\n"
      "vllm:num_requests_running{model_name=\"b\"} 5\n"
      "vllm:kv_cache_usage_perc 0.5\n";
  PageMetrics all = Extract(Framework::kVllm, page);
  EXPECT_EQ(all.running.Sum(), 8.0);
  EXPECT_EQ(all.models, (std::vector<std::string>{"a", "b"}));
  PageMetrics b = Extract(Framework::kVllm, page, "b");
  EXPECT_EQ(b.running.Sum(), 5.0);
  EXPECT_EQ(b.kv_cache_usage.Mean(), 0.5);  // a series without model_name still counts
}

TEST(PageMetrics, FrameworkMismatchMapsNothing) {
  PageMetrics m = Extract(Framework::kSglang, Fixture("vllm-v1-idle-qwen1.5-0.5b-chat.txt"));
  EXPECT_EQ(m.mapped_samples, 0);
  EXPECT_TRUE(m.saw_vllm);
  PageMetrics neither = Extract(Framework::kAuto, "process_open_fds 3\n");
  EXPECT_EQ(DetectFramework(neither), std::nullopt);
  PageMetrics underscore = Extract(Framework::kVllm, "vllm_num_requests_running 2\n");
  EXPECT_EQ(underscore.running.Sum(), 2.0);
}

TEST(PageMetrics, ParseFramework) {
  EXPECT_EQ(ParseFramework("vllm"), Framework::kVllm);
  EXPECT_EQ(ParseFramework("sglang"), Framework::kSglang);
  EXPECT_EQ(ParseFramework("auto"), Framework::kAuto);
  EXPECT_EQ(ParseFramework("tgi"), std::nullopt);
}

// ---- Run deltas, rates, resets ----

std::string VllmPage(double gen0, double gen1, double hits, double queries, double kv = 0.5) {
  std::ostringstream o;
  o << "vllm:generation_tokens_total{engine=\"0\"} " << gen0 << "\n"
    << "vllm:generation_tokens_total{engine=\"1\"} " << gen1 << "\n"
    << "vllm:prefix_cache_hits_total{engine=\"0\"} " << hits << "\n"
    << "vllm:prefix_cache_queries_total{engine=\"0\"} " << queries << "\n"
    << "vllm:kv_cache_usage_perc{engine=\"0\"} " << kv << "\n";
  return o.str();
}

TEST(SampleBuilder, DeltasRatesAndResetsPerSeries) {
  SampleBuilder b("r");
  events::GpuSample s1 = b.Build(Extract(Framework::kVllm, VllmPage(100, 50, 200, 1000)), 10.0, 1);
  EXPECT_EQ(s1.generation_tokens_total, 0.0);
  EXPECT_EQ(s1.prefix_cache_hits_total, 0.0);
  EXPECT_EQ(s1.generation_tokens_per_s, std::nullopt);
  EXPECT_EQ(s1.prefix_cache_hit_rate_frac, std::nullopt);

  events::GpuSample s2 = b.Build(Extract(Framework::kVllm, VllmPage(150, 60, 250, 1100)), 10.5, 1);
  EXPECT_EQ(s2.generation_tokens_total, 60.0);
  EXPECT_EQ(s2.generation_tokens_per_s, 120.0);
  EXPECT_EQ(s2.prefix_cache_hits_total, 50.0);
  EXPECT_EQ(s2.prefix_cache_queries_total, 100.0);
  EXPECT_EQ(s2.prefix_cache_hit_rate_frac, 0.5);
  EXPECT_EQ(b.resets(), 0);

  // Engine 0 restarted (150 -> 10) while engine 1 went on (60 -> 70): +10 +10.
  events::GpuSample s3 = b.Build(Extract(Framework::kVllm, VllmPage(10, 70, 250, 1300)), 11.0, 1);
  EXPECT_EQ(s3.generation_tokens_total, 80.0);
  EXPECT_EQ(s3.generation_tokens_per_s, 40.0);
  EXPECT_EQ(b.resets(), 1);
  EXPECT_NE(b.last_resets().find("generation_tokens_total{engine=\"0\"}"), std::string::npos);
  EXPECT_DOUBLE_EQ(*s3.prefix_cache_hit_rate_frac, 50.0 / 300.0);  // over the run so far

  // The counter missing from a page is null there, and picks up where it was on the next.
  events::GpuSample s4 = b.Build(Extract(Framework::kVllm, "vllm:kv_cache_usage_perc NaN\n"), 11.5, 1);
  EXPECT_EQ(s4.generation_tokens_total, std::nullopt);
  EXPECT_EQ(s4.generation_tokens_per_s, std::nullopt);
  EXPECT_EQ(s4.kv_cache_usage_frac, std::nullopt);
  EXPECT_EQ(s4.prefix_cache_hit_rate_frac, std::nullopt);
  events::GpuSample s5 = b.Build(Extract(Framework::kVllm, VllmPage(30, 70, 250, 1300)), 12.0, 1);
  EXPECT_EQ(s5.generation_tokens_total, 100.0);
  EXPECT_EQ(s5.generation_tokens_per_s, 20.0);  // 20 tokens over 1 s since the last showing
  EXPECT_EQ(b.resets(), 1);
}

TEST(SampleBuilder, SeriesBornDuringTheRunCountsFromZero) {
  SampleBuilder b("r");
  b.Build(Extract(Framework::kVllm, "vllm:generation_tokens_total{engine=\"0\"} 5\n"), 0, 1);
  events::GpuSample s = b.Build(Extract(Framework::kVllm,
                                        "vllm:generation_tokens_total{engine=\"0\"} 5\n"
                                        "vllm:generation_tokens_total{engine=\"1\"} 8\n"),
                                2, 1);
  EXPECT_EQ(s.generation_tokens_total, 8.0);
  EXPECT_EQ(s.generation_tokens_per_s, 4.0);
}

TEST(SampleBuilder, GaugeThroughputWhenNoCounter) {
  SampleBuilder b("r");
  events::GpuSample s = b.Build(Extract(Framework::kSglang, "sglang:gen_throughput 86.5\n"), 0, 1);
  EXPECT_EQ(s.generation_tokens_per_s, 86.5);
  EXPECT_EQ(s.generation_tokens_total, std::nullopt);
}

TEST(SampleBuilder, SerializesNullsNeverNaN) {
  SampleBuilder b("r");
  events::GpuSample s = b.Build(Extract(Framework::kVllm, "vllm:kv_cache_usage_perc NaN\n"), 1, std::nullopt);
  std::string line = events::Serialize(s);
  EXPECT_EQ(line.find("NaN"), std::string::npos) << line;
  EXPECT_NE(line.find("\"kv_cache_usage_frac\":null"), std::string::npos) << line;
}

// ---- Summary ----
// The run's GPU summary is computed once, by lib/results (docs/metrics.md): from pages through
// SampleBuilder to the results file's gpu_summary.

TEST(GpuSummary, PeaksMeansAndRunHitRate) {
  SampleBuilder b("r");
  std::vector<events::GpuSample> samples;
  samples.push_back(b.Build(Extract(Framework::kVllm, VllmPage(100, 0, 0, 0, 0.2)), 0, 1));
  samples.push_back(b.Build(Extract(Framework::kVllm, VllmPage(200, 0, 30, 100, 0.6)), 1, 1));
  samples.push_back(b.Build(Extract(Framework::kVllm, VllmPage(400, 0, 60, 200, 0.4)), 2, 1));
  samples.push_back(b.Build(Extract(Framework::kVllm, "up 1\n"), 3, 1));  // all null
  auto summary = [](const std::vector<events::GpuSample>& s) {
    return ib::results::Summarize({}, s, 3, 0, {50}, {})["gpu_summary"];
  };
  nlohmann::json g = summary(samples);
  EXPECT_EQ(g["total_samples"], 4);
  EXPECT_DOUBLE_EQ(g["kv_cache_usage_peak"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(g["kv_cache_usage_mean"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(g["prefix_cache_hit_rate"].get<double>(), 0.3);  // 60 hits / 200 queries
  EXPECT_DOUBLE_EQ(g["generation_throughput"].get<double>(), 150.0);  // 300 tokens over 2 s
  EXPECT_TRUE(g["active_requests_mean"].is_null());

  std::vector<events::GpuSample> sglang;
  SampleBuilder gb("g");
  sglang.push_back(gb.Build(Extract(Framework::kSglang, "sglang:cache_hit_rate 0.2\nsglang:num_running_reqs 2\n"), 0, 1));
  sglang.push_back(gb.Build(Extract(Framework::kSglang, "sglang:cache_hit_rate 0.4\nsglang:num_running_reqs 6\n"), 1, 1));
  nlohmann::json gs = summary(sglang);
  EXPECT_DOUBLE_EQ(gs["prefix_cache_hit_rate"].get<double>(), 0.3);  // no counters: the gauge's mean
  EXPECT_EQ(gs["active_requests_peak"], 6.0);
  EXPECT_EQ(gs["active_requests_mean"], 4.0);
  EXPECT_TRUE(summary({}).is_null());
}


// ---- The server's latency histograms (HistogramTracker) ----

namespace histograms {

const HistogramValue* Find(const PageMetrics& m, const std::string& name) {
  for (const HistogramValue& h : m.histograms) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

TEST(ServerHistograms, SglangDocsPageIsReadWhateverTheLineOrder) {
  // The doc page writes _sum before the buckets (multiprocess ordering).
  PageMetrics m = Extract(Framework::kSglang, Fixture("sglang-docs-llama-3.1-8b.txt"));
  const HistogramValue* ttft = Find(m, "ttft_ms");
  ASSERT_NE(ttft, nullptr);
  EXPECT_EQ(ttft->metric, "sglang:time_to_first_token_seconds");
  ASSERT_EQ(ttft->series.size(), 1u);
  EXPECT_EQ(ttft->series[0].count, 11008.0);
  EXPECT_EQ(ttft->series[0].sum, 2.3518979474117756e+06);
  EXPECT_EQ(ttft->series[0].buckets.size(), 21u);  // 20 bounds + +Inf
  EXPECT_NE(Find(m, "e2e_ms"), nullptr);
  EXPECT_NE(Find(m, "tpot_ms"), nullptr);
  // sglang:func_latency_seconds is not a request latency: not kept.
  EXPECT_EQ(m.histograms.size(), 3u);
}

TEST(ServerHistograms, VllmV0PerTokenHistogramIsItl) {
  PageMetrics m = Extract(Framework::kVllm, Fixture("vllm-v0-0.5-opt-125m.txt"));
  const HistogramValue* itl = Find(m, "itl_ms");
  ASSERT_NE(itl, nullptr);
  EXPECT_EQ(itl->metric, "vllm:time_per_output_token_seconds");
  EXPECT_EQ(itl->series[0].count, 6.0);
  ASSERT_NE(Find(m, "ttft_ms"), nullptr);
  EXPECT_EQ(Find(m, "ttft_ms")->series[0].count, 1.0);
}

TEST(ServerHistograms, VllmV1IdlePageHasEveryLatencyHistogramAtZero) {
  PageMetrics m = Extract(Framework::kVllm, Fixture("vllm-v1-idle-qwen1.5-0.5b-chat.txt"));
  for (const char* name : {"ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "queue_ms", "prefill_ms",
                           "decode_ms", "inference_ms"}) {
    const HistogramValue* h = Find(m, name);
    ASSERT_NE(h, nullptr) << name;
    EXPECT_EQ(h->series.size(), 1u) << name;
    EXPECT_EQ(h->series[0].count, 0.0) << name;
  }
  // V1's own per-token name wins over the deprecated alias.
  EXPECT_EQ(Find(m, "itl_ms")->metric, "vllm:inter_token_latency_seconds");
  HistogramTracker tracker;
  tracker.Update(m.histograms);
  auto snap = tracker.Snapshot();
  ASSERT_EQ(snap.count("ttft_ms"), 1u);
  EXPECT_EQ(snap["ttft_ms"].counts.size(), snap["ttft_ms"].le_ms.size() + 1);
  EXPECT_EQ(snap["ttft_ms"].le_ms.front(), 1.0);  // 0.001 s
  EXPECT_EQ(snap["ttft_ms"].count, 0.0);
}

// A vLLM V1 page with one TTFT histogram per engine: bounds 10 ms, 100 ms, +Inf.
std::string TwoEnginePage(std::array<std::array<int, 3>, 2> cum, std::array<double, 2> sums) {
  std::string page = "# TYPE vllm:time_to_first_token_seconds histogram\n";
  const char* les[3] = {"0.01", "0.1", "+Inf"};
  for (int e = 0; e < 2; ++e) {
    std::string labels = "engine=\"" + std::to_string(e) + "\",model_name=\"m\"";
    for (int i = 0; i < 3; ++i) {
      page += "vllm:time_to_first_token_seconds_bucket{engine=\"" + std::to_string(e) + "\",le=\"" +
              les[i] + "\",model_name=\"m\"} " + std::to_string(cum[e][i]) + "\n";
    }
    page += "vllm:time_to_first_token_seconds_count{" + labels + "} " + std::to_string(cum[e][2]) + "\n";
    page += "vllm:time_to_first_token_seconds_sum{" + labels + "} " + std::to_string(sums[e]) + "\n";
  }
  return page;
}

TEST(ServerHistograms, RunDeltaSumsEnginesAndSurvivesAReset) {
  HistogramTracker tracker;
  // Baseline: the server already served requests before the run.
  tracker.Update(Extract(Framework::kVllm, TwoEnginePage({{{5, 8, 9}, {1, 1, 1}}}, {0.5, 0.005})).histograms);
  EXPECT_EQ(tracker.Snapshot()["ttft_ms"].count, 0.0);
  // Engine 0: +2 in (10, 100] ms, +1 over 100 ms; engine 1: +3 under 10 ms.
  tracker.Update(Extract(Framework::kVllm, TwoEnginePage({{{5, 10, 12}, {4, 4, 4}}}, {0.9, 0.02})).histograms);
  auto h = tracker.Snapshot()["ttft_ms"];
  EXPECT_EQ(h.metric, "vllm:time_to_first_token_seconds");
  EXPECT_EQ(h.le_ms, (std::vector<double>{10, 100}));
  EXPECT_EQ(h.counts, (std::vector<double>{3, 2, 1}));
  EXPECT_EQ(h.count, 6.0);
  EXPECT_NEAR(h.sum_ms, 400 + 15, 1e-9);
  EXPECT_EQ(tracker.resets(), 0);
  // Engine 1 restarts (its counts fall) and serves 2 more under 10 ms: they count whole.
  tracker.Update(Extract(Framework::kVllm, TwoEnginePage({{{5, 10, 12}, {2, 2, 2}}}, {0.9, 0.01})).histograms);
  h = tracker.Snapshot()["ttft_ms"];
  EXPECT_EQ(h.counts, (std::vector<double>{5, 2, 1}));
  EXPECT_EQ(h.count, 8.0);
  EXPECT_NEAR(h.sum_ms, 400 + 15 + 10, 1e-9);
  EXPECT_EQ(tracker.resets(), 1);
}

TEST(ServerHistograms, QuantilesInterpolateInsideTheirBucket) {
  // 3 under 10 ms, 2 in (10, 100], 1 over 100: p50 is rank 3 -> the end of the first bucket.
  auto p50 = ib::stats::HistogramQuantile({10, 100}, {3, 2, 1}, 50);
  ASSERT_TRUE(p50);
  EXPECT_DOUBLE_EQ(p50->value, 10.0);
  EXPECT_EQ(p50->lo, 0.0);
  EXPECT_EQ(p50->hi, 10.0);
  auto p75 = ib::stats::HistogramQuantile({10, 100}, {3, 2, 1}, 75);  // rank 4.5: 1.5 of 2 into (10,100]
  ASSERT_TRUE(p75);
  EXPECT_DOUBLE_EQ(p75->value, 10 + 90 * 0.75);
  EXPECT_EQ(p75->lo, 10.0);
  EXPECT_EQ(p75->hi, 100.0);
  auto p99 = ib::stats::HistogramQuantile({10, 100}, {3, 2, 1}, 99);  // in +Inf: the last finite bound
  ASSERT_TRUE(p99);
  EXPECT_EQ(p99->value, 100.0);
  EXPECT_TRUE(std::isinf(p99->hi));
  EXPECT_FALSE(ib::stats::HistogramQuantile({10, 100}, {0, 0, 0}, 50));
  EXPECT_FALSE(ib::stats::HistogramQuantile({10, 100}, {1, 1}, 50));
  // Empty leading buckets are skipped even for p0.
  auto p0 = ib::stats::HistogramQuantile({10, 100}, {0, 4, 0}, 0);
  ASSERT_TRUE(p0);
  EXPECT_EQ(p0->lo, 10.0);
}

}  // namespace histograms
}  // namespace
}  // namespace ib::scrape
