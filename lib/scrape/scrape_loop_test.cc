// The scrape loop against a real local HTTP server (Civetweb on 127.0.0.1:0) serving the real
// fixture pages and pages that change, fail, stall or are not Prometheus at all.
#include "lib/scrape/scrape_loop.h"

#include <civetweb.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lib/http/session.h"
#include "lib/scrape/live_table.h"

namespace ib::scrape {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in("lib/prom/testdata/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::atomic<int> g_counter_requests{0};
std::atomic<int> g_flaky_requests{0};

void Reply(mg_connection* conn, int status, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d X\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %zu\r\n\r\n",
            status, body.size());
  mg_write(conn, body.data(), body.size());
}

int Handler(mg_connection* conn, void*) {
  std::string uri = mg_get_request_info(conn)->local_uri;
  if (uri == "/vllm") {
    // Counters that grow by 10 generated tokens and 4 queries (1 hit) per request.
    int n = g_counter_requests.fetch_add(1);
    std::ostringstream o;
    o << "# TYPE vllm:generation_tokens_total counter\n"
      << "vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} " << 1000 + 10 * n << "\n"
      << "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} " << 4 * n << "\n"
      << "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} " << n << "\n"
      << "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\n"
      << "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n";
    Reply(conn, 200, o.str());
    return 200;
  }
  if (uri == "/flaky") {  // requests 2, 3 and 4 fail, the others serve the V1 page
    int n = g_flaky_requests.fetch_add(1);
    if (n >= 2 && n <= 4) {
      Reply(conn, 503, "loading\n");
      return 503;
    }
    Reply(conn, 200, Fixture("vllm-v1-idle-qwen1.5-0.5b-chat.txt"));
    return 200;
  }
  if (uri == "/sglang") {
    Reply(conn, 200, Fixture("sglang-docs-llama-3.1-8b.txt"));
    return 200;
  }
  if (uri == "/garbage") {
    Reply(conn, 200, "<html>\n<body>Not here</body>\n</html>\n");
    return 200;
  }
  if (uri == "/nothing-known") {
    Reply(conn, 200, "process_open_fds 12\n");
    return 200;
  }
  if (uri == "/slow") {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    Reply(conn, 200, "vllm:num_requests_running 1\n");
    return 200;
  }
  if (uri == "/big") {
    Reply(conn, 200, std::string(300000, '#'));
    return 200;
  }
  return 0;  // civetweb answers 404
}

class ScrapeLoopTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "4", nullptr};
    ctx_ = mg_start(nullptr, nullptr, options);
    ASSERT_NE(ctx_, nullptr);
    mg_set_request_handler(ctx_, "/", Handler, nullptr);
    mg_server_port ports[1];
    ASSERT_EQ(mg_get_server_ports(ctx_, 1, ports), 1);
    base_ = "http://127.0.0.1:" + std::to_string(ports[0].port);
  }
  static void TearDownTestSuite() { mg_stop(ctx_); }
  void SetUp() override { StopSignal::Reset(); }

  ScrapeOptions Options(const std::string& path, double duration_s = 0.6) {
    ScrapeOptions o;
    o.url = base_ + path;
    o.framework = Framework::kVllm;
    o.interval_ms = 50;
    o.timeout_ms = 2000;
    o.run_id = "test-run";
    o.duration_s = duration_s;
    return o;
  }
  static mg_context* ctx_;
  static std::string base_;
};
mg_context* ScrapeLoopTest::ctx_ = nullptr;
std::string ScrapeLoopTest::base_;

struct Collector : SampleSink {
  bool OnSample(const events::GpuSample& s) override {
    samples.push_back(s);
    MaybeStop();
    return accept;
  }
  bool OnLog(const events::Log& l) override {
    logs.push_back(l.level + ": " + l.message);
    back = back || l.message.find("server is back") != std::string::npos;
    MaybeStop();
    return true;
  }
  // Ends the loop once stop_after_samples samples (and, if asked, the recovery) were seen, so
  // the tests wait for events rather than for a time.
  void MaybeStop() {
    if (stop_after_samples > 0 && samples.size() >= stop_after_samples && (!stop_when_back || back)) {
      StopSignal::Request();
    }
  }
  std::size_t stop_after_samples = 0;
  bool stop_when_back = false;
  bool back = false;
  bool OnError(const events::Error& e) override {
    errors.push_back(e.message);
    EXPECT_EQ(e.source, "ib-scrape");
    return true;
  }
  std::string AllLogs() const {
    std::string all;
    for (const auto& l : logs) all += l + "\n";
    return all;
  }
  std::vector<events::GpuSample> samples;
  std::vector<std::string> logs, errors;
  bool accept = true;
};

TEST_F(ScrapeLoopTest, CountersBecomeRunDeltasAndRates) {
  Collector sink;
  sink.stop_after_samples = 4;
  ScrapeOptions o = Options("/vllm", 30);
  o.t0_ns = MonotonicNowNs() - 5'000'000'000;  // the run started 5 s ago
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  ASSERT_EQ(sink.samples.size(), 5u) << sink.AllLogs();  // 4, then the last one a stop takes
  EXPECT_TRUE(sink.errors.empty());
  const events::GpuSample& first = sink.samples[0];
  EXPECT_EQ(first.run_id, "test-run");
  EXPECT_GE(first.t_s, 5.0);  // on the caller's clock
  EXPECT_EQ(first.generation_tokens_total, 0.0);
  EXPECT_EQ(first.generation_tokens_per_s, std::nullopt);
  EXPECT_EQ(first.running_requests, 3.0);
  EXPECT_EQ(first.kv_cache_usage_frac, 0.25);
  ASSERT_TRUE(first.scrape_ms.has_value());
  for (std::size_t i = 1; i < sink.samples.size(); ++i) {
    const events::GpuSample& s = sink.samples[i];
    EXPECT_GT(s.t_s, sink.samples[i - 1].t_s);
    // Each scrape is one more request to /vllm: +10 tokens, +4 queries, +1 hit.
    EXPECT_EQ(s.generation_tokens_total, 10.0 * i);
    EXPECT_EQ(s.prefix_cache_queries_total, 4.0 * i);
    EXPECT_EQ(s.prefix_cache_hit_rate_frac, 0.25);
    ASSERT_TRUE(s.generation_tokens_per_s.has_value());
    EXPECT_NEAR(*s.generation_tokens_per_s, 10.0 / (s.t_s - sink.samples[i - 1].t_s), 1e-6);
  }
  EXPECT_EQ(loop.stats().failed, 0);
  EXPECT_EQ(loop.stats().scrapes, static_cast<int64_t>(sink.samples.size()));
  EXPECT_NE(sink.logs.back().find("stopped after"), std::string::npos);
}

TEST_F(ScrapeLoopTest, FailuresAreAGapThenTheServerIsBack) {
  Collector sink;
  sink.stop_after_samples = 3;
  sink.stop_when_back = true;
  g_flaky_requests = 0;
  ScrapeOptions o = Options("/flaky", 30);
  o.interval_ms = 40;
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  ASSERT_EQ(sink.errors.size(), 1u);  // one error for the streak, not one per scrape
  EXPECT_NE(sink.errors[0].find("HTTP 503"), std::string::npos) << sink.errors[0];
  EXPECT_NE(sink.AllLogs().find("server is back"), std::string::npos) << sink.AllLogs();
  EXPECT_NE(sink.AllLogs().find("(3 failed scrapes)"), std::string::npos) << sink.AllLogs();
  EXPECT_EQ(loop.stats().failed, 3);
  EXPECT_EQ(static_cast<int64_t>(sink.samples.size()), loop.stats().scrapes - 3);
  ASSERT_GE(sink.samples.size(), 3u);
  EXPECT_GT(sink.samples[2].t_s - sink.samples[1].t_s, 2.9 * 0.040);  // the gap: 3 failed slots
}

TEST_F(ScrapeLoopTest, RefusedConnectionKeepsGoing) {
  Collector sink;
  ScrapeOptions o = Options("/", 0.3);
  o.url = "http://127.0.0.1:1/metrics";
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  EXPECT_TRUE(sink.samples.empty());
  ASSERT_EQ(sink.errors.size(), 1u);
  EXPECT_NE(sink.errors[0].find("scrape failed"), std::string::npos);
  EXPECT_NE(sink.errors[0].find("127.0.0.1:1/metrics"), std::string::npos);
  EXPECT_GE(loop.stats().failed, 2);
  EXPECT_NE(sink.logs.back().find("still unreachable"), std::string::npos) << sink.AllLogs();
}

TEST_F(ScrapeLoopTest, NotPrometheusIsAnErrorWithALineNumber) {
  Collector sink;
  ScrapeLoop loop(Options("/garbage", 0.2), sink);
  ASSERT_EQ(loop.Run(), 0);
  ASSERT_EQ(sink.errors.size(), 1u);
  EXPECT_NE(sink.errors[0].find("not a Prometheus page: " + base_ + "/garbage:1: "), std::string::npos)
      << sink.errors[0];
  EXPECT_TRUE(sink.samples.empty());
  // The server answered: the final line must not call it unreachable.
  EXPECT_EQ(sink.logs.back().find("unreachable"), std::string::npos) << sink.AllLogs();
  EXPECT_NE(sink.logs.back().find("the server answered, but not with metrics: not a Prometheus page"),
            std::string::npos) << sink.AllLogs();
}

TEST_F(ScrapeLoopTest, Http404HintsAtSglangMetricsFlag) {
  Collector sink;
  ScrapeOptions o = Options("/missing", 0.1);
  o.framework = Framework::kSglang;
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  ASSERT_FALSE(sink.errors.empty());
  EXPECT_NE(sink.errors[0].find("HTTP 404"), std::string::npos);
  EXPECT_NE(sink.errors[0].find("--enable-metrics"), std::string::npos);
}

TEST_F(ScrapeLoopTest, Http404FromVllmGetsNoSglangHint) {
  Collector sink;
  ScrapeOptions o = Options("/missing", 0.1);
  o.framework = Framework::kVllm;
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  ASSERT_FALSE(sink.errors.empty());
  EXPECT_NE(sink.errors[0].find("HTTP 404"), std::string::npos);
  EXPECT_EQ(sink.errors[0].find("SGLang"), std::string::npos) << sink.errors[0];
  EXPECT_NE(sink.errors[0].find("check the URL"), std::string::npos) << sink.errors[0];
}

TEST_F(ScrapeLoopTest, AutoDetectsSglang) {
  Collector sink;
  ScrapeOptions o = Options("/sglang", 0.2);
  o.framework = Framework::kAuto;
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  EXPECT_NE(sink.AllLogs().find("framework detected: sglang"), std::string::npos);
  ASSERT_FALSE(sink.samples.empty());
  EXPECT_EQ(sink.samples[0].running_requests, 162.0);
  EXPECT_EQ(sink.samples[0].waiting_requests, 2826.0);
  EXPECT_EQ(sink.samples[0].kv_cache_usage_frac, 0.28);
  EXPECT_EQ(sink.samples[0].prefix_cache_hit_rate_frac, 0.007507552643049313);
}

TEST_F(ScrapeLoopTest, AutoWithoutKnownMetricsFailsAndWrongFrameworkWarns) {
  Collector sink;
  ScrapeOptions o = Options("/nothing-known", 0.1);
  o.framework = Framework::kAuto;
  ScrapeLoop(o, sink).Run();
  ASSERT_FALSE(sink.errors.empty());
  EXPECT_NE(sink.errors[0].find("cannot tell the framework"), std::string::npos);

  Collector wrong;
  ScrapeOptions w = Options("/sglang", 0.1);
  ScrapeLoop(w, wrong).Run();  // --framework vllm against SGLang
  EXPECT_NE(wrong.AllLogs().find("none of the vllm metrics"), std::string::npos) << wrong.AllLogs();
  ASSERT_FALSE(wrong.samples.empty());
  EXPECT_EQ(wrong.samples[0].running_requests, std::nullopt);
}

TEST_F(ScrapeLoopTest, TimeoutIsAFailure) {
  Collector sink;
  ScrapeOptions o = Options("/slow", 0.05);
  o.timeout_ms = 100;
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  ASSERT_EQ(sink.errors.size(), 1u);
  EXPECT_NE(sink.errors[0].find("timed out"), std::string::npos) << "[" << sink.errors[0] << "]";
}

TEST_F(ScrapeLoopTest, OverrunSlotsAreSkippedNotBurst) {
  Collector sink;
  ScrapeOptions o = Options("/slow", 1.5);  // each scrape takes 600 ms; the period is 50 ms
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  EXPECT_GE(loop.stats().skipped_slots, 10);
  EXPECT_LE(loop.stats().scrapes, 3);
  EXPECT_NE(sink.AllLogs().find("took longer than --interval-ms 50"), std::string::npos) << sink.AllLogs();
  for (std::size_t i = 1; i < sink.samples.size(); ++i) {
    EXPECT_GE(sink.samples[i].t_s - sink.samples[i - 1].t_s, 0.6);  // never back to back bursts
  }
}

TEST_F(ScrapeLoopTest, StopRequestEndsTheLoop) {
  Collector sink;
  ScrapeOptions o = Options("/vllm", 0);  // no duration: until stopped
  std::thread stopper([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    StopSignal::Request();
  });
  ScrapeLoop loop(o, sink);
  EXPECT_EQ(loop.Run(), 0);
  stopper.join();
  EXPECT_FALSE(sink.samples.empty());
}

TEST_F(ScrapeLoopTest, PushIntervalDownsamples) {
  Collector sink;
  ScrapeOptions o = Options("/vllm", 0.7);
  o.interval_ms = 20;
  o.push_interval_ms = 300;
  ScrapeLoop loop(o, sink);
  ASSERT_EQ(loop.Run(), 0);
  EXPECT_GE(sink.samples.size(), 1u);
  EXPECT_LE(sink.samples.size(), 3u);
  EXPECT_GT(loop.stats().scrapes, static_cast<int64_t>(sink.samples.size()));
  for (std::size_t i = 1; i < sink.samples.size(); ++i) {
    EXPECT_GE(sink.samples[i].t_s - sink.samples[i - 1].t_s, 0.29);
  }
}

TEST_F(ScrapeLoopTest, ClosedOutputExitsOne) {
  Collector sink;
  sink.accept = false;
  ScrapeLoop loop(Options("/vllm", 5), sink);
  EXPECT_EQ(loop.Run(), 1);
  EXPECT_EQ(sink.samples.size(), 1u);
}

TEST_F(ScrapeLoopTest, SessionCapsTheBody) {
  http::Session session;
  session.set_max_body_bytes(100000);
  http::Response r = session.Get(base_ + "/big", 2000);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("larger than 100000 bytes"), std::string::npos) << r.error;
  http::Response again = session.Get(base_ + "/sglang", 2000, {}, std::move(r));  // reuse
  EXPECT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.body, Fixture("sglang-docs-llama-3.1-8b.txt"));
}

TEST(LiveTable, RowsAndNulls) {
  events::GpuSample s;
  s.t_s = 12.34;
  s.kv_cache_usage_frac = 0.28;
  s.running_requests = 162;
  s.waiting_requests = 2826;
  s.generation_tokens_per_s = 86.5;
  s.scrape_ms = 1.25;
  std::string row = LiveTable::Row(s);
  EXPECT_EQ(row, "    12.3  28.0    162   2826      -     86.5         -        -        1.2\n");
  EXPECT_EQ(LiveTable::Header().size(), row.size());
}

}  // namespace
}  // namespace ib::scrape
