// The /metrics page of the simulated server: Prometheus text format 0.0.4 with the real metric
// names, HELP texts, labels and bucket bounds of vLLM V1 (default), vLLM V0 (--vllm-v0) or SGLang
// (see /work/shared/fixtures/prometheus/). Values come from the engine (running, waiting, KV
// usage, token and prefix-cache counters) and from what the server observed per request
// (TTFT, inter-token latency, end-to-end latency, queue time), in real seconds.
//
//   ib::sim::Observations observations(options);
//   observations.Record(request, now_ns);              // once per finished request
//   std::string page = ib::sim::RenderMetrics(options, engine_stats, observations, now_ns);
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "lib/sim/engine.h"
#include "lib/sim/options.h"

namespace ib::sim {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<int64_t>& counts() const { return counts_; }  // per bucket, not cumulative
  double sum() const { return sum_; }
  int64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // bounds_.size() + 1 (the last is +Inf)
  double sum_ = 0;
  int64_t count_ = 0;
};

// Per-request observations, recorded when a request ends. Thread-safe.
class Observations {
 public:
  explicit Observations(const Options& o);
  struct Request {
    double queue_s = 0, ttft_s = 0, e2e_s = 0;
    std::vector<double> itl_s;
    int64_t prompt_tokens = 0, generation_tokens = 0;
    std::string finished_reason;  // stop | length | abort
  };
  void Record(const Request& r, int64_t now_ns);
  // Tokens per second generated over the last few seconds (SGLang's gen_throughput).
  double GenThroughput(int64_t now_ns);

  friend std::string RenderMetrics(const Options& o, const EngineStats& s, Observations& obs,
                                   int64_t now_ns);

 private:
  std::mutex mu_;
  Histogram ttft_, itl_, e2e_, queue_, prompt_, gen_;
  int64_t success_stop_ = 0, success_length_ = 0, success_abort_ = 0;
  int64_t last_gen_tokens_ = 0, last_gen_ns_ = 0;
  double gen_throughput_ = 0;
};

std::string RenderMetrics(const Options& o, const EngineStats& s, Observations& obs,
                          int64_t now_ns);

// Python's float repr, which is how both frameworks print sample values: 0.0, 2.5, 1e-05.
std::string FormatFloat(double v);

}  // namespace ib::sim
