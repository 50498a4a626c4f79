#include "lib/scrape/page_metrics.h"

#include <cmath>

namespace ib::scrape {
namespace {

enum class Field {
  kKvUsage,
  kRunning,
  kWaiting,
  kHitRateGauge,
  kGenerationRateGauge,
  kPromptRateGauge,
  kPromptTokens,
  kGenerationTokens,
  kPrefixHits,
  kPrefixQueries,
  kPreemptions,
};

struct Mapping {
  std::string_view name;  // without the "vllm:" / "sglang:" prefix
  Field field;
  int priority;  // 0 preferred; a larger one is used only when no smaller one is on the page
};

// vLLM: V1 names (>= 0.10) first, then V0 / deprecated ones.
constexpr Mapping kVllm[] = {
    {"kv_cache_usage_perc", Field::kKvUsage, 0},
    {"gpu_cache_usage_perc", Field::kKvUsage, 1},  // V0
    {"num_requests_running", Field::kRunning, 0},
    {"num_requests_waiting", Field::kWaiting, 0},
    {"prompt_tokens_total", Field::kPromptTokens, 0},
    {"generation_tokens_total", Field::kGenerationTokens, 0},
    {"prefix_cache_hits_total", Field::kPrefixHits, 0},
    {"gpu_prefix_cache_hits_total", Field::kPrefixHits, 1},  // deprecated in 0.10
    {"prefix_cache_queries_total", Field::kPrefixQueries, 0},
    {"gpu_prefix_cache_queries_total", Field::kPrefixQueries, 1},
    {"num_preemptions_total", Field::kPreemptions, 0},
    {"gpu_prefix_cache_hit_rate", Field::kHitRateGauge, 0},  // V0 >= 0.5.5
    {"avg_generation_throughput_toks_per_s", Field::kGenerationRateGauge, 0},  // V0
    {"avg_prompt_throughput_toks_per_s", Field::kPromptRateGauge, 0},          // V0
};

constexpr Mapping kSglang[] = {
    {"token_usage", Field::kKvUsage, 0},
    {"num_running_reqs", Field::kRunning, 0},
    {"num_queue_reqs", Field::kWaiting, 0},
    {"prompt_tokens_total", Field::kPromptTokens, 0},
    {"generation_tokens_total", Field::kGenerationTokens, 0},
    {"cache_hit_rate", Field::kHitRateGauge, 0},
    {"gen_throughput", Field::kGenerationRateGauge, 0},
};

// The server's latency histograms, by ib's neutral name (docs/ib-scrape.md). As above, a larger
// priority is a fallback used only when the preferred family is absent from the page.
struct HistogramMapping {
  std::string_view family;  // without the prefix
  std::string_view neutral;
  int priority;
};

constexpr HistogramMapping kVllmHistograms[] = {
    {"time_to_first_token_seconds", "ttft_ms", 0},
    {"inter_token_latency_seconds", "itl_ms", 0},
    // V0's name for the per-token gap; V1 0.10-0.11 keep it as a deprecated alias.
    {"time_per_output_token_seconds", "itl_ms", 1},
    {"request_time_per_output_token_seconds", "tpot_ms", 0},
    {"e2e_request_latency_seconds", "e2e_ms", 0},
    {"request_queue_time_seconds", "queue_ms", 0},
    {"request_prefill_time_seconds", "prefill_ms", 0},
    {"request_decode_time_seconds", "decode_ms", 0},
    {"request_inference_time_seconds", "inference_ms", 0},
};

constexpr HistogramMapping kSglangHistograms[] = {
    {"time_to_first_token_seconds", "ttft_ms", 0},
    {"inter_token_latency_seconds", "itl_ms", 0},
    // SGLang observes e2e / generated tokens per request here (not vLLM's TPOT formula).
    {"time_per_output_token_seconds", "tpot_ms", 0},
    {"e2e_request_latency_seconds", "e2e_ms", 0},
    {"queue_time_seconds", "queue_ms", 0},
};

// "x_bucket" -> ("x", 'b'), "x_count" -> 'c', "x_sum" -> 's'; else ("", 0).
std::pair<std::string_view, char> HistogramPart(std::string_view name) {
  for (auto [suffix, part] : {std::pair<std::string_view, char>{"_bucket", 'b'},
                              {"_count", 'c'}, {"_sum", 's'}}) {
    if (name.size() > suffix.size() && name.ends_with(suffix))
      return {name.substr(0, name.size() - suffix.size()), part};
  }
  return {{}, 0};
}

// "vllm:x" and "vllm_x" (some exporters rewrite the colon) -> "x"; else empty.
std::string_view StripPrefix(std::string_view name, std::string_view prefix) {
  if (name.size() <= prefix.size() + 1 || !name.starts_with(prefix)) return {};
  char sep = name[prefix.size()];
  if (sep != ':' && sep != '_') return {};
  return name.substr(prefix.size() + 1);
}

void AddGauge(GaugeValue& g, int priority, double value) {
  if (priority > g.priority) return;
  if (priority < g.priority) g = GaugeValue{0, 0, priority};
  g.sum += value;
  ++g.count;
}

void AddCounter(CounterValue& c, int priority, std::string_view key, double value) {
  if (priority > c.priority) return;
  if (priority < c.priority) {
    c.series.Clear();
    c.priority = priority;
  }
  c.series.Add(key, value);
}

}  // namespace

std::optional<Framework> ParseFramework(std::string_view text) {
  if (text == "vllm") return Framework::kVllm;
  if (text == "sglang") return Framework::kSglang;
  if (text == "auto") return Framework::kAuto;
  return std::nullopt;
}

std::string_view FrameworkName(Framework framework) {
  switch (framework) {
    case Framework::kVllm: return "vllm";
    case Framework::kSglang: return "sglang";
    case Framework::kAuto: return "auto";
  }
  return "auto";
}

void SeriesValues::Add(std::string_view key, double value) {
  if (size_ < items_.size()) {
    items_[size_].first.assign(key.data(), key.size());  // reuses the string's capacity
    items_[size_].second = value;
  } else {
    items_.emplace_back(std::string(key), value);
  }
  ++size_;
}

PageExtractor::PageExtractor(Framework framework, std::string model)
    : framework_(framework), model_(std::move(model)) {}

void PageExtractor::Reset() {
  for (GaugeValue* g : {&metrics_.kv_cache_usage, &metrics_.running, &metrics_.waiting,
                        &metrics_.hit_rate_gauge, &metrics_.generation_rate_gauge,
                        &metrics_.prompt_rate_gauge}) {
    *g = GaugeValue{};
  }
  for (CounterValue* c : {&metrics_.prompt_tokens, &metrics_.generation_tokens,
                          &metrics_.prefix_hits, &metrics_.prefix_queries, &metrics_.preemptions}) {
    c->series.Clear();
    c->priority = 99;
  }
  metrics_.saw_vllm = metrics_.saw_sglang = false;
  metrics_.histograms.clear();
  metrics_.models.clear();
  metrics_.mapped_samples = 0;
}

// Whether this series is one the sample should count (see the header for the rules).
bool PageExtractor::SeriesCounts(const prom::SampleView& sample) {
  std::optional<std::string_view> model = sample.LabelValue("model_name");
  if (!model_.empty() && model && *model != model_) return false;
  if (auto pp = sample.LabelValue("pp_rank"); pp && *pp != "0") return false;
  if (auto tp = sample.LabelValue("tp_rank"); tp && *tp != "0" && !sample.LabelValue("dp_rank")) {
    return false;
  }
  if (model) {
    bool known = false;
    for (const std::string& m : metrics_.models) known = known || m == *model;
    if (!known) metrics_.models.emplace_back(*model);
  }
  return true;
}

void PageExtractor::OnSample(const prom::SampleView& sample) {
  std::string_view rest;
  const Mapping* table = nullptr;
  std::size_t table_size = 0;
  if (std::string_view r = StripPrefix(sample.name, "vllm"); !r.empty()) {
    metrics_.saw_vllm = true;
    if (framework_ != Framework::kVllm) return;
    rest = r, table = kVllm, table_size = std::size(kVllm);
  } else if (std::string_view r = StripPrefix(sample.name, "sglang"); !r.empty()) {
    metrics_.saw_sglang = true;
    if (framework_ != Framework::kSglang) return;
    rest = r, table = kSglang, table_size = std::size(kSglang);
  } else {
    return;
  }
  if (auto [family, part] = HistogramPart(rest); part != 0) {
    const bool vllm = table == kVllm;
    const HistogramMapping* list = vllm ? kVllmHistograms : kSglangHistograms;
    const std::size_t n = vllm ? std::size(kVllmHistograms) : std::size(kSglangHistograms);
    for (std::size_t i = 0; i < n; ++i) {
      if (list[i].family != family) continue;
      if (!std::isnan(sample.value) && SeriesCounts(sample)) {
        std::string_view full = sample.name.substr(0, sample.name.size() - (rest.size() - family.size()));
        AddHistogramSample(sample, full, list[i].neutral, list[i].priority, part);
      }
      return;
    }
  }
  const Mapping* mapping = nullptr;
  for (std::size_t i = 0; i < table_size; ++i) {
    if (table[i].name == rest) {
      mapping = &table[i];
      break;
    }
  }
  if (mapping == nullptr || std::isnan(sample.value) || !SeriesCounts(sample)) return;
  ++metrics_.mapped_samples;
  const int p = mapping->priority;
  const double v = sample.value;
  switch (mapping->field) {
    case Field::kKvUsage: AddGauge(metrics_.kv_cache_usage, p, v); break;
    case Field::kRunning: AddGauge(metrics_.running, p, v); break;
    case Field::kWaiting: AddGauge(metrics_.waiting, p, v); break;
    case Field::kHitRateGauge: AddGauge(metrics_.hit_rate_gauge, p, v); break;
    case Field::kGenerationRateGauge: AddGauge(metrics_.generation_rate_gauge, p, v); break;
    case Field::kPromptRateGauge: AddGauge(metrics_.prompt_rate_gauge, p, v); break;
    case Field::kPromptTokens: AddCounter(metrics_.prompt_tokens, p, sample.raw_labels, v); break;
    case Field::kGenerationTokens:
      AddCounter(metrics_.generation_tokens, p, sample.raw_labels, v);
      break;
    case Field::kPrefixHits: AddCounter(metrics_.prefix_hits, p, sample.raw_labels, v); break;
    case Field::kPrefixQueries: AddCounter(metrics_.prefix_queries, p, sample.raw_labels, v); break;
    case Field::kPreemptions: AddCounter(metrics_.preemptions, p, sample.raw_labels, v); break;
  }
}

void PageExtractor::AddHistogramSample(const prom::SampleView& sample, std::string_view family,
                                       std::string_view neutral, int priority, char part) {
  HistogramValue* h = nullptr;
  for (HistogramValue& x : metrics_.histograms) {
    if (x.name == neutral) h = &x;
  }
  if (h == nullptr) {
    h = &metrics_.histograms.emplace_back();
    h->name = std::string(neutral);
  }
  if (priority > h->priority) return;
  if (priority < h->priority) {
    h->priority = priority;
    h->metric = std::string(family);
    h->series.clear();
  }
  if (h->metric != family) return;
  std::string key;
  std::optional<double> le;
  for (const prom::LabelView& l : sample.labels) {
    if (l.name == "le") {
      le = prom::ParseNumber(l.value);
      continue;
    }
    key.append(l.name).append("=").append(l.value).append(",");
  }
  HistogramSeries* series = nullptr;
  for (HistogramSeries& x : h->series) {
    if (x.key == key) series = &x;
  }
  if (series == nullptr) {
    series = &h->series.emplace_back();
    series->key = std::move(key);
  }
  if (part == 'b') {
    if (le) series->buckets.emplace_back(*le, sample.value);
  } else if (part == 'c') {
    series->count = sample.value;
  } else {
    series->sum = sample.value;
  }
}

std::optional<Framework> DetectFramework(const PageMetrics& metrics) {
  if (metrics.saw_vllm == metrics.saw_sglang) return std::nullopt;
  return metrics.saw_vllm ? Framework::kVllm : Framework::kSglang;
}

}  // namespace ib::scrape
