// The study files of results/ (<study_id>.study.json, docs/results-format.md "Study files") for
// the page's Study view: a listing, one study by id (confined like results files), and a
// watcher that notices when the study a running sweep or search writes has changed, so ib-dash
// pushes it to the page as iterations finish.
//   nlohmann::json list = ListStudies("results");                     // GET /api/studies
//   StudyFile f = ReadStudyFile("results", "sim-search-20261204-124010");  // GET /api/studies/ID
//   StudyWatcher w("results"); w.Note(event); if (auto s = w.Poll()) hub.Broadcast(*s);
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"

namespace ib::dash {

// [{study_id, kind, status, over, name, framework, model, gpu_type, gpu_count, run_ids,
//   points, answer_value, answer_output_tok_s, usd_per_million_output_tokens, modified_at,
//   readable, error}], newest file first. A file that is not a study is listed with
// readable: false and the reason (nothing is skipped silently).
nlohmann::json ListStudies(const std::string& results_dir);

struct StudyFile {
  int status = 200;  // 200, 400 (bad id), 404 (no such study), 422 (not a study file)
  std::string body;  // the study as JSON text, or {"error": ..., "study_id": ...}
};
// The study file of exactly `study_id` (the ".study.json" suffix may be given).
StudyFile ReadStudyFile(const std::string& results_dir, const std::string& study_id);

// Follows the study of the running sweep/search: ib-run names it in each sweep_iteration
// phase (data.study_id) and rewrites the file atomically after every iteration. Poll() is
// called from ib-dash's tick (every 250 ms); it answers the `study` message to broadcast when
// the file's identity (inode, size, mtime) changed since the last poll.
class StudyWatcher {
 public:
  explicit StudyWatcher(std::string results_dir) : dir_(std::move(results_dir)) {}
  void Note(const events::Event& event);
  // {"type":"study","study_id":ID,"data":<the study file>} or nullopt (no change).
  std::optional<nlohmann::json> Poll();
  std::string current() const;

 private:
  std::string dir_;
  mutable std::mutex mu_;
  std::string id_;
  std::string seen_;  // identity of the last file pushed
};

}  // namespace ib::dash
