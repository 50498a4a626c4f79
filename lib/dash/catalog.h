// What the page can browse: the experiment configs under experiments/ (with their resolved
// summary, via lib/config) and the results files under results/ (via lib/results).
// Every name a client sends is confined (lib/dash/paths.h) before a file is touched.
//   nlohmann::json configs = ListConfigs("experiments");   // GET /api/configs
//   ResultFile file = ReadResultFile("results", "sim-smoke-20261128-030000");
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ib::dash {

// [{path, name, description, framework, model, provider, gpu_type, gpu_count, workload_type,
//   iterations, total_requests, estimated_cost_usd, cost_per_hr_usd, cost_estimate,
//   pricing_warning, errors}] for every .yaml/.yml under experiments_dir (recursively, symlinks
// out of it skipped), sorted by path. `path` is "experiments/<relative path>" whatever
// experiments_dir is. A RunPod config is priced with lib/pricing's EstimateCost over the same
// table `ib-run --dry-run` uses (~/.config/ib/pricing.json, else the built-in one):
// estimated_cost_usd is its total (null for a GPU without a price), cost_estimate its text.
nlohmann::json ListConfigs(const std::string& experiments_dir);

// One config's entry (as above) from its file; `path` is what the client calls it.
nlohmann::json DescribeConfig(const std::string& file, const std::string& path);

// GET /api/results: lib/results' listing, newest first.
nlohmann::json ListResults(const std::string& results_dir);

struct ResultFile {
  int status = 200;   // 200, 400 (bad id), 404 (unknown), 422 (corrupt/truncated), 500 (I/O)
  std::string body;   // the results file as JSON text, or {"error": ..., "run_id": ...}
  std::string path;   // the file served (when 200)
  std::string identity;  // path, inode, size and mtime of that file: same identity, same body
};
// The results file of exactly `run_id` (no partial match), as JSON text. The file's own bytes
// are served once checked to be one JSON object with a run_id (the verdict is cached by inode,
// size and mtime); files of the original tool with bare NaN/Infinity are re-serialized through
// lib/results (those become null). A corrupt or truncated file is 422 with the reason; nothing
// is ever deleted or rewritten.
ResultFile ReadResultFile(const std::string& results_dir, const std::string& run_id);

// GET /api/compare/A,B[,C...]: lib/results' Compare of those runs (the first is the reference),
// the very table `ib-results compare A B --json` prints, so the page's Compare rows, units,
// directions and verdicts have one definition. 400 for fewer than 2 or more than 16 ids or a bad
// one; otherwise the status of the first file that cannot be served (404, 422, 500).
struct CompareReply {
  int status = 200;
  std::string body;
};
CompareReply CompareRuns(const std::string& results_dir, std::string_view ids);

}  // namespace ib::dash
