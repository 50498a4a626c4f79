#include "lib/prom/text_parser.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace ib::prom {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in("lib/prom/testdata/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of the one sample named `name` carrying every label in `labels`.
double ValueOf(const Page& page, const std::string& name, std::vector<Label> labels = {}) {
  std::vector<double> found;
  for (const Sample* s : page.SamplesNamed(name)) {
    bool all = true;
    for (const Label& l : labels) all = all && s->LabelValue(l.name) == l.value;
    if (all) found.push_back(s->value);
  }
  EXPECT_EQ(found.size(), 1u) << name;
  return found.empty() ? -12345.0 : found[0];
}

Page ParseOpenMetrics(const std::string& file) {
  ParseOptions options;
  options.openmetrics = true;
  return ParsePage(Fixture(file), options);
}

void ExpectClean(const Page& page, int64_t samples) {
  EXPECT_TRUE(page.report.ok()) << (page.report.errors.empty() ? "" : page.report.errors[0].message);
  EXPECT_EQ(page.report.samples, samples);
  EXPECT_EQ(static_cast<int64_t>(page.SampleCount()), samples);
}

// ---- Real vLLM and SGLang pages ----

TEST(PromFixtures, VllmV1IdleFullPage) {
  Page page = ParsePage(Fixture("vllm-v1-idle-qwen1.5-0.5b-chat.txt"));
  ExpectClean(page, 379);
  EXPECT_EQ(page.report.lines, 503);
  EXPECT_EQ(page.families.size(), 62u);  // every family has HELP/TYPE, none is implied
  const std::vector<Label> engine0 = {{"engine", "0"}, {"model_name", "Qwen/Qwen1.5-0.5B-Chat"}};
  EXPECT_EQ(ValueOf(page, "vllm:num_requests_running", engine0), 0.0);
  EXPECT_EQ(ValueOf(page, "vllm:kv_cache_usage_perc", engine0), 0.0);
  EXPECT_EQ(ValueOf(page, "vllm:prefix_cache_queries_created", engine0), 1.7624384230434499e+09);
  EXPECT_EQ(ValueOf(page, "python_gc_objects_collected_total", {{"generation", "1"}}), 1620.0);
  EXPECT_EQ(ValueOf(page, "vllm:request_success_total", {{"finished_reason", "abort"}}), 0.0);

  const Family* counter = page.Find("vllm:prefix_cache_hits_total");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->type, MetricType::kCounter);
  const Family* created = page.Find("vllm:prefix_cache_hits_created");
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->type, MetricType::kGauge);  // the companion family, not the counter's

  const Family* ttft = page.Find("vllm:time_to_first_token_seconds");
  ASSERT_NE(ttft, nullptr);
  EXPECT_EQ(ttft->type, MetricType::kHistogram);
  std::size_t buckets = 0;
  for (const Sample& s : ttft->samples) buckets += s.name.ends_with("_bucket");
  EXPECT_EQ(buckets, 23u);
  EXPECT_EQ(ttft->samples.size(), 25u);  // + _count and _sum; _created is its own gauge family
  EXPECT_EQ(ttft->samples.back().name, "vllm:time_to_first_token_seconds_sum");

  const Family* config = page.Find("vllm:cache_config_info");
  ASSERT_NE(config, nullptr);
  ASSERT_EQ(config->samples.size(), 1u);
  EXPECT_EQ(config->samples[0].labels.size(), 21u);
  EXPECT_EQ(config->samples[0].LabelValue("num_gpu_blocks"), "2452");
  EXPECT_EQ(config->samples[0].LabelValue("model_name"), std::nullopt);

  // http_* families have metadata and no samples; the last HELP ends in a space.
  const Family* http = page.Find("http_request_duration_seconds");
  ASSERT_NE(http, nullptr);
  EXPECT_TRUE(http->samples.empty());
  EXPECT_EQ(http->type, MetricType::kHistogram);
  EXPECT_TRUE(http->help.ends_with("is important. ")) << http->help;
}

TEST(PromFixtures, VllmV0WithoutFinalNewline) {
  Page page = ParsePage(Fixture("vllm-v0-0.5-opt-125m.txt"));
  ExpectClean(page, 120);
  EXPECT_EQ(page.report.lines, 178);  // 177 newlines, then the unterminated last line
  EXPECT_EQ(page.families.size(), 29u);
  const std::vector<Label> opt = {{"model_name", "facebook/opt-125m"}};
  EXPECT_EQ(ValueOf(page, "vllm:gpu_cache_usage_perc", opt), 0.0);
  EXPECT_EQ(ValueOf(page, "vllm:prompt_tokens_total", opt), 5.0);
  EXPECT_EQ(ValueOf(page, "vllm:generation_tokens_total", opt), 7.0);
  // The last line of the file (no '\n' after it) is a complete sample.
  EXPECT_EQ(ValueOf(page, "vllm:avg_generation_throughput_toks_per_s", opt), 0.0);
  EXPECT_EQ(page.SamplesNamed("vllm:avg_generation_throughput_toks_per_s")[0]->line, 178);
  EXPECT_TRUE(page.SamplesNamed("vllm:gpu_prefix_cache_hit_rate").empty());
}

TEST(PromFixtures, VllmV1GlmExcerptStartsMidDocument) {
  Page page = ParsePage(Fixture("vllm-v1-0.10.0-glm-4.5-excerpt.txt"));
  ExpectClean(page, 5);
  EXPECT_EQ(ValueOf(page, "vllm:kv_cache_usage_perc"), 9.75010481363281e-06);
  EXPECT_EQ(ValueOf(page, "vllm:prefix_cache_queries_total"), 32.0);
  EXPECT_EQ(ValueOf(page, "vllm:gpu_prefix_cache_hits_total"), 0.0);
  EXPECT_EQ(ValueOf(page, "vllm:gpu_prefix_cache_queries_created"), 1.7537953269352946e+09);
}

TEST(PromFixtures, SglangDocsUnderLoad) {
  Page page = ParsePage(Fixture("sglang-docs-llama-3.1-8b.txt"));
  ExpectClean(page, 91);
  EXPECT_EQ(page.families.size(), 12u);
  EXPECT_EQ(ValueOf(page, "sglang:prompt_tokens_total"), 8.128902e+06);
  EXPECT_EQ(ValueOf(page, "sglang:generation_tokens_total"), 7.557572e+06);
  EXPECT_EQ(ValueOf(page, "sglang:token_usage"), 0.28);
  EXPECT_EQ(ValueOf(page, "sglang:cache_hit_rate"), 0.007507552643049313);
  EXPECT_EQ(ValueOf(page, "sglang:num_running_reqs"), 162.0);
  EXPECT_EQ(ValueOf(page, "sglang:num_queue_reqs"), 2826.0);
  EXPECT_EQ(ValueOf(page, "sglang:gen_throughput"), 86.50814177726902);
  EXPECT_EQ(ValueOf(page, "sglang:e2e_request_latency_seconds_sum"), 3.116093850019932e+06);
  EXPECT_EQ(ValueOf(page, "sglang:func_latency_seconds_bucket", {{"le", "+Inf"}}), 14007.0);
  // _sum before the buckets (multiprocess ordering) still lands in the histogram family.
  const Family* e2e = page.Find("sglang:e2e_request_latency_seconds");
  ASSERT_NE(e2e, nullptr);
  EXPECT_EQ(e2e->samples.front().name, "sglang:e2e_request_latency_seconds_sum");
  EXPECT_EQ(e2e->samples.back().name, "sglang:e2e_request_latency_seconds_count");
}

TEST(PromFixtures, SglangEngineTypeLabels) {
  Page page = ParsePage(Fixture("sglang-0.5.1-engine-type-labels-excerpt.txt"));
  ExpectClean(page, 4);
  const Sample* s = page.SamplesNamed("sglang:gen_throughput")[0];
  EXPECT_EQ(s->value, 0.8371284457403783);
  EXPECT_EQ(s->labels, (std::vector<Label>{{"engine_type", "unified"},
                                           {"model_name", "Qwen-32B"},
                                           {"pp_rank", "0"},
                                           {"tp_rank", "0"}}));
  EXPECT_EQ(page.Find("sglang:token_usage")->help, "The token usage.");
}

TEST(PromFixtures, SglangDpRanksWithoutMetadata) {
  Page page = ParsePage(Fixture("sglang-dp-attention-deepseek-r1-excerpt.txt"));
  ExpectClean(page, 9);
  auto gen = page.SamplesNamed("sglang:gen_throughput");
  ASSERT_EQ(gen.size(), 7u);
  EXPECT_EQ(gen[0]->LabelValue("dp_rank"), "3");
  EXPECT_EQ(gen[0]->value, 141.7546862896204);
  EXPECT_EQ(ValueOf(page, "sglang:gen_throughput", {{"dp_rank", "5"}}), 140.76470568188876);
  EXPECT_EQ(page.Find("sglang:gen_throughput")->type, MetricType::kUntyped);
  EXPECT_EQ(page.Find("sglang:num_queue_reqs")->type, MetricType::kGauge);
}

// ---- Prometheus documentation examples ----

TEST(PromFixtures, PrometheusDocsExamplePreUtf8) {
  Page page = ParsePage(Fixture("other-prometheus-docs-text-format-example-pre-utf8.txt"));
  ExpectClean(page, 20);
  auto requests = page.SamplesNamed("http_requests_total");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1]->value, 3.0);  // several spaces before the value
  EXPECT_EQ(requests[1]->timestamp, 1395066363000.0);
  const Sample* msdos = page.SamplesNamed("msdos_file_access_time_seconds")[0];
  EXPECT_EQ(msdos->LabelValue("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(msdos->LabelValue("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_EQ(msdos->value, 1.458255915e9);
  EXPECT_EQ(ValueOf(page, "metric_without_timestamp_and_labels"), 12.47);
  const Sample* weird = page.SamplesNamed("something_weird")[0];
  EXPECT_EQ(weird->value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(weird->timestamp, -3982045.0);
  EXPECT_EQ(ValueOf(page, "http_request_duration_seconds_bucket", {{"le", "0.2"}}), 100392.0);
  EXPECT_EQ(ValueOf(page, "rpc_duration_seconds", {{"quantile", "0.99"}}), 76656.0);
  EXPECT_EQ(ValueOf(page, "rpc_duration_seconds_sum"), 1.7560473e+07);
  EXPECT_EQ(page.Find("rpc_duration_seconds")->samples.size(), 7u);
}

// The docs print the UTF-8 example line without a value, which the grammar does not allow:
// every other line parses and that one is reported with its line number.
TEST(PromFixtures, PrometheusDocsExampleWithValuelessUtf8Line) {
  Page page = ParsePage(Fixture("other-prometheus-docs-text-format-example.txt"));
  EXPECT_EQ(page.report.samples, 20);
  ASSERT_EQ(page.report.error_count, 1);
  EXPECT_EQ(page.report.errors[0].line, 10);
  EXPECT_NE(page.report.errors[0].message.find("missing value"), std::string::npos)
      << page.report.errors[0].message;
  EXPECT_EQ(ValueOf(page, "metric_without_timestamp_and_labels"), 12.47);
}

TEST(PromParser, QuotedUtf8NamesWithAValue) {
  Page page = ParsePage("{\"my.dotted.metric\", \"error.message\"=\"Not Found\"} 1\n"
                        "# TYPE \"other.metric\" gauge\n"
                        "{\"other.metric\"} 2\n");
  ExpectClean(page, 2);
  const Sample* s = page.SamplesNamed("my.dotted.metric")[0];
  EXPECT_EQ(s->value, 1.0);
  EXPECT_EQ(s->LabelValue("error.message"), "Not Found");
  EXPECT_EQ(page.Find("other.metric")->type, MetricType::kGauge);
}

// ---- OpenMetrics spec and conformance vectors ----

TEST(PromFixtures, OpenMetricsSpecExample) {
  Page page = ParseOpenMetrics("other-openmetrics-spec-example.txt");
  ExpectClean(page, 8);
  EXPECT_TRUE(page.report.saw_eof);
  const Family* acme = page.Find("acme_http_router_request_seconds");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->type, MetricType::kSummary);
  EXPECT_EQ(acme->unit, "seconds");
  EXPECT_EQ(acme->help, "Latency though all of ACME's HTTP request router.");
  EXPECT_EQ(acme->samples.size(), 6u);
  EXPECT_EQ(ValueOf(page, "acme_http_router_request_seconds_count", {{"path", "/api/v1"}}), 807283.0);
  EXPECT_EQ(ValueOf(page, "acme_http_router_request_seconds_created", {{"method", "POST"}}), 1605281325.0);
  const Family* cpu = page.Find("process_cpu_seconds");
  ASSERT_NE(cpu, nullptr);
  ASSERT_EQ(cpu->samples.size(), 1u);
  EXPECT_EQ(cpu->samples[0].name, "process_cpu_seconds_total");
  EXPECT_EQ(cpu->samples[0].value, 4.20072246e+06);
  EXPECT_EQ(ValueOf(page, "go_goroutines"), 69.0);
}

TEST(PromFixtures, OpenMetricsEscaping) {
  Page page = ParseOpenMetrics("other-openmetrics-testdata-escaping.txt");
  ExpectClean(page, 4);
  EXPECT_EQ(page.Find("a")->help, "he\n\\l\\tp");
  auto s = page.SamplesNamed("a_total");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0]->LabelValue("foo"), "b\"a\nr");
  EXPECT_EQ(s[1]->LabelValue("foo"), "b\\a\\z");
  EXPECT_EQ(s[2]->LabelValue("foo"), "b\"a\nr # ");
  EXPECT_EQ(s[3]->LabelValue("foo"), "b\\a\\z # ");
  EXPECT_EQ(s[3]->value, 4.0);
}

TEST(PromFixtures, OpenMetricsHashInLabelValue) {
  Page page = ParseOpenMetrics("other-openmetrics-testdata-hash_in_label_value.txt");
  ExpectClean(page, 2);
  auto s = page.SamplesNamed("a_total");
  EXPECT_EQ(s[0]->LabelValue("foo"), "foo # bar");
  EXPECT_EQ(s[1]->LabelValue("foo"), "} foo # bar # ");
  EXPECT_FALSE(s[1]->has_exemplar);
}

TEST(PromFixtures, OpenMetricsHelpEscaping) {
  Page page = ParseOpenMetrics("other-openmetrics-testdata-help_escaping.txt");
  ExpectClean(page, 10);
  const char* expected[] = {"foo", "\\foo", "\\foo", "foo\\", "\\", "\n", "\\n", "\\\n", "\"", "\\\""};
  for (int i = 0; i < 10; ++i) {
    const Family* f = page.Find("a" + std::to_string(i));
    ASSERT_NE(f, nullptr) << i;
    EXPECT_EQ(f->help, expected[i]) << i;
    EXPECT_EQ(f->samples.size(), 1u) << i;
  }
}

TEST(PromFixtures, OpenMetricsLabelEscaping) {
  Page page = ParseOpenMetrics("other-openmetrics-testdata-label_escaping.txt");
  ExpectClean(page, 10);
  const char* expected[] = {"foo", "\\foo", "\\foo", "foo\\", "\\", "\n", "\\n", "\\\n", "\"", "\\\""};
  for (int i = 0; i < 10; ++i) {
    auto s = page.SamplesNamed("a" + std::to_string(i) + "_total");
    ASSERT_EQ(s.size(), 1u) << i;
    EXPECT_EQ(s[0]->LabelValue("foo"), expected[i]) << i;
    EXPECT_EQ(s[0]->LabelValue("bar"), "baz") << i;
  }
}

TEST(PromFixtures, OpenMetricsHistogramExemplars) {
  Page page = ParseOpenMetrics("other-openmetrics-testdata-histogram_exemplars.txt");
  ExpectClean(page, 3);
  const Family* a = page.Find("a");
  ASSERT_EQ(a->samples.size(), 3u);
  EXPECT_EQ(a->samples[1].value, 2.0);
  EXPECT_TRUE(a->samples[1].has_exemplar);
  EXPECT_EQ(a->samples[1].labels, (std::vector<Label>{{"le", "2.0"}}));  // not the exemplar's
  EXPECT_EQ(a->samples[2].value, 3.0);
  EXPECT_EQ(a->samples[2].timestamp, std::nullopt);  // 123 is the exemplar's timestamp
}

TEST(PromFixtures, OpenMetricsSmallVectors) {
  Page inf = ParseOpenMetrics("other-openmetrics-testdata-labels_and_infinite.txt");
  ExpectClean(inf, 2);
  EXPECT_EQ(ValueOf(inf, "a", {{"foo", "bar"}}), std::numeric_limits<double>::infinity());
  EXPECT_EQ(ValueOf(inf, "a", {{"foo", "baz"}}), -std::numeric_limits<double>::infinity());

  Page braces = ParseOpenMetrics("other-openmetrics-testdata-labels_with_curly_braces.txt");
  ExpectClean(braces, 1);
  EXPECT_EQ(braces.SamplesNamed("a_total")[0]->LabelValue("bar"), "b{a}z");

  Page nan = ParseOpenMetrics("other-openmetrics-testdata-nan.txt");
  ExpectClean(nan, 1);
  EXPECT_TRUE(std::isnan(nan.SamplesNamed("a")[0]->value));

  Page no_newline = ParseOpenMetrics("other-openmetrics-testdata-no_newline_after_eof.txt");
  ExpectClean(no_newline, 1);
  EXPECT_TRUE(no_newline.report.saw_eof);
  EXPECT_EQ(ValueOf(no_newline, "a"), 1.0);

  Page big = ParseOpenMetrics("other-openmetrics-testdata-uint64_counter.txt");
  ExpectClean(big, 1);
  EXPECT_EQ(ValueOf(big, "a_total"), 9223372036854775808.0);

  Page untyped = ParseOpenMetrics("other-openmetrics-testdata-untyped.txt");
  ExpectClean(untyped, 2);
  EXPECT_EQ(untyped.Find("redis_connected_clients")->type, MetricType::kUnknown);
  EXPECT_EQ(ValueOf(untyped, "redis_connected_clients", {{"port", "6381"}}), 12.0);
}

TEST(PromFixtures, OpenMetricsTimestamps) {
  Page page = ParseOpenMetrics("other-openmetrics-testdata-timestamps.txt");
  ExpectClean(page, 6);
  auto a = page.SamplesNamed("a_total");
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0]->timestamp, 0.0);
  EXPECT_EQ(a[1]->timestamp, 0.0);
  EXPECT_EQ(a[2]->timestamp, 1.1);
  EXPECT_EQ(a[3]->timestamp, 12345678901234567890.1234567890);
  EXPECT_EQ(a[4]->timestamp, 1500.0);
  EXPECT_EQ(page.SamplesNamed("b_total")[0]->timestamp, 1234567890.0);
}

TEST(PromFixtures, OpenMetricsRoundtrip) {
  Page page = ParseOpenMetrics("other-openmetrics-testdata-roundtrip.txt");
  ExpectClean(page, 40);
  EXPECT_EQ(ValueOf(page, "go_gc_duration_seconds", {{"quantile", "0.0"}}), 0.013300656000000001);
  EXPECT_EQ(ValueOf(page, "go_gc_duration_seconds_count"), 7476.0);
  EXPECT_TRUE(std::isnan(ValueOf(page, "prometheus_local_storage_indexing_batch_duration_milliseconds",
                                 {{"quantile", "0.9"}})));
  EXPECT_EQ(ValueOf(page, "process_virtual_memory_bytes"), 2.478268416e+09);
  EXPECT_EQ(ValueOf(page, "prometheus_local_storage_chunk_ops_total", {{"type", "drop"}}), 1.345758e+06);
  const Family* foo = page.Find("foo");
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(foo->samples.size(), 14u);
  EXPECT_EQ(foo->help, "histogram Testing histogram buckets");
  EXPECT_EQ(ValueOf(page, "foo_bucket", {{"le", "1.55555555555552e+06"}}), 17.0);
  EXPECT_EQ(ValueOf(page, "foo_created"), 1.520430000123e+09);
  EXPECT_EQ(ValueOf(page, "bar_bucket", {{"a", "c"}}), 0.0);
  EXPECT_EQ(page.Find("bar")->samples.size(), 2u);
}

// Every fixture parses in both modes without crashing; the OpenMetrics ones need # EOF.
TEST(PromFixtures, EveryFixtureParses) {
  const char* files[] = {
      "other-openmetrics-spec-example.txt", "other-openmetrics-testdata-escaping.txt",
      "other-openmetrics-testdata-hash_in_label_value.txt",
      "other-openmetrics-testdata-help_escaping.txt",
      "other-openmetrics-testdata-histogram_exemplars.txt",
      "other-openmetrics-testdata-label_escaping.txt",
      "other-openmetrics-testdata-labels_and_infinite.txt",
      "other-openmetrics-testdata-labels_with_curly_braces.txt", "other-openmetrics-testdata-nan.txt",
      "other-openmetrics-testdata-no_newline_after_eof.txt",
      "other-openmetrics-testdata-roundtrip.txt", "other-openmetrics-testdata-timestamps.txt",
      "other-openmetrics-testdata-uint64_counter.txt", "other-openmetrics-testdata-untyped.txt",
      "other-prometheus-docs-text-format-example-pre-utf8.txt", "sglang-0.5.1-engine-type-labels-excerpt.txt",
      "sglang-docs-llama-3.1-8b.txt", "sglang-dp-attention-deepseek-r1-excerpt.txt",
      "vllm-v0-0.5-opt-125m.txt", "vllm-v1-0.10.0-glm-4.5-excerpt.txt",
      "vllm-v1-idle-qwen1.5-0.5b-chat.txt"};
  for (const char* f : files) {
    Page page = ParsePage(Fixture(f));
    EXPECT_TRUE(page.report.ok()) << f << ": " << page.report.errors[0].line << ": "
                                  << page.report.errors[0].message;
    EXPECT_GT(page.report.samples, 0) << f;
    ParseOptions om;
    om.openmetrics = true;
    Page strict = ParsePage(Fixture(f), om);
    EXPECT_EQ(strict.report.ok(), std::string(f).starts_with("other-openmetrics")) << f;
  }
}

// ---- Garbage is rejected with line numbers ----

struct BadCase {
  const char* text;
  int64_t line;
  const char* message_part;
};

TEST(PromParser, BadLinesAreReportedWithTheirNumbers) {
  const BadCase cases[] = {
      {"ok 1\nbad{ 1\n", 2, "label"},
      {"a{x=\"1\"\n", 1, "unterminated"},
      {"a{x=\"1} 2\n", 1, "unterminated value"},
      {"a{x=1} 2\n", 1, "expected '\"'"},
      {"a{x \"1\"} 2\n", 1, "expected '='"},
      {"a{x=\"1\" y=\"2\"} 3\n", 1, "expected ',' or '}'"},
      {"a{x=\"1\",x=\"2\"} 3\n", 1, "duplicate label"},
      {"a\n", 1, "missing value"},
      {"a{} \n", 1, "missing value"},
      {"a abc\n", 1, "bad value 'abc'"},
      {"a 1 2 3\n", 1, "unexpected text '3'"},
      {"a 1 NaN\n", 1, "bad timestamp"},
      {"a 1 # nope\n", 1, "bad exemplar"},
      {"a 1 # {b=\"c\"} x\n", 1, "bad exemplar value"},
      {"a-b 1\n", 1, "unexpected character '-'"},
      {"1a 2\n", 1, "expected a metric name"},
      {"\n\n# TYPE a wibble\n", 3, "unknown type 'wibble'"},
      {"# HELP\n", 1, "without a valid metric name"},
      {"# TYPE 9x gauge\n", 1, "without a valid metric name"},
      {"a 1\n# EOF\nb 2\n", 3, "after \"# EOF\""},
      {"{x=\"1\"} 2\n", 1, "without a metric name"},
      {"a ++1\n", 1, "bad value"},
      {"a +-1\n", 1, "bad value"},
      {"<html><body>404</body></html>\n", 1, "expected a metric name"},
  };
  for (const BadCase& c : cases) {
    Page page = ParsePage(c.text);
    ASSERT_GE(page.report.error_count, 1) << c.text;
    EXPECT_EQ(page.report.errors[0].line, c.line) << c.text;
    EXPECT_NE(page.report.errors[0].message.find(c.message_part), std::string::npos)
        << c.text << " -> " << page.report.errors[0].message;
  }
}

TEST(PromParser, GoodLinesAroundABadOneStillParse) {
  Page page = ParsePage("a 1\nb{ 2\nc 3\n");
  EXPECT_EQ(page.report.samples, 2);
  EXPECT_EQ(page.report.error_count, 1);
  EXPECT_EQ(ValueOf(page, "c"), 3.0);
}

TEST(PromParser, OpenMetricsWithoutEofIsTruncated) {
  ParseOptions om;
  om.openmetrics = true;
  Page page = ParsePage("# TYPE a gauge\na 1\n", om);
  ASSERT_EQ(page.report.error_count, 1);
  EXPECT_EQ(page.report.errors[0].line, 2);
  EXPECT_NE(page.report.errors[0].message.find("# EOF"), std::string::npos);
}

TEST(PromParser, ErrorListIsBoundedButEveryErrorCounts) {
  std::string garbage;
  for (int i = 0; i < 1000; ++i) garbage += "%%% not a metric\n";
  Page page = ParsePage(garbage);
  EXPECT_EQ(page.report.error_count, 1000);
  EXPECT_EQ(page.report.errors.size(), 20u);
  EXPECT_EQ(page.report.errors[19].line, 20);
}

TEST(PromParser, BinaryGarbageNeverCrashes) {
  std::string junk;
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245u + 12345u;
    junk += static_cast<char>(x >> 24);
  }
  Page page = ParsePage(junk);
  EXPECT_GT(page.report.error_count, 0);
  // Embedded NULs, \r\n line ends and an unterminated last line are all just bytes.
  Page crlf = ParsePage(std::string("a 1\r\nb\0 2\r\nc 3", 14));
  EXPECT_EQ(crlf.report.samples, 2);
  EXPECT_EQ(crlf.report.errors[0].line, 2);
  EXPECT_NE(crlf.report.errors[0].message.find("\\x00"), std::string::npos);
}

// Seeded byte mutations of the real vLLM page (flips, cuts, inserted quotes, braces and
// backslashes): the parser must always return, with every sample or error accounted for.
TEST(PromParser, MutatedRealPagesNeverCrash) {
  const std::string page = Fixture("vllm-v1-idle-qwen1.5-0.5b-chat.txt");
  const char specials[] = {'"', '{', '}', '\\', '\n', ' ', '#', ',', '=', '\0'};
  uint32_t x = 7;
  auto next = [&] { return x = x * 1664525u + 1013904223u; };
  TextParser parser;
  struct Count : SampleHandler {
    void OnSample(const SampleView& s) override {
      ++n;
      for (const LabelView& l : s.labels) bytes += l.name.size() + l.value.size();
    }
    int64_t n = 0;
    std::size_t bytes = 0;
  };
  for (int round = 0; round < 300; ++round) {
    std::string m = page;
    int edits = 1 + next() % 20;
    for (int e = 0; e < edits; ++e) {
      std::size_t at = next() % m.size();
      switch (next() % 3) {
        case 0: m[at] = specials[next() % sizeof specials]; break;
        case 1: m.insert(at, 1, specials[next() % sizeof specials]); break;
        default: m.erase(at, 1 + next() % 50); break;
      }
    }
    if (round % 10 == 0) m.resize(next() % m.size());  // a truncated page
    Count count;
    ParseReport report = parser.Parse(m, count);
    EXPECT_EQ(report.samples, count.n);
    EXPECT_LE(report.errors.size(), 20u);
    for (const ParseError& e : report.errors) {
      EXPECT_GE(e.line, 1);
      EXPECT_LE(e.line, report.lines);
      EXPECT_FALSE(e.message.empty());
    }
  }
}

TEST(PromParser, WhitespaceAndTrailingCommaTolerated) {
  Page page = ParsePage("  a{ x = \"1\" , y=\"2\", } \t 5 \t\n\tb 6\n# free comment\n#no space\n");
  ExpectClean(page, 2);
  EXPECT_EQ(ValueOf(page, "a", {{"x", "1"}, {"y", "2"}}), 5.0);
  EXPECT_EQ(ValueOf(page, "b"), 6.0);
}

TEST(PromParser, RawLabelsAreAStableSeriesKey) {
  struct Keys : SampleHandler {
    void OnSample(const SampleView& s) override { keys.emplace_back(s.raw_labels); }
    std::vector<std::string> keys;
  } keys;
  TextParser parser;
  parser.Parse("a{engine=\"0\",m=\"x\"} 1\na 2\n", keys);
  EXPECT_EQ(keys.keys, (std::vector<std::string>{"engine=\"0\",m=\"x\"", ""}));
}

TEST(PromParser, ParseNumber) {
  EXPECT_EQ(ParseNumber("0.0"), 0.0);
  EXPECT_EQ(ParseNumber("8.128902e+06"), 8128902.0);
  EXPECT_EQ(ParseNumber("+Inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(ParseNumber("-Inf"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(ParseNumber("+3"), 3.0);
  EXPECT_TRUE(std::isnan(*ParseNumber("NaN")));
  EXPECT_EQ(ParseNumber("1e-320").has_value(), true);  // subnormal
  EXPECT_EQ(ParseNumber("1e999"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(ParseNumber(""), std::nullopt);
  EXPECT_EQ(ParseNumber("1.0x"), std::nullopt);
  EXPECT_EQ(ParseNumber("0x10"), std::nullopt);
  EXPECT_EQ(ParseNumber(" 1"), std::nullopt);
}

}  // namespace
}  // namespace ib::prom
