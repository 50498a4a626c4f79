#include <cmath>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/openmetrics/run_metrics.h"
#include "lib/openmetrics/writer.h"
#include "lib/results/file.h"
#include "lib/results/aggregator.h"
#include "lib/results/test_runs.h"
#include "lib/stats/slo_metrics.h"

namespace ib::openmetrics {
namespace {

using nlohmann::json;

TEST(Escape, QuotesBackslashNewline) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(EscapeLabelValue("tab\tcr\r"), "tab\tcr\r");  // only the three the specs name
}

TEST(Escape, InvalidUtf8InALabelBecomesReplacementCharacter) {
  EXPECT_EQ(EscapeLabelValue("run\xC3\"x"), "run\xEF\xBF\xBD\\\"x");  // repaired, then escaped
}

TEST(Negotiate, PrometheusScrapeHeaderGetsOpenMetrics) {
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat(""), Format::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("*/*"), Format::kOpenMetrics);
  EXPECT_EQ(NegotiateFormat("text/plain;version=0.0.4"), Format::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0.2, Text/Plain"), Format::kPrometheusText);
  EXPECT_EQ(NegotiateFormat("text/plain;q=0.5, application/openmetrics-text"), Format::kOpenMetrics);
}

TEST(Format, ValuesAndBounds) {
  EXPECT_EQ(FormatValue(20), "20");
  EXPECT_EQ(FormatValue(0.015), "0.015");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatBound(1), "1.0");
  EXPECT_EQ(FormatBound(0.0075), "0.0075");
  EXPECT_EQ(FormatBound(120), "120.0");
}

TEST(Histogram, BucketsAreUpperInclusiveAndCumulative) {
  std::vector<double> bounds = {0.01, 0.1, 1};
  Histogram h(&bounds);
  for (double v : {0.005, 0.01, 0.05, 0.1, 5.0, std::nan("")}) h.Observe(v);
  EXPECT_EQ(h.Cumulative(0), 2u);  // le is "less than or equal"
  EXPECT_EQ(h.Cumulative(1), 4u);
  EXPECT_EQ(h.Cumulative(2), 4u);
  EXPECT_EQ(h.Cumulative(3), 5u);  // +Inf
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 5.165);
  Writer w(Format::kOpenMetrics);
  w.Family("x_seconds", Type::kHistogram, "h", "seconds");
  w.HistogramPoint("x_seconds", {{"run_id", "r"}}, h, 1700000000.5);
  std::string page = std::move(w).Finish();
  EXPECT_NE(page.find("# UNIT x_seconds seconds\n"), std::string::npos);
  EXPECT_NE(page.find("x_seconds_bucket{run_id=\"r\",le=\"1.0\"} 4 1700000000.500\n"), std::string::npos);
  EXPECT_NE(page.find("x_seconds_bucket{run_id=\"r\",le=\"+Inf\"} 5 1700000000.500\n"), std::string::npos);
  EXPECT_NE(page.find("x_seconds_count{run_id=\"r\"} 5 1700000000.500\n"), std::string::npos);
}

TEST(Writer, CounterNamesAndEndPerFormat) {
  for (Format f : {Format::kOpenMetrics, Format::kPrometheusText}) {
    Writer w(f);
    w.Family("ib_requests", Type::kCounter, "Help with \"quotes\" and \\ and\nnewline.");
    w.Sample("ib_requests_total", {{"run_id", "a\"b"}, {"empty", ""}}, 3, 1.5);
    std::string page = std::move(w).Finish();
    if (f == Format::kOpenMetrics) {
      EXPECT_EQ(page,
                "# HELP ib_requests Help with \\\"quotes\\\" and \\\\ and\\nnewline.\n"
                "# TYPE ib_requests counter\n"
                "ib_requests_total{run_id=\"a\\\"b\"} 3 1.500\n# EOF\n");
    } else {
      EXPECT_EQ(page,
                "# HELP ib_requests_total Help with \"quotes\" and \\\\ and\\nnewline.\n"
                "# TYPE ib_requests_total counter\n"
                "ib_requests_total{run_id=\"a\\\"b\"} 3 1500\n");
    }
  }
}

events::RequestComplete Request(const std::string& run, int64_t index, double start_ms, double ttft_ms,
                                double e2e_ms, std::optional<std::string> error_kind = std::nullopt,
                                bool warmup = false) {
  events::RequestComplete r;
  r.run_id = run;
  r.request_index = index;
  r.warmup = warmup;
  r.start_ms = start_ms;
  r.end_ms = start_ms + e2e_ms;
  r.started_at = "2026-12-04T06:00:00.000Z";
  if (error_kind) {
    r.error = "failed: " + *error_kind;
    r.error_kind = *error_kind;
    return r;
  }
  r.ttft_ms = ttft_ms;
  r.ttfc_ms = ttft_ms + 1;
  r.e2e_latency_ms = e2e_ms;
  r.inter_token_latencies_ms = {2, 3, 4};
  r.tpot_ms = (e2e_ms - ttft_ms) / 3;
  r.prompt_tokens = 10 + index;
  r.completion_tokens = 4;
  r.token_count_source = "usage";
  return r;
}

events::Phase Execution(const std::string& run) {
  json data = {{"experiment", {{"name", "exp \"one\""}, {"workload", {{"concurrency", 4}}}}},
               {"metadata", {{"framework", "vllm"}, {"model", "org/model\n\xFF"}, {"gpu_type", "A100"}}},
               {"total_requests", 4}, {"iteration", 2}, {"total", 3}, {"params", {{"concurrency", 4}}}};
  return {run, events::phase::kExecution, data};
}

std::map<std::string, std::string> Samples(const std::string& page) {
  std::map<std::string, std::string> out;  // "name{labels}" -> value
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

const std::string kLabels =
    "run_id=\"r1\",experiment=\"exp \\\"one\\\"\",framework=\"vllm\",model=\"org/model\\n\xEF\xBF\xBD\","
    "gpu_type=\"A100\"";

TEST(RunMetrics, CountsWhatTheResultsFileCounts) {
  LiveMetrics live;
  live.Add(Execution("r1"));
  live.Add(Request("r1", 0, 0, 10, 100, std::nullopt, /*warmup=*/true));
  live.Add(Request("r1", 1, 0, 12, 100));
  live.Add(Request("r1", 2, 5, 30, 200));
  live.Add(Request("r1", 3, 5, 0, 50, "timeout"));
  live.Add(Request("r1", 4, 5, 0, 50, "weird_kind"));
  events::GpuSample g;
  g.run_id = "r1";
  g.t_s = 0.5;
  g.running_requests = 3;
  g.kv_cache_usage_frac = 0.25;
  live.Add(g);
  auto s = Samples(live.Page(Format::kPrometheusText));
  EXPECT_EQ(s["ib_requests_total{" + kLabels + ",outcome=\"success\"}"], "2");
  EXPECT_EQ(s["ib_requests_total{" + kLabels + ",outcome=\"error\",error_kind=\"timeout\"}"], "1");
  EXPECT_EQ(s["ib_requests_total{" + kLabels + ",outcome=\"error\",error_kind=\"other\"}"], "1");
  EXPECT_EQ(s["ib_warmup_requests_total{" + kLabels + "}"], "1");
  EXPECT_EQ(s["ib_ttft_seconds_count{" + kLabels + "}"], "2");
  EXPECT_EQ(s["ib_ttft_seconds_bucket{" + kLabels + ",le=\"0.01\"}"], "0");
  EXPECT_EQ(s["ib_ttft_seconds_bucket{" + kLabels + ",le=\"0.015\"}"], "1");
  EXPECT_EQ(s["ib_ttft_seconds_bucket{" + kLabels + ",le=\"0.03\"}"], "2");
  EXPECT_NEAR(std::stod(s["ib_ttft_seconds_sum{" + kLabels + "}"]), 0.042, 1e-12);
  EXPECT_EQ(s["ib_itl_seconds_count{" + kLabels + "}"], "6");
  EXPECT_EQ(s["ib_prompt_tokens_total{" + kLabels + "}"], "23");
  EXPECT_EQ(s["ib_completion_tokens_total{" + kLabels + "}"], "8");
  EXPECT_EQ(s["ib_run_phase{" + kLabels + ",phase=\"execution\"}"], "1");
  EXPECT_EQ(s["ib_run_phase{" + kLabels + ",phase=\"done\"}"], "0");
  EXPECT_EQ(s["ib_sweep_iteration{" + kLabels + "}"], "2");
  EXPECT_EQ(s["ib_sweep_value{" + kLabels + ",param=\"concurrency\"}"], "4");
  EXPECT_EQ(s["ib_offered_concurrency{" + kLabels + "}"], "4");
  EXPECT_EQ(s["ib_server_running_requests{" + kLabels + "}"], "3");
  EXPECT_EQ(s["ib_server_kv_cache_usage_ratio{" + kLabels + "}"], "0.25");
  EXPECT_EQ(s.count("ib_client_cpu_seconds_total{" + kLabels + "}"), 0u);  // not before the end
  live.Add(events::Phase{"r1", events::phase::kIterationDone,
                         {{"client", {{"cpu_s", 0.5}, {"max_rss_mb", 2}, {"loop_stalls", 0}}}}});
  s = Samples(live.Page(Format::kOpenMetrics));
  EXPECT_EQ(s["ib_client_cpu_seconds_total{" + kLabels + "}"], "0.5");
  EXPECT_EQ(s["ib_client_max_rss_bytes{" + kLabels + "}"], "2097152");
  EXPECT_EQ(s["ib_run_phase{" + kLabels + ",phase=\"iteration_done\"}"], "1");
}

TEST(LiveMetrics, NextRunDropsThePreviousAndLateEventsAreIgnored) {
  LiveMetrics live;
  EXPECT_EQ(live.Page(Format::kOpenMetrics), "# EOF\n");
  live.Add(Execution("r1"));
  live.Add(Request("r1", 1, 0, 12, 100));
  live.Add(events::MakeLog("r2", "info", "a log does not start a run", "x"));
  EXPECT_NE(live.Page(Format::kOpenMetrics).find("run_id=\"r1\""), std::string::npos);
  live.Add(events::Phase{"r2", events::phase::kSweepIteration, {{"iteration", 2}}});
  live.Add(Request("r1", 2, 0, 12, 100));  // late: r1 does not come back
  std::string page = live.Page(Format::kOpenMetrics);
  EXPECT_EQ(page.find("run_id=\"r1\""), std::string::npos);
  EXPECT_NE(page.find("ib_sweep_iteration{run_id=\"r2\"} 2\n"), std::string::npos);
  EXPECT_NE(page.find("ib_requests_total{run_id=\"r2\",outcome=\"success\"} 0\n"), std::string::npos);
}

TEST(RunMetrics, IntendedLatenciesOnceTheEventsCarryThem) {
  LiveMetrics live;
  live.Add(Execution("r1"));
  live.Add(Request("r1", 1, 0, 12, 100));
  auto s = Samples(live.Page(Format::kOpenMetrics));
  EXPECT_EQ(s.count("ib_ttft_intended_seconds_count{" + kLabels + "}"), 0u);  // older streams
  auto r = Request("r1", 2, 0, 12, 100);
  r.intended_ms = -40;
  r.client_queue_ms = 40;  // held back 40 ms: TTFT from the intended instant is 52 ms
  live.Add(r);
  auto failed = Request("r1", 3, 0, 0, 10, "timeout");
  failed.client_queue_ms = 3;
  live.Add(failed);
  s = Samples(live.Page(Format::kOpenMetrics));
  EXPECT_EQ(s["ib_ttft_intended_seconds_count{" + kLabels + "}"], "1");
  EXPECT_EQ(s["ib_ttft_intended_seconds_bucket{" + kLabels + ",le=\"0.05\"}"], "0");
  EXPECT_EQ(s["ib_ttft_intended_seconds_bucket{" + kLabels + ",le=\"0.075\"}"], "1");
  EXPECT_NEAR(std::stod(s["ib_e2e_intended_seconds_sum{" + kLabels + "}"]), 0.14, 1e-12);
  EXPECT_EQ(s["ib_client_queue_seconds_count{" + kLabels + "}"], "2");
}

// Goodput and per-token ITL by the results file's own rules (lib/results MeetsSlos and
// ForEachPerTokenGap): the counter equals summary.goodput.good_requests, the histogram counts
// one value per token as summary.itl_per_token does.
TEST(RunMetrics, GoodputAndPerTokenItlAsTheResultsFileCountsThem) {
  LiveMetrics live;
  events::Phase exec = Execution("r1");
  exec.data["experiment"]["metrics"] = {{"goodput", {{"ttft_ms", 20}, {"tpot_ms", 50}}}};
  live.Add(exec);
  auto s = Samples(live.Page(Format::kOpenMetrics));
  EXPECT_EQ(s["ib_goodput_requests_total{" + kLabels + "}"], "0");
  EXPECT_EQ(s["ib_goodput_slo_seconds{" + kLabels + ",metric=\"ttft_ms\"}"], "0.02");
  EXPECT_EQ(s["ib_goodput_slo_seconds{" + kLabels + ",metric=\"tpot_ms\"}"], "0.05");
  EXPECT_EQ(s.count("ib_itl_per_token_seconds_count{" + kLabels + "}"), 0u);  // no itl_tokens yet
  auto good = Request("r1", 1, 0, 12, 100);    // TTFT 12 ms, TPOT 29.3 ms: meets both
  good.itl_tokens = std::vector<double>{1, 2, 0};  // gaps 2, 3, 4 ms: 2/1 once, 3/2 twice, none
  live.Add(good);
  live.Add(Request("r1", 2, 5, 30, 200));      // TTFT 30 ms: misses
  live.Add(Request("r1", 3, 5, 0, 50, "timeout"));  // a failure is never good
  s = Samples(live.Page(Format::kOpenMetrics));
  EXPECT_EQ(s["ib_goodput_requests_total{" + kLabels + "}"], "1");
  EXPECT_EQ(s["ib_itl_per_token_seconds_count{" + kLabels + "}"], "3");
  EXPECT_NEAR(std::stod(s["ib_itl_per_token_seconds_sum{" + kLabels + "}"]), 0.005, 1e-12);
  EXPECT_EQ(s["ib_itl_per_token_seconds_bucket{" + kLabels + ",le=\"0.0015\"}"], "2");
  EXPECT_EQ(s["ib_itl_per_token_seconds_bucket{" + kLabels + ",le=\"0.002\"}"], "3");
  EXPECT_EQ(s["ib_itl_seconds_count{" + kLabels + "}"], "6");  // per event, unchanged

  // The same requests through lib/results give the same two figures.
  results::Slos slos = results::SlosFrom(exec.data["experiment"]["metrics"], {});
  EXPECT_TRUE(results::MeetsSlos(good, slos));
  EXPECT_FALSE(results::MeetsSlos(Request("r1", 2, 5, 30, 200), slos));
}

// docs/ib-dash.md states the bound: 335 series per run plus one per numeric swept parameter
// (218 + P for streams without client_queue_ms, itl_tokens or goodput SLOs).
TEST(LiveMetrics, CardinalityBoundAsDocumented) {
  LiveMetrics live;
  live.Add(Execution("r1"));
  // Every optional family present: both offered loads (a real config has one of the two).
  // ... and every goodput key a config may write (lib/stats GoodputKeys, aliases included).
  json goodput = json::object();
  for (const std::string& key : stats::GoodputKeys()) goodput[key] = 100;
  live.Add(events::Phase{"r1", events::phase::kExecution,
                         {{"experiment", {{"workload", {{"request_rate", 2}}}, {"metrics", {{"goodput", goodput}}}}}}});
  const char* kinds[] = {"http_status", "sse_error", "timeout", "idle_timeout", "connect",
                         "reset", "truncated", "cancelled", "skipped", "x", "y"};
  int i = 0;
  for (const char* k : kinds) live.Add(Request("r1", ++i, 0, 0, 1, std::string(k)));
  auto r = Request("r1", ++i, 0, 5, 10);
  r.send_lag_ms = 1;
  r.intended_ms = 0;
  r.client_queue_ms = 1;
  r.itl_tokens = std::vector<double>{1, 1, 1};
  live.Add(r);
  events::GpuSample g;
  g.run_id = "r1";
  g.kv_cache_usage_frac = g.running_requests = g.waiting_requests = g.prefix_cache_hit_rate_frac = 0.5;
  g.generation_tokens_per_s = g.prompt_tokens_per_s = g.prompt_tokens_total = g.generation_tokens_total = 1;
  g.prefix_cache_hits_total = g.prefix_cache_queries_total = g.preemptions_total = g.scrape_ms = 1;
  live.Add(g);
  json params = {{"concurrency", 4}, {"name", "not a number"}};
  live.Add(events::Phase{"r1", events::phase::kIterationDone,
                         {{"params", params}, {"client", {{"cpu_s", 1}, {"max_rss_mb", 1}, {"loop_stalls", 0}}}}});
  EXPECT_EQ(Samples(live.Page(Format::kOpenMetrics)).size(), 335u + 1u);
}

TEST(Export, FinishedRunAsTimestampedOpenMetrics) {
  std::vector<events::Event> evs;
  evs.push_back(Execution("r1"));
  // Requests over 2.5 s of run time.
  for (int i = 0; i < 6; ++i) evs.push_back(Request("r1", i, i * 400.0, 10 + i, 100));
  evs.push_back(Request("r1", 6, 2400, 0, 100, "reset"));
  evs.push_back(events::Phase{"r1", events::phase::kIterationDone, {{"completed", 7}}});
  auto runs = results::AllRunsOf(std::move(evs));
  ASSERT_EQ(runs.size(), 1u);
  json file = json::parse(results::SerializeRun(runs[0]));
  std::string out, error;
  ASSERT_TRUE(ExportRun(file, 0, &out, &error)) << error;
  ASSERT_TRUE(out.ends_with("\n# EOF\n"));
  // Points at 0, 1, 2 s and the end (2.5 s); the last one holds the whole run.
  const std::string series = "ib_requests_total{" + kLabels + ",outcome=\"success\"}";
  std::vector<std::pair<double, std::string>> points;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(series + " ")) continue;
    std::istringstream fields(line.substr(series.size()));
    std::string value;
    double ts;
    fields >> value >> ts;
    points.push_back({ts, value});
  }
  ASSERT_EQ(points.size(), 4u) << out.substr(0, 2000);
  for (std::size_t i = 1; i < points.size(); ++i) EXPECT_GT(points[i].first, points[i - 1].first);
  EXPECT_EQ(points.front().second, "0");
  EXPECT_EQ(points.back().second, std::to_string(file["summary"]["successful_requests"].get<int>()));
  EXPECT_NEAR(points.back().first - points.front().first, 2.5, 0.002);
  EXPECT_NE(out.find("ib_run_phase{" + kLabels + ",phase=\"iteration_done\"} 1 "), std::string::npos);
  EXPECT_NE(out.find("ib_requests_total{" + kLabels + ",outcome=\"error\",error_kind=\"reset\"} 1 "),
            std::string::npos);
  file["metadata"].erase("clock_origin");
  EXPECT_FALSE(ExportRun(file, 0, &out, &error));
  EXPECT_NE(error.find("clock_origin"), std::string::npos);
}

}  // namespace
}  // namespace ib::openmetrics
