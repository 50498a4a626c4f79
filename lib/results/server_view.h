// The server's view of a run beside the client's (docs/metrics.md "Server view"): quantiles of
// the server's own latency histograms (ib-scrape's per-run bucket deltas, carried by gpu_sample
// `server_histograms`), and for TTFT and E2E a comparison with the client's figure that says
// when the two differ by more than the histogram's resolution plus a stated margin.
//
//   nlohmann::json summary = Summarize(...);
//   AddServerView(samples, summary);   // adds summary.server_latency and .server_vs_client
//   for (const auto& c : summary["server_vs_client"]) if (c["exceeds"]) puts(c["message"]);
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"

namespace ib::results {

// The margin allowed beyond the bucket a server quantile lies in: 5 ms or 5% of the client's
// figure, whichever is larger (timer and scheduling noise on either side).
inline constexpr double kServerGapMarginMs = 5.0;
inline constexpr double kServerGapMarginFrac = 0.05;

// Does nothing when no sample carried server histograms (older streams stay byte-identical).
// Otherwise adds `server_latency` {<name>: {metric, count, mean, p50, p90, p99,
// p50_bucket_ms: [lo, hi], ..., le_ms, counts}} from the last sample that carried them, and
// `server_vs_client` [{metric, percentile, client_ms, server_ms, server_bucket_ms, gap_ms,
// margin_ms, exceeds, message}] for ttft_ms and e2e_ms at p50, p90 and p99 (those the client's
// summary has).
void AddServerView(const std::vector<events::GpuSample>& samples, nlohmann::json& summary);

// The comparisons that exceed their allowance, one line each (terminal summaries).
std::vector<std::string> ServerGapLines(const nlohmann::json& summary);

}  // namespace ib::results
