// ib-scrape as a real process: flags, NDJSON on stdout, the live table, SIGTERM, and a /metrics
// that disappears and comes back. The server is Civetweb on 127.0.0.1:0 serving the real vLLM V1
// capture with counters that grow per request.
#include <civetweb.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/proc/proc.h"

namespace {

std::atomic<int> g_requests{0};
std::atomic<bool> g_down{false};

std::string Fixture(const std::string& name) {
  std::ifstream in("lib/prom/testdata/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Handler(mg_connection* conn, void*) {
  if (g_down.load()) {
    mg_send_http_error(conn, 503, "%s", "down");
    return 503;
  }
  int n = g_requests.fetch_add(1);
  // The idle V1 page, with the generation counter bumped by 7 per request.
  static const std::string page = Fixture("vllm-v1-idle-qwen1.5-0.5b-chat.txt");
  std::string body = page;
  const std::string needle =
      "vllm:generation_tokens_total{engine=\"0\",model_name=\"Qwen/Qwen1.5-0.5B-Chat\"} 0.0";
  std::size_t at = body.find(needle);
  if (at != std::string::npos) {
    body.replace(at, needle.size(), needle.substr(0, needle.size() - 3) + std::to_string(7 * n));
  }
  mg_send_http_ok(conn, "text/plain; version=0.0.4", body.size());
  mg_write(conn, body.data(), body.size());
  return 200;
}

class IbScrapeE2e : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "2", nullptr};
    ctx_ = mg_start(nullptr, nullptr, options);
    ASSERT_NE(ctx_, nullptr);
    mg_set_request_handler(ctx_, "/metrics", Handler, nullptr);
    mg_server_port ports[1];
    ASSERT_EQ(mg_get_server_ports(ctx_, 1, ports), 1);
    url_ = "http://127.0.0.1:" + std::to_string(ports[0].port) + "/metrics";
  }
  static void TearDownTestSuite() { mg_stop(ctx_); }

  struct Run {
    std::vector<std::string> lines;
    std::string stderr_text;
    ib::proc::ExitStatus status;
  };

  // Starts ib-scrape with args; calls on_line for each stdout line (return true to SIGTERM it);
  // kills it if it is still running after deadline_s.
  static Run Start(std::vector<std::string> args,
                   const std::function<bool(const std::string&)>& on_line = nullptr,
                   double deadline_s = 20) {
    Run run;
    std::string tool = ib::proc::FindTool("ib-scrape");
    EXPECT_FALSE(tool.empty());
    char err_path[] = "/tmp/ib-scrape-e2e-XXXXXX";
    int err_fd = mkstemp(err_path);
    ib::proc::SpawnOptions o;
    o.argv = {tool};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.stderr_fd = err_fd;
    std::string error;
    auto child = ib::proc::Spawn(o, &error);
    EXPECT_TRUE(child) << error;
    if (!child) return run;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(deadline_s);
    std::string buffer;
    bool signalled = false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ADD_FAILURE() << "ib-scrape still running at the deadline";
        kill(child->pid, SIGKILL);
        break;
      }
      pollfd pfd = {child->stdout_fd, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = read(child->stdout_fd, buf, sizeof buf);
      if (n <= 0) break;
      buffer.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        run.lines.push_back(buffer.substr(0, nl));
        buffer.erase(0, nl + 1);
        if (on_line && !signalled && on_line(run.lines.back())) {
          signalled = true;
          kill(child->pid, SIGTERM);
        }
      }
    }
    close(child->stdout_fd);
    run.status = ib::proc::Wait(child->pid);
    std::ifstream in(err_path);
    std::stringstream ss;
    ss << in.rdbuf();
    run.stderr_text = ss.str();
    close(err_fd);
    unlink(err_path);
    return run;
  }

  static std::vector<ib::events::Event> Parse(const std::vector<std::string>& lines) {
    std::vector<ib::events::Event> out;
    for (const std::string& line : lines) {
      ib::events::ParseResult r = ib::events::ParseEvent(line);
      EXPECT_TRUE(r.event.has_value()) << line << ": " << r.error;
      if (r.event) out.push_back(*r.event);
    }
    return out;
  }

  static mg_context* ctx_;
  static std::string url_;
};
mg_context* IbScrapeE2e::ctx_ = nullptr;
std::string IbScrapeE2e::url_;

TEST_F(IbScrapeE2e, EmitsNdjsonGpuSamples) {
  g_down = false;
  int samples_seen = 0;
  Run run = Start({"--url", url_, "--framework", "auto", "--interval-ms", "50", "--run-id", "e2e-1",
                   "--t0-ns", "1"},
                  [&](const std::string& line) {
                    samples_seen += line.find("\"gpu_sample\"") != std::string::npos;
                    return samples_seen == 4;  // then SIGTERM
                  });
  ASSERT_TRUE(run.status.exited) << run.status.Describe();
  EXPECT_EQ(run.status.code, 0) << run.stderr_text;
  std::vector<ib::events::Event> events = Parse(run.lines);
  std::vector<ib::events::GpuSample> samples;
  std::string logs;
  for (const auto& e : events) {
    EXPECT_EQ(ib::events::RunId(e), "e2e-1");
    if (auto* s = std::get_if<ib::events::GpuSample>(&e)) samples.push_back(*s);
    if (auto* l = std::get_if<ib::events::Log>(&e)) logs += l->message + "\n";
  }
  EXPECT_NE(logs.find("framework detected: vllm"), std::string::npos) << logs;
  EXPECT_NE(logs.find("stopped after"), std::string::npos) << logs;
  ASSERT_GE(samples.size(), 3u);
  EXPECT_GT(samples[0].t_s, 1000.0);  // --t0-ns 1: seconds since boot-ish, not since start
  EXPECT_EQ(samples[0].kv_cache_usage_frac, 0.0);
  EXPECT_EQ(samples[0].generation_tokens_total, 0.0);
  for (std::size_t i = 1; i < samples.size(); ++i) {
    EXPECT_EQ(samples[i].generation_tokens_total, 7.0 * i);
    EXPECT_EQ(samples[i].prefix_cache_hit_rate_frac, std::nullopt);  // idle: no queries
    EXPECT_TRUE(samples[i].generation_tokens_per_s.has_value());
  }
  // Nulls are written as null, never NaN.
  for (const std::string& line : run.lines) EXPECT_EQ(line.find("NaN"), std::string::npos);
}

TEST_F(IbScrapeE2e, SigtermFinishesAndExitsZero) {
  g_down = false;
  int samples_seen = 0;
  Run run = Start({"--url", url_, "--framework", "vllm", "--interval-ms", "30"},
                  [&](const std::string& line) {
                    if (line.find("\"gpu_sample\"") != std::string::npos) ++samples_seen;
                    return samples_seen == 2;
                  });
  ASSERT_TRUE(run.status.exited) << run.status.Describe();
  EXPECT_EQ(run.status.code, 0);
  ASSERT_FALSE(run.lines.empty());
  EXPECT_NE(run.lines.back().find("stopped after"), std::string::npos) << run.lines.back();
}

TEST_F(IbScrapeE2e, MetricsDisappearAndComeBack) {
  g_down = false;
  int samples_seen = 0;
  bool went_down = false, came_back = false;
  Run run = Start({"--url", url_, "--framework", "vllm", "--interval-ms", "30"},
                  [&](const std::string& line) {
                    if (line.find("\"gpu_sample\"") != std::string::npos) ++samples_seen;
                    if (samples_seen == 2 && !went_down) {
                      went_down = true;
                      g_down = true;
                    }
                    if (line.find("\"type\":\"error\"") != std::string::npos) g_down = false;
                    if (line.find("server is back") != std::string::npos) came_back = true;
                    return came_back && samples_seen >= 4;
                  });
  g_down = false;
  EXPECT_EQ(run.status.code, 0);
  EXPECT_TRUE(came_back);
  int errors = 0;
  for (const auto& e : Parse(run.lines)) {
    if (auto* err = std::get_if<ib::events::Error>(&e)) {
      ++errors;
      EXPECT_NE(err->message.find("HTTP 503"), std::string::npos) << err->message;
    }
  }
  EXPECT_EQ(errors, 1);
}

TEST_F(IbScrapeE2e, LiveTable) {
  g_down = false;
  Run run = Start({"--url", url_, "--interval-ms", "200", "--duration-s", "0.5", "--table"});
  EXPECT_EQ(run.status.code, 0);
  ASSERT_GE(run.lines.size(), 2u);
  EXPECT_NE(run.lines[0].find("! info: framework detected: vllm"), std::string::npos) << run.lines[0];
  EXPECT_NE(run.lines[1].find("kv%"), std::string::npos) << run.lines[1];
  EXPECT_NE(run.lines[2].find("0.0"), std::string::npos) << run.lines[2];
}

TEST_F(IbScrapeE2e, BadUsageExitsTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--framework", "vllm"}, "--url"},
      {{"--url", url_, "--framework", "tgi"}, "--framework must be vllm, sglang or auto"},
      {{"--url", "127.0.0.1:8000/metrics"}, "must start with http://"},
      {{"--url", url_, "--interval-ms", "0"}, "--interval-ms must be at least 1"},
      {{"--url", url_, "--duration-s", "-1"}, "cannot be negative"},
      {{"--url", url_, "--table", "--ndjson"}, "exclude each other"},
  };
  for (const auto& [args, expected] : cases) {
    Run run = Start(args);
    EXPECT_EQ(run.status.code, 2) << expected;
    EXPECT_NE(run.stderr_text.find(expected), std::string::npos) << run.stderr_text;
    EXPECT_TRUE(run.lines.empty());
  }
}

}  // namespace
