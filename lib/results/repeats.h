// Repeats of one measurement (docs/config.md "Repeats"): several JSON documents of the same
// shape (results summaries, study curve points) folded into one whose numbers are the means,
// plus a `stats` document of the same shape whose numbers are {n, mean, stddev, ci95_low,
// ci95_high} (sample stddev, Student-t interval: docs/metrics.md "Repeats").
//
//   json stats;
//   json mean = MeanOf({summary1, summary2, summary3}, &stats, {"run_id"});
//   stats["ttft"]["p99"]["ci95_high"]
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::results {

// docs[0]'s shape: each number becomes the mean of the numbers at the same place in every doc
// (docs where it is missing or not a number do not count); strings, booleans, arrays and nulls
// are docs[0]'s. Keys in `skip` (at any depth) are copied from docs[0] with no stats. `stats`
// (may be null) receives the per-number statistics; objects without numbers are left out.
nlohmann::json MeanOf(const std::vector<nlohmann::json>& docs, nlohmann::json* stats,
                      const std::set<std::string>& skip = {});

// Results files of one measurement's repeats as one results document: docs[0] with `summary`
// replaced by the means and `repeat_stats` (the stats of the summary) and `repeat_run_ids`
// added. One file is returned unchanged.
nlohmann::json MeanResults(const std::vector<nlohmann::json>& runs);

}  // namespace ib::results
