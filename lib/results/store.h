// Reading the results directory: listing, and loading one run by exact or partial id.
//
//   for (const auto& item : ib::results::ListRuns("results")) print(ToJson(item));
//   auto found = ib::results::LoadRun("results", "20260212");   // a unique part of an id is enough
//   if (!found.ok()) return found.status == FindStatus::kBadId ? 400 : 404;
//
// Files written by ib and by the original Python tool (docs/results-format.md) load alike; the
// original's bare NaN/Infinity tokens read as null. Every id and path stays inside the results
// directory: ids are letters, digits, '.', '_' and '-' only (no '/', no "..", no leading '.'),
// and a file whose real path leaves the directory (a symlink out) is refused. Nothing here
// throws or crashes on a bad file: it is listed with readable = false and the reason.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::results {

// One row of `ib-results list` and of ib-dash's GET /api/results.
struct ListItem {
  std::string run_id;  // the file's stem when the file is unreadable
  std::string path;
  bool readable = false;
  std::string error;  // why it is unreadable
  std::string status;  // completed | partial | failed | unknown
  nlohmann::json framework = nullptr, model = nullptr, gpu_type = nullptr, gpu_count = nullptr;
  nlohmann::json started_at = nullptr, finished_at = nullptr;
  nlohmann::json total_requests = nullptr, successful_requests = nullptr;
  nlohmann::json ttft_p50_ms = nullptr, tokens_per_second = nullptr;
};

// docs/dashboard-protocol.md's shape: {run_id, status, framework, model, gpu_type, gpu_count,
// started_at, finished_at, total_requests, successful_requests, ttft_p50_ms, readable, error}
// (+ tokens_per_second).
nlohmann::json ToJson(const ListItem& item);
// The row built from an already-loaded results file.
ListItem ItemFromResults(const nlohmann::json& results, const std::string& path);

// Every *.json file directly in `dir`, newest first (by metadata.started_at, else the file's
// modification time). A missing directory lists nothing.
std::vector<ListItem> ListRuns(const std::string& dir);

// One results file, typed: the one reader behind ib-results, ib-dash's listing and ib-run
// --resume (docs/results-format.md documents every field; `data` holds the whole document).
struct RequestOutcome {
  int64_t request_index = 0;
  std::string error_kind;  // "" when it succeeded; "cancelled" and "skipped" never ran to the end
};
struct ResultsFile {
  std::string path;
  std::string run_id;        // "" when the file has none
  std::string status;        // completed | partial | failed as written, "" when absent
  std::string resumed_from;  // metadata.resumed_from: the run this one continued, or ""
  std::vector<RequestOutcome> requests;  // `requests` (empty when read headers_only)
  nlohmann::json data;       // the document
};
struct ResultsRead {
  std::optional<ResultsFile> file;
  std::string error;  // why there is no file: unreadable, not valid JSON, not a JSON object
};
// Reads and parses one results file. headers_only drops `requests`, `warmup_requests` and
// `gpu_metrics.time_series` while parsing (for listings), keeping memory small.
//   auto read = ib::results::ReadResults("results/baseline-20260105-143007.json");
//   if (read.file && read.file->status == "partial") ...
ResultsRead ReadResults(const std::string& path, bool headers_only = false);

enum class FindStatus { kFound, kNotFound, kAmbiguous, kBadId, kUnreadable };

struct FoundRun {
  FindStatus status = FindStatus::kNotFound;
  std::string run_id;  // the file stem that matched
  std::string path;
  std::vector<std::string> matches;  // when ambiguous
  std::string error;                 // human-readable, for every status but kFound
  nlohmann::json data;               // LoadRun only
  bool exact = false;                // `id` is the file's stem or the run_id inside it
  bool ok() const { return status == FindStatus::kFound; }
};

// The one lookup of a run for ib-results and ib-dash: the file named `id`.json, else the file
// whose run_id is `id` (as listed, whatever the file is called), else the newest run of the
// experiment named `id`, else the one file whose stem contains `id`. A trailing ".json" is
// ignored.
FoundRun FindRun(const std::string& dir, const std::string& id);
// FindRun, then reads the file (kUnreadable with the reason if it does not parse).
FoundRun LoadRun(const std::string& dir, const std::string& id);

}  // namespace ib::results
