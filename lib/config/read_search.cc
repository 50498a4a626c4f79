// workload.search: the capacity search's block. Every mistake is caught here, before anything
// costs money (docs/config.md "Capacity search").
#include <algorithm>
#include <string>
#include <vector>

#include "lib/config/sections.h"
#include "lib/config/suggest.h"
#include "lib/stats/slo_metrics.h"

namespace ib::config::internal {

namespace {

const std::vector<std::string> kSearchKeys = {"over", "slo", "min", "max", "precision_pct",
                                              "max_probes", "probe", "fresh_prompts", "early_stop"};
const std::vector<std::string> kProbeKeys = {"duration_s", "count", "repeats"};
// The workload type each searchable field belongs to.
const std::vector<std::pair<std::string, std::string>> kSearchable = {{"request_rate", "rate"},
                                                                      {"concurrency", "concurrent"}};

std::vector<std::string> SloMetricNames() {
  std::vector<std::string> out;
  for (const auto& m : stats::kSloMetrics) out.emplace_back(m.name);
  return out;
}

std::vector<std::string> SloPercentiles() {
  std::vector<std::string> out;
  for (auto p : stats::kSloPercentiles) out.emplace_back(p);
  return out;
}

void ReadSlo(const Node* slo, ExperimentConfig::Workload::Search& s, Reader& r) {
  if (!r.IsMap(slo, "workload.search.slo")) return;
  std::vector<std::string> metrics = SloMetricNames();
  std::vector<std::string> keys = metrics;
  keys.push_back("goodput_frac");
  for (const auto& [name, value] : slo->map) {
    std::string path = "workload.search.slo." + name;
    if (name == "goodput_frac") {
      s.goodput_frac = r.Number(&value, path);
      if (s.goodput_frac && (*s.goodput_frac <= 0 || *s.goodput_frac > 1)) {
        r.Error(&value, "", path + " must be in (0, 1], got " + FormatNumber(*s.goodput_frac));
      }
      continue;
    }
    if (stats::FindSloMetric(name) == nullptr) {
      r.Error(&value, "", "workload.search.slo: unknown metric '" + name + "'; known: " + JoinList(keys) +
                              DidYouMean(name, keys));
      continue;
    }
    if (!r.IsMap(&value, path)) {
      if (value.kind == Node::kNull) r.Error(&value, "", path + " needs a percentile and a bound, e.g. {p99: 500}");
      continue;
    }
    std::vector<std::string> percentiles = SloPercentiles();
    for (const auto& [pct, bound] : value.map) {
      if (std::find(percentiles.begin(), percentiles.end(), pct) == percentiles.end()) {
        r.Error(&bound, "", path + ": unknown percentile '" + pct + "'; known: " + JoinList(percentiles) +
                                DidYouMean(pct, percentiles));
        continue;
      }
      auto v = r.Number(&bound, path + "." + pct);
      if (!v) continue;
      if (*v <= 0) {
        r.Error(&bound, "", path + "." + pct + " must be > 0 (milliseconds), got " + FormatNumber(*v));
        continue;
      }
      s.slo.push_back({name, pct, *v});
    }
  }
}

}  // namespace

void ReadSearch(const Node* wl, ExperimentConfig::Workload& w, Reader& r) {
  const Node* node = wl->Get("search");
  if (!r.IsMap(node, "workload.search")) return;
  r.CheckKeys(node, "workload.search", kSearchKeys);
  ExperimentConfig::Workload::Search s;
  std::vector<std::string> fields;
  for (const auto& [field, type] : kSearchable) fields.push_back(field);
  if (r.Require(node, "over", "workload.search.over", node)) {
    if (auto v = r.String(node->Get("over"), "workload.search.over")) {
      s.over = *v;
      auto it = std::find_if(kSearchable.begin(), kSearchable.end(), [&](const auto& f) { return f.first == *v; });
      if (it == kSearchable.end()) {
        r.Error(node->Get("over"), "", "workload.search.over must be " + JoinList(fields) + ", got '" + *v + "'" +
                                           DidYouMean(*v, fields));
      } else if (!w.type.empty() && w.type != it->second) {
        r.Error(node->Get("over"), "", "workload.search.over: workload type '" + w.type + "' has no " + *v +
                                           " (searching over " + *v + " needs type '" + it->second + "')");
      }
    }
  }
  if (r.Require(node, "slo", "workload.search.slo", node)) {
    ReadSlo(node->Get("slo"), s, r);
    if (s.slo.empty() && !s.goodput_frac && node->Get("slo")->kind == Node::kMap && node->Get("slo")->map.empty()) {
      r.Error(node->Get("slo"), "", "workload.search.slo is empty: name at least one bound, e.g. {ttft_ms: {p99: 500}}");
    }
  }
  s.min = r.Number(node->Get("min"), "workload.search.min");
  s.max = r.Number(node->Get("max"), "workload.search.max");
  bool integral = s.over == "concurrency";
  for (auto [key, v] : {std::pair<const char*, std::optional<double>*>{"min", &s.min}, {"max", &s.max}}) {
    if (!*v) continue;
    if (**v <= 0 || (integral && (!IsExactInteger(**v) || **v < 1))) {
      r.Error(node->Get(key), "", std::string("workload.search.") + key + " must be " +
                                      (integral ? "an integer >= 1" : "> 0") + ", got " + FormatNumber(**v));
      *v = std::nullopt;
    }
  }
  if (s.min && s.max && *s.min > *s.max) {
    r.Error(node->Get("min"), "", "workload.search.min (" + FormatNumber(*s.min) + ") is greater than workload.search.max (" +
                                      FormatNumber(*s.max) + ")");
  }
  if (auto v = r.Number(node->Get("precision_pct"), "workload.search.precision_pct")) {
    s.precision_pct = *v;
    if (*v <= 0 || *v >= 100) r.Error(node->Get("precision_pct"), "", "workload.search.precision_pct must be in (0, 100), got " + FormatNumber(*v));
  }
  if (auto v = r.Int(node->Get("max_probes"), "workload.search.max_probes")) {
    s.max_probes = *v;
    if (*v < 2) r.Error(node->Get("max_probes"), "", "workload.search.max_probes must be >= 2, got " + std::to_string(*v));
  }
  if (const Node* probe = node->Get("probe"); r.IsMap(probe, "workload.search.probe")) {
    r.CheckKeys(probe, "workload.search.probe", kProbeKeys);
    s.probe.duration_s = r.Number(probe->Get("duration_s"), "workload.search.probe.duration_s");
    if (s.probe.duration_s && *s.probe.duration_s <= 0) {
      r.Error(probe->Get("duration_s"), "", "workload.search.probe.duration_s must be > 0, got " + FormatNumber(*s.probe.duration_s));
    }
    s.probe.count = r.Int(probe->Get("count"), "workload.search.probe.count");
    if (s.probe.count && *s.probe.count < 1) {
      r.Error(probe->Get("count"), "", "workload.search.probe.count must be >= 1, got " + std::to_string(*s.probe.count));
    }
    s.probe.repeats = r.Int(probe->Get("repeats"), "workload.search.probe.repeats");
    if (s.probe.repeats && *s.probe.repeats < 1) {
      r.Error(probe->Get("repeats"), "", "workload.search.probe.repeats must be >= 1, got " + std::to_string(*s.probe.repeats));
    }
    if (s.probe.duration_s && s.probe.count) {
      r.Error(probe, "", "workload.search.probe takes duration_s or count, not both");
    }
  }
  if (auto v = r.Bool(node->Get("fresh_prompts"), "workload.search.fresh_prompts")) s.fresh_prompts = *v;
  if (auto v = r.Bool(node->Get("early_stop"), "workload.search.early_stop")) s.early_stop = *v;
  if (!w.sweep.empty()) {
    r.Error(node, "", "workload.search and workload.sweep cannot be used together: a search chooses its own values");
  }
  if (w.type == "multi_turn") {
    r.Error(node, "", "workload.search does not support multi_turn workloads");
  }
  w.search = s;
}

}  // namespace ib::config::internal
