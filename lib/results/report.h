// What ib-results prints: the list table, the summary users know, side-by-side comparisons and
// per-request exports. Works on any results file, ib's or the original Python tool's (missing
// keys show as "n/a" or empty cells).
//
//   std::cout << ib::results::FormatList(ib::results::ListRuns("results"));
//   auto table = ib::results::Compare({a.data, b.data});  // rows with deltas and verdicts
//   std::cout << ib::results::FormatComparison(table);
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/results/store.h"

namespace ib::results {

std::string FormatList(const std::vector<ListItem>& items);

// "Run: <id>" rows, the Summary panel (requests, errors, duration, throughput, TTFT/E2E/TBT
// p50/p95/p99, KV-cache peak and mean, ...) and the metadata lines.
std::string FormatShow(const nlohmann::json& results);

// Compare runs[0] (the baseline) with each of the others.
// {"runs": [{run_id, framework, model, gpu}], "notes": [string],
//  "rows": [{"metric", "unit", "better": "lower"|"higher"|null, "values": [number|string|null],
//            "deltas": [null, {"abs", "pct"|null, "verdict": "better"|"worse"|"same"|"within noise"}|null, ...],
//            "ci95_half": [number|null] only when an operand carries repeat_stats (MeanResults)}]}
nlohmann::json Compare(const std::vector<nlohmann::json>& runs);
std::string FormatComparison(const nlohmann::json& comparison);

// One row per request (warmup ones flagged), fixed columns, RFC 4180 quoting.
std::string RequestsCsv(const nlohmann::json& results);
// {"run_id", "requests": [...], "warmup_requests": [...]}
nlohmann::json RequestsJson(const nlohmann::json& results);
// The summary as metric,value rows ("ttft.p50", 120.5), nested keys joined with '.'.
std::string SummaryCsv(const nlohmann::json& results);

}  // namespace ib::results
