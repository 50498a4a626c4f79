// The latency metrics an SLO may name (goodput, capacity search) and the percentiles it may
// bound: the one list in ib. Each name is the results summary's latency block it reads.
//
//   const SloMetric* m = FindSloMetric("ttft_ms");   // m->summary_block == "ttft"
//   summary[m->summary_block]["p99"]                  // the figure the SLO bounds
//
// Write-based metrics (ttft_ms, e2e_ms) run from the moment the request was written; the
// *_intended_ms ones from the instant it should have started (docs/metrics.md "Coordinated
// omission"), so they include the time the client held it back (client_queue_ms).
#pragma once

#include <array>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ib::stats {

struct SloMetric {
  std::string_view name;           // as written in configs: "ttft_ms"
  std::string_view summary_block;  // the results summary's block: "ttft"
  std::string_view label;          // for terminals and charts: "TTFT"
  std::string_view alias;          // an older config key meaning the same ("" if none)
  // Goodput is per request: true when a request has its own value (lib/results reads it);
  // itl_ms is a distribution over gaps, so it bounds only summary percentiles.
  bool per_request;
  // A request without a value still meets a goodput SLO (tpot: a one-token answer).
  bool absent_meets;
};

inline constexpr std::array<SloMetric, 6> kSloMetrics = {{
    {"ttft_ms", "ttft", "TTFT", "", true, false},
    {"ttft_intended_ms", "ttft_intended", "TTFT (intended start)", "", true, false},
    {"tpot_ms", "tpot", "TPOT", "", true, true},
    {"itl_ms", "itl", "ITL", "", false, false},
    {"e2e_ms", "e2e_latency", "E2E", "e2e_latency_ms", true, false},
    {"e2e_intended_ms", "e2e_intended", "E2E (intended start)", "", true, false},
}};

// The summary keys of a latency block an SLO may bound.
inline constexpr std::array<std::string_view, 5> kSloPercentiles = {"p50", "p90", "p95", "p99", "mean"};

// By name or alias; nullptr when unknown.
inline const SloMetric* FindSloMetric(std::string_view name) {
  for (const auto& m : kSloMetrics) {
    if (m.name == name || (!m.alias.empty() && m.alias == name)) return &m;
  }
  return nullptr;
}

inline bool IsSloPercentile(std::string_view key) {
  for (auto p : kSloPercentiles) {
    if (p == key) return true;
  }
  return false;
}

// Config keys accepted for goodput (metrics.goodput): the per-request names and their aliases.
inline std::vector<std::string> GoodputKeys() {
  std::vector<std::string> keys;
  for (const auto& m : kSloMetrics) {
    if (!m.per_request) continue;
    keys.emplace_back(m.name);
    if (!m.alias.empty()) keys.emplace_back(m.alias);
  }
  return keys;
}

// "ttft_intended_ms=500,tpot_ms=50" -> limits (ib-aggregate --slo). A name must be a per-request
// metric (or an alias) and a limit a number > 0; else false and *error says which.
inline bool ParseSloList(std::string_view text, std::vector<std::pair<std::string, double>>* out,
                         std::string* error) {
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    std::size_t eq = item.find('=');
    std::string name(item.substr(0, eq));
    const SloMetric* m = FindSloMetric(name);
    if (m == nullptr || !m->per_request) {
      std::string names;
      for (const auto& k : GoodputKeys()) names += (names.empty() ? "" : ", ") + k;
      *error = "'" + name + "' is not a per-request latency metric (one of " + names + ")";
      return false;
    }
    std::string value = eq == std::string_view::npos ? "" : std::string(item.substr(eq + 1));
    char* end = nullptr;
    double limit = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || !(limit > 0)) {
      *error = "the SLO for " + name + " must be a number of ms > 0 (got '" + value + "')";
      return false;
    }
    out->emplace_back(name, limit);
  }
  return true;
}

}  // namespace ib::stats
