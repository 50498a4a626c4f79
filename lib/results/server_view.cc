#include "lib/results/server_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lib/stats/stats.h"

namespace ib::results {
namespace {

using nlohmann::json;

// Which server histogram stands beside which client summary block.
struct Pair {
  const char* server;  // server_latency key
  const char* client;  // summary block
  const char* label;
};
constexpr Pair kPairs[] = {{"ttft_ms", "ttft", "TTFT"}, {"e2e_ms", "e2e_latency", "E2E"}};
constexpr double kQuantiles[] = {50, 90, 99};

std::string Ms(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 100 ? "%.0f" : "%.1f", v);
  return buf;
}

json Bound(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

void AddServerView(const std::vector<events::GpuSample>& samples, json& summary) {
  const events::GpuSample* last = nullptr;
  for (const auto& s : samples) {
    if (s.server_histograms) last = &s;
  }
  if (last == nullptr) return;
  json view = json::object();
  for (const auto& [name, h] : *last->server_histograms) {
    json b = json::object();
    b["metric"] = h.metric;
    b["count"] = h.count;
    b["mean"] = h.count > 0 ? json(h.sum_ms / h.count) : json(nullptr);
    for (double p : kQuantiles) {
      const std::string key = stats::PercentileKey(p);
      auto q = stats::HistogramQuantile(h.le_ms, h.counts, p);
      b[key] = q ? json(q->value) : json(nullptr);
      b[key + "_bucket_ms"] = q ? json::array({Bound(q->lo), Bound(q->hi)}) : json(nullptr);
    }
    b["le_ms"] = h.le_ms;
    b["counts"] = h.counts;
    view[name] = std::move(b);
  }
  json comparisons = json::array();
  for (const Pair& pair : kPairs) {
    auto it = last->server_histograms->find(pair.server);
    const json& client = summary.contains(pair.client) ? summary[pair.client] : json();
    if (it == last->server_histograms->end() || !client.is_object()) continue;
    for (double p : kQuantiles) {
      const std::string key = stats::PercentileKey(p);
      auto q = stats::HistogramQuantile(it->second.le_ms, it->second.counts, p);
      if (!q || !client.contains(key) || !client[key].is_number()) continue;
      const double c = client[key].get<double>();
      const double margin = std::max(kServerGapMarginMs, kServerGapMarginFrac * std::fabs(c));
      // The server's true quantile lies somewhere in [lo, hi]; only a client figure outside
      // that bucket by more than the margin is a difference the histogram can show.
      const bool exceeds = c > q->hi + margin || c < q->lo - margin;
      const double gap = c - q->value;
      std::string what = std::string(pair.label) + " " + key;
      std::string message;
      if (!exceeds) {
        message = "client and server agree on " + what + " (client " + Ms(c) + " ms, server bucket " +
                  Ms(q->lo) + "-" + (std::isfinite(q->hi) ? Ms(q->hi) : std::string("inf")) + " ms)";
      } else if (gap > 0) {
        message = "client sees +" + Ms(gap) + " ms " + what + " over the server: network, proxy or client";
      } else {
        message = "client sees " + Ms(gap) + " ms " + what +
                  " under the server: the two measure from different instants (see docs/metrics.md)";
      }
      comparisons.push_back({{"metric", pair.server},
                             {"percentile", key},
                             {"client_ms", c},
                             {"server_ms", q->value},
                             {"server_bucket_ms", json::array({Bound(q->lo), Bound(q->hi)})},
                             {"gap_ms", gap},
                             {"margin_ms", margin},
                             {"exceeds", exceeds},
                             {"message", message}});
    }
  }
  summary["server_latency"] = std::move(view);
  summary["server_vs_client"] = std::move(comparisons);
}

std::vector<std::string> ServerGapLines(const json& summary) {
  std::vector<std::string> lines;
  if (!summary.is_object() || !summary.contains("server_vs_client")) return lines;
  for (const json& c : summary["server_vs_client"]) {
    if (c.is_object() && c.value("exceeds", false) && c.contains("message") && c["message"].is_string())
      lines.push_back(c["message"].get<std::string>());
  }
  return lines;
}

}  // namespace ib::results
