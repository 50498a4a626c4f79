// The server's view beside the client's, end to end: ib-run drives the real ib-sim (fixed TTFT
// and token interval), ib-scrape keeps the run's delta of ib-sim's latency histograms and
// ib-aggregate writes summary.server_latency and summary.server_vs_client. On loopback the
// client's p50s lie inside the server's buckets; through a relay on 127.0.0.1 that holds every
// byte from the server for a fixed delay (the network a user suspects), the client's TTFT and
// E2E p50s exceed the server's by that delay, and the results file says so.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/run/run_harness.h"
#include "tests/support/sim_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A TCP relay on 127.0.0.1: client -> server bytes pass at once; server -> client bytes are
// each released `delay` after they arrived (a constant one-way latency, order kept).
class DelayRelay {
 public:
  DelayRelay(int target_port, std::chrono::milliseconds delay) : target_(target_port), delay_(delay) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0)
      return;
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] { AcceptLoop(); });
  }
  ~DelayRelay() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    if (accept_.joinable()) accept_.join();
    ::close(listen_fd_);
    std::vector<std::shared_ptr<Conn>> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      conns = conns_;
    }
    for (auto& c : conns) c->Close();
    for (auto& c : conns) c->Join();
  }
  int port() const { return port_; }

 private:
  struct Conn {
    int client = -1, server = -1;
    std::chrono::milliseconds delay{0};
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<Clock::time_point, std::string>> pending;  // empty string: EOF
    std::thread up, down, release;
    void Close() {
      ::shutdown(client, SHUT_RDWR);
      ::shutdown(server, SHUT_RDWR);
      {
        std::lock_guard<std::mutex> lock(mu);
        pending.emplace_back(Clock::now(), std::string());
      }
      cv.notify_all();
    }
    void Join() {
      for (std::thread* t : {&up, &down, &release}) {
        if (t->joinable()) t->join();
      }
      ::close(client);
      ::close(server);
    }
  };

  static bool WriteAll(int fd, const char* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  void AcceptLoop() {
    for (;;) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      auto c = std::make_shared<Conn>();
      c->client = fd;
      c->delay = delay_;
      c->server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(target_));
      if (::connect(c->server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(c->server);
        ::close(fd);
        continue;
      }
      Conn* raw = c.get();
      c->up = std::thread([raw] {
        char buf[65536];
        ssize_t n;
        while ((n = ::recv(raw->client, buf, sizeof buf, 0)) > 0) {
          if (!WriteAll(raw->server, buf, static_cast<std::size_t>(n))) break;
        }
        ::shutdown(raw->server, SHUT_WR);
      });
      c->down = std::thread([raw] {
        char buf[65536];
        ssize_t n;
        while ((n = ::recv(raw->server, buf, sizeof buf, 0)) > 0) {
          std::lock_guard<std::mutex> lock(raw->mu);
          raw->pending.emplace_back(Clock::now() + raw->delay, std::string(buf, static_cast<std::size_t>(n)));
          raw->cv.notify_all();
        }
        std::lock_guard<std::mutex> lock(raw->mu);
        raw->pending.emplace_back(Clock::now() + raw->delay, std::string());
        raw->cv.notify_all();
      });
      c->release = std::thread([raw] {
        for (;;) {
          std::unique_lock<std::mutex> lock(raw->mu);
          raw->cv.wait(lock, [raw] { return !raw->pending.empty(); });
          auto [due, data] = std::move(raw->pending.front());
          raw->pending.pop_front();
          lock.unlock();
          std::this_thread::sleep_until(due);
          if (data.empty() || !WriteAll(raw->client, data.data(), data.size())) break;
        }
        ::shutdown(raw->client, SHUT_WR);
      });
      std::lock_guard<std::mutex> lock(mu_);
      conns_.push_back(std::move(c));
    }
  }

  int target_;
  std::chrono::milliseconds delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Conn>> conns_;
};

class ServerViewRunTest : public testing::Test {
 protected:
  // ib-sim: every request's TTFT is 50 ms and its tokens 10 ms apart (16 tokens: E2E 200 ms),
  // so the server's TTFT lies in vLLM's (40, 60] ms bucket and its E2E in (0, 300] ms.
  ib::testing::SimProcess sim_{{"--deterministic", "--ttft-ms", "50", "--itl-ms", "10", "--model", "m"}};

  json Run(const std::string& url) {
    std::string dir = ib::run_test::MakeWorkDir("serverview");
    std::ofstream(dir + "/c.yaml") << "name: \"sv\"\nmodel:\n  name: \"m\"\nframework: \"vllm\"\n"
                                   << "workload:\n  type: \"concurrent\"\n  concurrency: 4\n"
                                   << "  requests:\n    source: \"" << fs::absolute("prompts/baseline.jsonl").string()
                                   << "\"\n    count: 12\n  parameters:\n    max_tokens: 16\n"
                                   << "metrics:\n  sample_interval_ms: 50\n";
    ib::run_test::RunResult r = ib::run_test::RunIbRun(
        dir, {.args = {dir + "/c.yaml", "--server-url", url, "--output-dir", dir + "/results"}});
    EXPECT_EQ(r.code, 0) << r.err;
    for (const auto& e : fs::directory_iterator(dir + "/results")) {
      if (e.path().extension() != ".json" || e.path().string().ends_with(".study.json")) continue;
      std::ifstream in(e.path());
      return json::parse(in);
    }
    ADD_FAILURE() << "no results file in " << dir << "/results; stderr:\n" << r.err;
    return json::object();
  }

  static const json* Comparison(const json& s, const std::string& metric, const std::string& p) {
    for (const json& c : s["server_vs_client"]) {
      if (c["metric"] == metric && c["percentile"] == p) return &c;
    }
    return nullptr;
  }
};

TEST_F(ServerViewRunTest, OnLoopbackTheClientsP50sLieInTheServersBuckets) {
  ASSERT_TRUE(sim_.ok()) << sim_.error();
  json results = Run(sim_.base_url());
  const json& s = results["summary"];
  ASSERT_TRUE(s.contains("server_latency")) << s.dump(2);
  const json& ttft = s["server_latency"]["ttft_ms"];
  EXPECT_EQ(ttft["metric"], "vllm:time_to_first_token_seconds");
  EXPECT_EQ(ttft["count"], 12.0);  // every request of the run, none from before it
  EXPECT_EQ(ttft["p50_bucket_ms"], json::array({40.0, 60.0}));
  EXPECT_EQ(s["server_latency"]["e2e_ms"]["count"], 12.0);
  for (const char* metric : {"ttft_ms", "e2e_ms"}) {
    const json* c = Comparison(s, metric, "p50");
    ASSERT_NE(c, nullptr) << metric << ": " << s["server_vs_client"].dump(2);
    EXPECT_FALSE((*c)["exceeds"].get<bool>()) << c->dump(2);
    const double client = (*c)["client_ms"];
    EXPECT_GE(client, (*c)["server_bucket_ms"][0].get<double>() - (*c)["margin_ms"].get<double>());
    EXPECT_LE(client, (*c)["server_bucket_ms"][1].get<double>() + (*c)["margin_ms"].get<double>());
    EXPECT_NE((*c)["message"].get<std::string>().find("agree"), std::string::npos) << c->dump(2);
  }
}

TEST_F(ServerViewRunTest, ADelayBetweenServerAndClientIsTheStatedGap) {
  ASSERT_TRUE(sim_.ok()) << sim_.error();
  constexpr double kDelayMs = 250;
  DelayRelay relay(sim_.port(), std::chrono::milliseconds(static_cast<int>(kDelayMs)));
  ASSERT_GT(relay.port(), 0);
  json results = Run("http://127.0.0.1:" + std::to_string(relay.port()));
  const json& s = results["summary"];
  ASSERT_TRUE(s.contains("server_vs_client")) << s.dump(2);
  // The server did not see the delay: its TTFT stays in (40, 60] ms.
  EXPECT_EQ(s["server_latency"]["ttft_ms"]["p50_bucket_ms"], json::array({40.0, 60.0}));
  for (const char* metric : {"ttft_ms", "e2e_ms"}) {
    const json* c = Comparison(s, metric, "p50");
    ASSERT_NE(c, nullptr) << metric;
    EXPECT_TRUE((*c)["exceeds"].get<bool>()) << c->dump(2);
    // The gap is the delay, give or take where the server's quantile sits in its bucket.
    const double width = (*c)["server_bucket_ms"][1].get<double>() - (*c)["server_bucket_ms"][0].get<double>();
    const double gap = (*c)["gap_ms"];
    EXPECT_GE(gap, kDelayMs - width) << c->dump(2);
    EXPECT_LE(gap, kDelayMs + width + (*c)["margin_ms"].get<double>()) << c->dump(2);
    EXPECT_EQ((*c)["message"].get<std::string>().rfind("client sees +", 0), 0u) << c->dump(2);
    EXPECT_NE((*c)["message"].get<std::string>().find("over the server: network, proxy or client"),
              std::string::npos);
  }
}

}  // namespace
