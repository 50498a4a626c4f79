// ib-scrape as a real process against the real ib-sim (vLLM V1, vLLM V0, SGLang personalities and
// a /metrics that disappears): the run totals it reports must equal what the requests the test
// sent actually consumed and produced (from each response's usage).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/events/events.h"
#include "lib/events/stream.h"
#include "lib/http/http.h"
#include "lib/proc/proc.h"
#include "tests/support/sim_process.h"

namespace {

using ib::events::GpuSample;

// ib-scrape running in the background; its stdout events are collected by a reader thread.
class ScrapeProcess {
 public:
  explicit ScrapeProcess(std::vector<std::string> args) {
    ib::proc::SpawnOptions o;
    o.argv = {ib::proc::FindTool("ib-scrape")};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    std::string error;
    auto child = ib::proc::Spawn(o, &error);
    EXPECT_TRUE(child) << error;
    if (!child) return;
    pid_ = child->pid;
    reader_ = std::thread([this, fd = child->stdout_fd] {
      ib::events::EventReader reader(fd, "ib-scrape");
      while (auto item = reader.Next()) {
        std::lock_guard<std::mutex> lock(mu_);
        EXPECT_TRUE(item->valid) << item->raw;
        events_.push_back(item->event);
        cv_.notify_all();
      }
      close(fd);
      std::lock_guard<std::mutex> lock(mu_);
      eof_ = true;
      cv_.notify_all();
    });
  }
  ~ScrapeProcess() { Stop(); }

  // Waits (at most timeout_s) until pred holds over the events so far.
  bool WaitFor(const std::function<bool(const std::vector<ib::events::Event>&)>& pred,
               double timeout_s = 15) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                        [&] { return pred(events_) || eof_; }) &&
           pred(events_);
  }
  bool WaitForSamples(std::size_t n) {
    return WaitFor([n](const auto& events) { return Samples(events).size() >= n; });
  }

  // SIGTERM, then reads to EOF; returns the exit status.
  ib::proc::ExitStatus Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      status_ = ib::proc::Wait(pid_);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    return status_;
  }

  std::vector<ib::events::Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  static std::vector<GpuSample> Samples(const std::vector<ib::events::Event>& events) {
    std::vector<GpuSample> out;
    for (const auto& e : events) {
      if (auto* s = std::get_if<GpuSample>(&e)) out.push_back(*s);
    }
    return out;
  }
  static std::string Messages(const std::vector<ib::events::Event>& events) {
    std::string out;
    for (const auto& e : events) {
      if (auto* l = std::get_if<ib::events::Log>(&e)) out += "log " + l->message + "\n";
      if (auto* r = std::get_if<ib::events::Error>(&e)) out += "error " + r->message + "\n";
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  ib::proc::ExitStatus status_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ib::events::Event> events_;
  bool eof_ = false;
};

struct Usage {
  double prompt = 0, completion = 0;
};

// Sends n non-streamed chat requests with the same long prompt (so the prefix cache hits).
Usage SendRequests(const std::string& base_url, int n) {
  Usage usage;
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "the same long prompt for the prefix cache ";
  for (int i = 0; i < n; ++i) {
    ib::http::Request r;
    r.method = "POST";
    r.url = base_url + "/v1/chat/completions";
    r.headers = {{"Content-Type", "application/json"}};
    r.body = nlohmann::json{{"messages", {{{"role", "user"}, {"content", prompt}}}},
                            {"max_tokens", 6}}
                 .dump();
    r.timeout_ms = 10000;
    ib::http::Response resp = ib::http::Send(r);
    EXPECT_TRUE(resp.ok()) << resp.status << " " << resp.error << " " << resp.body;
    if (!resp.ok()) continue;
    nlohmann::json j = nlohmann::json::parse(resp.body);
    usage.prompt += j["usage"]["prompt_tokens"].get<double>();
    usage.completion += j["usage"]["completion_tokens"].get<double>();
  }
  return usage;
}

std::vector<std::string> ScrapeArgs(const ib::testing::SimProcess& sim, const std::string& fw) {
  return {"--url", sim.base_url() + "/metrics", "--framework", fw, "--interval-ms", "40",
          "--run-id", "sim-run"};
}

TEST(IbScrapeWithSim, VllmV1RunTotalsMatchTheRequests) {
  ib::testing::SimProcess sim({"--preset", "tiny-fast"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  ScrapeProcess scrape(ScrapeArgs(sim, "auto"));
  ASSERT_TRUE(scrape.WaitForSamples(1));  // the run's baseline is taken before any request
  Usage usage = SendRequests(sim.base_url(), 4);
  // Wait until a sample shows every generated token, then stop.
  ASSERT_TRUE(scrape.WaitFor([&](const auto& events) {
    auto s = ScrapeProcess::Samples(events);
    return !s.empty() && s.back().generation_tokens_total == usage.completion;
  })) << ScrapeProcess::Messages(scrape.events());
  ib::proc::ExitStatus status = scrape.Stop();
  EXPECT_TRUE(status.exited && status.code == 0) << status.Describe();
  auto events = scrape.events();
  auto samples = ScrapeProcess::Samples(events);
  const GpuSample& last = samples.back();
  EXPECT_EQ(last.run_id, "sim-run");
  EXPECT_EQ(last.prompt_tokens_total, usage.prompt);
  EXPECT_EQ(last.generation_tokens_total, usage.completion);
  EXPECT_EQ(last.preemptions_total, 0.0);
  ASSERT_TRUE(last.prefix_cache_queries_total.has_value());
  EXPECT_EQ(*last.prefix_cache_queries_total, usage.prompt);  // vLLM counts queried prompt tokens
  ASSERT_TRUE(last.prefix_cache_hit_rate_frac.has_value());
  EXPECT_GT(*last.prefix_cache_hit_rate_frac, 0.5);  // requests 2..4 reuse request 1's blocks
  EXPECT_LE(*last.prefix_cache_hit_rate_frac, 1.0);
  EXPECT_EQ(*last.prefix_cache_hit_rate_frac,
            *last.prefix_cache_hits_total / *last.prefix_cache_queries_total);
  EXPECT_EQ(samples.front().generation_tokens_total, 0.0);
  EXPECT_EQ(samples.front().kv_cache_usage_frac, 0.0);
  EXPECT_EQ(samples.front().running_requests, 0.0);
  double generated = 0;
  for (std::size_t i = 1; i < samples.size(); ++i) {
    ASSERT_TRUE(samples[i].generation_tokens_per_s.has_value());
    generated += *samples[i].generation_tokens_per_s * (samples[i].t_s - samples[i - 1].t_s);
  }
  EXPECT_NEAR(generated, usage.completion, 1e-6);  // the rates integrate to the total
  std::string messages = ScrapeProcess::Messages(events);
  EXPECT_NE(messages.find("framework detected: vllm"), std::string::npos) << messages;
  EXPECT_NE(messages.find("stopped after"), std::string::npos) << messages;
  EXPECT_EQ(messages.find("error "), std::string::npos) << messages;
}

TEST(IbScrapeWithSim, VllmV0Names) {
  ib::testing::SimProcess sim({"--preset", "tiny-fast", "--vllm-v0"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  ScrapeProcess scrape(ScrapeArgs(sim, "vllm"));
  ASSERT_TRUE(scrape.WaitForSamples(1));
  Usage usage = SendRequests(sim.base_url(), 3);
  ASSERT_TRUE(scrape.WaitFor([&](const auto& events) {
    auto s = ScrapeProcess::Samples(events);
    return !s.empty() && s.back().generation_tokens_total == usage.completion;
  })) << ScrapeProcess::Messages(scrape.events());
  scrape.Stop();
  auto samples = ScrapeProcess::Samples(scrape.events());
  const GpuSample& last = samples.back();
  EXPECT_EQ(last.kv_cache_usage_frac.has_value(), true);  // from vllm:gpu_cache_usage_perc
  EXPECT_EQ(last.prompt_tokens_total, usage.prompt);
  ASSERT_TRUE(last.prefix_cache_hit_rate_frac.has_value());  // the V0 gauge
  EXPECT_GE(*last.prefix_cache_hit_rate_frac, 0.0);
  EXPECT_LE(*last.prefix_cache_hit_rate_frac, 1.0);
  EXPECT_EQ(last.prefix_cache_queries_total, std::nullopt);
}

TEST(IbScrapeWithSim, SglangIsDetected) {
  ib::testing::SimProcess sim({"--preset", "tiny-fast", "--framework", "sglang"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  ScrapeProcess scrape(ScrapeArgs(sim, "auto"));
  ASSERT_TRUE(scrape.WaitForSamples(1));
  Usage usage = SendRequests(sim.base_url(), 3);
  ASSERT_TRUE(scrape.WaitFor([&](const auto& events) {
    auto s = ScrapeProcess::Samples(events);
    return !s.empty() && s.back().generation_tokens_total == usage.completion;
  })) << ScrapeProcess::Messages(scrape.events());
  scrape.Stop();
  auto events = scrape.events();
  auto samples = ScrapeProcess::Samples(events);
  const GpuSample& last = samples.back();
  EXPECT_NE(ScrapeProcess::Messages(events).find("framework detected: sglang"), std::string::npos);
  EXPECT_EQ(last.prompt_tokens_total, usage.prompt);
  EXPECT_TRUE(last.kv_cache_usage_frac.has_value());
  EXPECT_TRUE(last.running_requests.has_value());
  EXPECT_TRUE(last.waiting_requests.has_value());
  EXPECT_TRUE(last.prefix_cache_hit_rate_frac.has_value());  // sglang:cache_hit_rate
  EXPECT_EQ(last.preemptions_total, std::nullopt);
}

TEST(IbScrapeWithSim, MetricsThatDisappearAreAGapNotAnExit) {
  ib::testing::SimProcess sim({"--preset", "tiny-fast", "--fault-metrics-gone-after-s", "1"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  ScrapeProcess scrape(ScrapeArgs(sim, "vllm"));
  ASSERT_TRUE(scrape.WaitFor([](const auto& events) {
    for (const auto& e : events) {
      if (std::holds_alternative<ib::events::Error>(e)) return true;
    }
    return false;
  })) << ScrapeProcess::Messages(scrape.events());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // it keeps trying meanwhile
  ib::proc::ExitStatus status = scrape.Stop();
  EXPECT_TRUE(status.exited && status.code == 0) << status.Describe();
  auto events = scrape.events();
  std::string messages = ScrapeProcess::Messages(events);
  EXPECT_NE(messages.find("error scrape failed: HTTP 404"), std::string::npos) << messages;
  // It answered 404: not "unreachable", and no SGLang-only hint for a vLLM server.
  EXPECT_NE(messages.find("the server answered, but not with metrics: HTTP 404"), std::string::npos) << messages;
  EXPECT_EQ(messages.find("unreachable"), std::string::npos) << messages;
  EXPECT_EQ(messages.find("SGLang"), std::string::npos) << messages;
  // Samples (if the first scrape beat the fault on a slow machine) all come before the gap.
  int errors = 0;
  for (const auto& e : events) {
    errors += std::holds_alternative<ib::events::Error>(e);
    if (std::holds_alternative<GpuSample>(e)) EXPECT_EQ(errors, 0);
  }
  EXPECT_EQ(errors, 1);
}

}  // namespace
