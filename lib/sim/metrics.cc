#include "lib/sim/metrics.h"

#include <charconv>
#include <cmath>

namespace ib::sim {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::string FormatFloat(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  // Python switches to exponent form at 1e16 and below 1e-4; to_chars' shortest form agrees on
  // the digits, so only a missing ".0" on integral values needs fixing.
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

namespace {

const std::vector<double> kTtftV1 = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                                     0.75,  1.0,   2.5,  5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0,
                                     640.0, 2560.0};
const std::vector<double> kTtftV0 = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                     0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};
const std::vector<double> kTtftSglang = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,
                                         0.5,   0.75,  1.0,  2.5,  5.0,  7.5,  10.0, 15.0, 20.0,
                                         25.0,  30.0};
const std::vector<double> kItlV1 = {0.01, 0.025, 0.05, 0.075, 0.1,  0.15, 0.2,  0.3,  0.4, 0.5,
                                    0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kItlV0 = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                    0.3,  0.4,   0.5,  0.75,  1.0, 2.5};
const std::vector<double> kItlSglang = {0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04,
                                        0.05,  0.075, 0.1,  0.15, 0.2,   0.3,  0.4,
                                        0.5,   0.75,  1.0,  2.5};
const std::vector<double> kE2eV1 = {0.3,  0.5,  0.8,  1.0,   1.5,   2.0,   2.5,   5.0,
                                    10.0, 15.0, 20.0, 30.0,  40.0,  50.0,  60.0,  120.0,
                                    240.0, 480.0, 960.0, 1920.0, 7680.0};
const std::vector<double> kE2eV0 = {1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0};
const std::vector<double> kE2eSglang = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0,
                                        10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0};
const std::vector<double> kTokensV1 = {1.0,   2.0,    5.0,    10.0,   20.0,    50.0,   100.0,
                                       200.0, 500.0,  1000.0, 2000.0, 5000.0, 10000.0, 20000.0};
const std::vector<double> kTokensV0 = {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0,
                                       1000.0, 2000.0};

struct Page {
  std::string out;
  std::string labels;  // without braces: engine="0",model_name="..."

  void Family(const std::string& name, const std::string& help, const char* type) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, double v, const std::string& extra = "") {
    out += name + "{" + (extra.empty() ? labels : extra + "," + labels) + "} " + FormatFloat(v) +
           "\n";
  }
  void Gauge(const std::string& name, const std::string& help, double v) {
    Family(name, help, "gauge");
    Sample(name, v);
  }
  void Counter(const std::string& base, const std::string& help, double v) {
    Family(base + "_total", help, "counter");
    Sample(base + "_total", v);
  }
  // Labels sort alphabetically in both frameworks' output, so le goes where it falls.
  void Hist(const std::string& name, const std::string& help, const Histogram& h,
            bool le_first) {
    Family(name, help, "histogram");
    int64_t cum = 0;
    for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
      cum += h.counts()[i];
      std::string le = "le=\"" + (i < h.bounds().size() ? FormatFloat(h.bounds()[i]) : "+Inf") + "\"";
      std::string l = le_first ? le + "," + labels : InsertLe(le);
      out += name + "_bucket{" + l + "} " + FormatFloat(static_cast<double>(cum)) + "\n";
    }
    Sample(name + "_count", static_cast<double>(h.count()));
    Sample(name + "_sum", h.sum());
  }
  // vLLM V1's labels are engine, le, model_name: le goes after engine.
  std::string InsertLe(const std::string& le) const {
    auto comma = labels.find(',');
    if (comma == std::string::npos) return le + "," + labels;
    return labels.substr(0, comma) + "," + le + labels.substr(comma);
  }
};

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

double Usage(const EngineStats& s) {
  return s.total_blocks > 0 ? static_cast<double>(s.used_blocks) / static_cast<double>(s.total_blocks)
                            : 0.0;
}

}  // namespace

Observations::Observations(const Options& o)
    : ttft_(o.framework == Framework::kSglang ? kTtftSglang : o.vllm_v0 ? kTtftV0 : kTtftV1),
      itl_(o.framework == Framework::kSglang ? kItlSglang : o.vllm_v0 ? kItlV0 : kItlV1),
      e2e_(o.framework == Framework::kSglang ? kE2eSglang : o.vllm_v0 ? kE2eV0 : kE2eV1),
      queue_(kE2eV1),
      prompt_(o.vllm_v0 ? kTokensV0 : kTokensV1),
      gen_(o.vllm_v0 ? kTokensV0 : kTokensV1) {}

void Observations::Record(const Request& r, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (r.generation_tokens > 0) ttft_.Observe(r.ttft_s);
  for (double v : r.itl_s) itl_.Observe(v);
  e2e_.Observe(r.e2e_s);
  queue_.Observe(r.queue_s);
  prompt_.Observe(static_cast<double>(r.prompt_tokens));
  gen_.Observe(static_cast<double>(r.generation_tokens));
  if (r.finished_reason == "stop") ++success_stop_;
  else if (r.finished_reason == "length") ++success_length_;
  else ++success_abort_;
}

double Observations::GenThroughput(int64_t now_ns) { return gen_throughput_; }

std::string RenderMetrics(const Options& o, const EngineStats& s, Observations& obs,
                          int64_t now_ns) {
  std::lock_guard<std::mutex> lock(obs.mu_);
  // gen_throughput: generated tokens per second since the previous scrape (at least 1 s apart).
  if (obs.last_gen_ns_ == 0) {
    obs.last_gen_ns_ = now_ns;
    obs.last_gen_tokens_ = s.generation_tokens;
  } else if (now_ns - obs.last_gen_ns_ >= 1'000'000'000) {
    obs.gen_throughput_ = static_cast<double>(s.generation_tokens - obs.last_gen_tokens_) /
                          (static_cast<double>(now_ns - obs.last_gen_ns_) / 1e9);
    obs.last_gen_ns_ = now_ns;
    obs.last_gen_tokens_ = s.generation_tokens;
  }
  Page p;
  const double running = static_cast<double>(s.running);
  const double waiting = static_cast<double>(s.waiting);

  if (o.framework == Framework::kSglang) {
    p.labels = "model_name=" + Quote(o.model);
    p.Counter("sglang:prompt_tokens", "Number of prefill tokens processed.",
              static_cast<double>(s.prompt_tokens));
    p.Counter("sglang:generation_tokens", "Number of generation tokens processed.",
              static_cast<double>(s.generation_tokens));
    p.Gauge("sglang:token_usage", "The token usage", Usage(s));
    double hit_rate = s.prefix_queries > 0 ? static_cast<double>(s.prefix_hits) /
                                                 static_cast<double>(s.prefix_queries)
                                           : 0.0;
    p.Gauge("sglang:cache_hit_rate", "The cache hit rate", hit_rate);
    p.Hist("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
           obs.ttft_, true);
    p.Hist("sglang:e2e_request_latency_seconds",
           "Histogram of End-to-end request latency in seconds", obs.e2e_, true);
    p.Hist("sglang:time_per_output_token_seconds", "Histogram of time per output token in seconds.",
           obs.itl_, true);
    p.Gauge("sglang:num_running_reqs", "The number of running requests", running);
    p.Gauge("sglang:num_used_tokens", "The number of used tokens",
            static_cast<double>(s.used_blocks * 16));
    p.Gauge("sglang:gen_throughput", "The generate throughput (token/s)", obs.gen_throughput_);
    p.Gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue", waiting);
    return p.out;
  }

  const std::string reasons[3] = {"stop", "length", "abort"};
  const double success[3] = {static_cast<double>(obs.success_stop_),
                             static_cast<double>(obs.success_length_),
                             static_cast<double>(obs.success_abort_)};
  if (o.vllm_v0) {
    p.labels = "model_name=" + Quote(o.model);
    p.Family("vllm:cache_config_info", "information of cache_config", "gauge");
    p.out += "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"" +
             std::string(o.prefix_caching ? "True" : "False") + "\",num_gpu_blocks=\"" +
             std::to_string(o.kv_blocks) + "\"} 1.0\n";
    p.Gauge("vllm:num_requests_running", "Number of requests currently running on GPU.", running);
    p.Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting);
    p.Gauge("vllm:num_requests_swapped", "Number of requests swapped to CPU.", 0);
    p.Gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.", Usage(s));
    p.Gauge("vllm:cpu_cache_usage_perc", "CPU KV-cache usage. 1 means 100 percent usage.", 0);
    p.Gauge("vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache block hit rate.",
            s.prefix_queries > 0 ? static_cast<double>(s.prefix_hits) /
                                       static_cast<double>(s.prefix_queries)
                                 : 0.0);
    p.Counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
              static_cast<double>(s.preemptions));
    p.Counter("vllm:prompt_tokens", "Number of prefill tokens processed.",
              static_cast<double>(s.prompt_tokens));
    p.Counter("vllm:generation_tokens", "Number of generation tokens processed.",
              static_cast<double>(s.generation_tokens));
    p.Hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
           obs.ttft_, true);
    p.Hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.",
           obs.itl_, true);
    p.Hist("vllm:e2e_request_latency_seconds",
           "Histogram of end to end request latency in seconds.", obs.e2e_, true);
    p.Hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", obs.prompt_, true);
    p.Hist("vllm:request_generation_tokens", "Number of generation tokens processed.", obs.gen_,
           true);
    p.Family("vllm:request_success_total", "Count of successfully processed requests.", "counter");
    for (int i = 0; i < 3; ++i)
      p.Sample("vllm:request_success_total", success[i], "finished_reason=\"" + reasons[i] + "\"");
    return p.out;
  }

  p.labels = "engine=\"0\",model_name=" + Quote(o.model);
  p.Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", running);
  p.Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting);
  p.Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", Usage(s));
  p.Counter("vllm:prefix_cache_queries",
            "Prefix cache queries, in terms of number of queried tokens.",
            static_cast<double>(s.prefix_queries));
  p.Counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
            static_cast<double>(s.prefix_hits));
  p.Counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
            static_cast<double>(s.preemptions));
  p.Counter("vllm:prompt_tokens", "Number of prefill tokens processed.",
            static_cast<double>(s.prompt_tokens));
  p.Counter("vllm:generation_tokens", "Number of generation tokens processed.",
            static_cast<double>(s.generation_tokens));
  p.Family("vllm:request_success_total", "Count of successfully processed requests.", "counter");
  for (int i = 0; i < 3; ++i) {
    p.out += "vllm:request_success_total{engine=\"0\",finished_reason=\"" + reasons[i] +
             "\",model_name=" + Quote(o.model) + "} " + FormatFloat(success[i]) + "\n";
  }
  p.Hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", obs.prompt_, false);
  p.Hist("vllm:request_generation_tokens", "Number of generation tokens processed.", obs.gen_,
         false);
  p.Hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
         obs.ttft_, false);
  p.Hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
         obs.itl_, false);
  p.Hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
         obs.e2e_, false);
  p.Hist("vllm:request_queue_time_seconds",
         "Histogram of time spent in WAITING phase for request.", obs.queue_, false);
  p.Family("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", "gauge");
  p.out += "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"" +
           std::string(o.prefix_caching ? "True" : "False") +
           "\",engine=\"0\",num_gpu_blocks=\"" + std::to_string(o.kv_blocks) + "\"} 1.0\n";
  return p.out;
}

}  // namespace ib::sim
