// The latency metrics an SLO may name (goodput, capacity search) and the percentiles it may
// bound: the one list in ib. Each name is the results summary's latency block it reads.
//
//   const SloMetric* m = FindSloMetric("ttft_ms");   // m->summary_block == "ttft"
//   summary[m->summary_block]["p99"]                  // the figure the SLO bounds
#pragma once

#include <array>
#include <string_view>

namespace ib::stats {

struct SloMetric {
  std::string_view name;           // as written in configs: "ttft_ms"
  std::string_view summary_block;  // the results summary's block: "ttft"
  std::string_view label;          // for terminals and charts: "TTFT"
};

inline constexpr std::array<SloMetric, 4> kSloMetrics = {{
    {"ttft_ms", "ttft", "TTFT"},
    {"tpot_ms", "tpot", "TPOT"},
    {"itl_ms", "itl", "ITL"},
    {"e2e_ms", "e2e_latency", "E2E"},
}};

// The summary keys of a latency block an SLO may bound.
inline constexpr std::array<std::string_view, 5> kSloPercentiles = {"p50", "p90", "p95", "p99", "mean"};

inline const SloMetric* FindSloMetric(std::string_view name) {
  for (const auto& m : kSloMetrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

inline bool IsSloPercentile(std::string_view key) {
  for (auto p : kSloPercentiles) {
    if (p == key) return true;
  }
  return false;
}

}  // namespace ib::stats
