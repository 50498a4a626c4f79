// Framework-aware extraction of the numbers ib-scrape reports from one /metrics page.
//
// Which metric feeds which gpu_sample field (vLLM V1 name first, then its V0/deprecated
// fallback; SGLang), and how several series of one metric are combined, is the table in
// page_metrics.cc and docs/ib-scrape.md. In short:
//   - counts (running, waiting), token counters and throughput gauges are SUMMED across
//     engines / DP ranks (each engine serves its own requests);
//   - fractions (KV-cache usage, hit-rate gauges) are AVERAGED across engines (equal-sized
//     per-engine pools, so the mean is the fraction of the whole);
//   - series that repeat the same scheduler's numbers are skipped: SGLang pp_rank != 0, and
//     tp_rank != 0 when no dp_rank label says the rank is its own DP replica;
//   - with a model filter only series whose model_name matches (or that carry none) count.
//   - a fallback name is used only when the preferred name is absent from the page, so vLLM
//     0.10's deprecated gpu_prefix_cache_* counters are never added to prefix_cache_*.
// Counters are kept per series (label set) so resets are detected per engine, not on the sum.
//
//   ib::scrape::PageExtractor extractor(ib::scrape::Framework::kVllm, /*model=*/"");
//   ib::prom::TextParser parser;
//   extractor.Reset();
//   parser.Parse(body, extractor);
//   const ib::scrape::PageMetrics& m = extractor.metrics();
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/prom/text_parser.h"

namespace ib::scrape {

enum class Framework { kAuto, kVllm, kSglang };
std::optional<Framework> ParseFramework(std::string_view text);  // "vllm" | "sglang" | "auto"
std::string_view FrameworkName(Framework framework);

// Per-series values of one counter on one page; keeps its storage between pages.
class SeriesValues {
 public:
  void Clear() { size_ = 0; }
  void Add(std::string_view key, double value);
  std::size_t size() const { return size_; }
  const std::string& key(std::size_t i) const { return items_[i].first; }
  double value(std::size_t i) const { return items_[i].second; }

 private:
  std::vector<std::pair<std::string, double>> items_;
  std::size_t size_ = 0;
};

// A gauge combined across series (sum and count; the mean is sum / count).
struct GaugeValue {
  double sum = 0;
  int count = 0;
  int priority = 99;  // 0 = preferred name; larger = fallback names
  std::optional<double> Sum() const { return count ? std::optional<double>(sum) : std::nullopt; }
  std::optional<double> Mean() const {
    return count ? std::optional<double>(sum / count) : std::nullopt;
  }
};

struct CounterValue {
  SeriesValues series;
  int priority = 99;
  bool present() const { return series.size() > 0; }
};

// One series (label set, le excluded) of a server latency histogram on one page, as written:
// cumulative bucket counts by upper bound (seconds, +Inf included), _count and _sum.
struct HistogramSeries {
  std::string key;  // the labels other than le, as name=value pairs
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count), as they came
  double count = 0;
  double sum = 0;
};

// A latency histogram of the page, by ib's neutral name (see kHistograms in page_metrics.cc).
struct HistogramValue {
  std::string name;    // "ttft_ms", ...
  std::string metric;  // the server's family name
  int priority = 99;
  std::vector<HistogramSeries> series;
};

struct PageMetrics {
  GaugeValue kv_cache_usage;     // mean
  GaugeValue running;            // sum
  GaugeValue waiting;            // sum
  GaugeValue hit_rate_gauge;     // mean: vLLM V0 gpu_prefix_cache_hit_rate, sglang:cache_hit_rate
  GaugeValue generation_rate_gauge;  // sum: vLLM V0 avg_*_throughput, sglang:gen_throughput
  GaugeValue prompt_rate_gauge;      // sum
  CounterValue prompt_tokens;
  CounterValue generation_tokens;
  CounterValue prefix_hits;
  CounterValue prefix_queries;
  CounterValue preemptions;
  bool saw_vllm = false;    // any "vllm:" sample on the page
  bool saw_sglang = false;  // any "sglang:" sample
  std::vector<HistogramValue> histograms;  // the server's latency histograms on the page
  std::vector<std::string> models;  // distinct model_name values on the mapped series
  int64_t mapped_samples = 0;       // samples that fed a field
};

class PageExtractor : public prom::SampleHandler {
 public:
  // framework kAuto maps nothing until set_framework() is called with the detected one
  // (saw_vllm / saw_sglang are filled in any case). model: empty = every model.
  PageExtractor(Framework framework, std::string model);
  void set_framework(Framework framework) { framework_ = framework; }
  Framework framework() const { return framework_; }
  void Reset();  // before each page
  void OnSample(const prom::SampleView& sample) override;
  const PageMetrics& metrics() const { return metrics_; }

 private:
  bool SeriesCounts(const prom::SampleView& sample);
  void AddHistogramSample(const prom::SampleView& sample, std::string_view family,
                          std::string_view neutral, int priority, char part);
  Framework framework_;
  std::string model_;
  PageMetrics metrics_;
};

// Detects the framework from a page's metric names: vllm, sglang, or nullopt if neither
// (or, improbably, both) appear.
std::optional<Framework> DetectFramework(const PageMetrics& metrics);

}  // namespace ib::scrape
