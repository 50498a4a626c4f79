// A study: the file that ties a sweep's or a search's iterations together,
// results/<study_id>.study.json (docs/results-format.md "Study files"). ib-run rewrites it
// atomically after every iteration, so a reader (ib-results, the dashboard) never sees half.
//
//   Study study("sim-search-20260101-120000", "search", config);
//   study.AddIteration({...}, summary);
//   study.Write(output_dir, &error);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/config/config.h"

namespace ib::results {

struct StudyIteration {
  int index = 0;  // 1-based, in the order run
  std::string run_id;
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  double value = 0;  // the swept or searched value (the first sweep axis for a multi-axis sweep)
  std::string status;  // the results file's status, or "failed" / "interrupted" when none
  std::string result_path;
  // Search only.
  std::string probe;  // lowest | highest | saturation | bisect | grow
  std::optional<bool> passed;
  std::string verdict;
  int repeat = 0;           // 1..N with repeats > 1 (entries of one index), else 0
  bool early_stop = false;  // a probe ib-run stopped once it could no longer pass
};

class Study {
 public:
  Study(std::string study_id, std::string kind, const config::ExperimentConfig& config);

  const std::string& id() const { return id_; }
  // The curve point is computed from the iteration's results summary (null: no point); the
  // repeats of one index (it.repeat > 0) make one point of means with `stats`.
  void AddIteration(const StudyIteration& it, const nlohmann::json& summary);
  void SetStatus(const std::string& status) { status_ = status; }
  void SetAnswer(nlohmann::json answer) { answer_ = std::move(answer); }
  void SetPrompts(const std::string& how) { prompts_ = how; }
  // hourly: the pod's price (0 unknown); source: "pod" | "gpu table"; elapsed_s: wall time
  // the server has run for the study so far.
  void SetCost(double hourly, const std::string& source, double elapsed_s);
  void SetResumedFrom(const std::string& id) { resumed_from_ = id; }
  void SetResumes(int n) { resumes_ = n; }

  const std::vector<StudyIteration>& iterations() const { return iterations_; }
  const nlohmann::json& curve() const { return curve_; }
  nlohmann::json ToJson() const;
  // Writes <dir>/<id>.study.json via a temporary file and rename.
  bool Write(const std::string& dir, std::string* error) const;

  // One curve point of a results summary (exposed for tests and ib-results).
  static nlohmann::json CurvePoint(const StudyIteration& it, const nlohmann::json& summary);
  // The point of one iteration's repeats: means, `repeats`, `run_ids` and `stats`
  // (docs/results-format.md "Study files"); null when none has a summary.
  static nlohmann::json RepeatsPoint(const std::vector<StudyIteration>& its,
                                     const std::vector<nlohmann::json>& summaries);

 private:
  std::string id_;
  std::string kind_;  // sweep | search
  nlohmann::json config_;
  std::string over_;  // the swept / searched field
  std::string status_ = "running";
  std::vector<StudyIteration> iterations_;
  nlohmann::json curve_ = nlohmann::json::array();
  nlohmann::json answer_ = nullptr;
  std::string prompts_;
  double hourly_ = 0;
  std::string price_source_;
  double elapsed_s_ = 0;
  std::string resumed_from_;
  int64_t repeats_ = 1;
  int resumes_ = 0;
  std::vector<nlohmann::json> summaries_;  // beside iterations_
  void RebuildCurve();
};

// j[key] when it is a number, else `otherwise` (json::value throws on a null).
double NumberOr(const nlohmann::json& j, const char* key, double otherwise);

// Reads a study file; nullopt + *error when it is missing or not a study.
std::optional<nlohmann::json> ReadStudy(const std::string& path, std::string* error);

// <dir>/<id>.study.json when `id` names a study there (with or without the suffix), else "".
std::string StudyPath(const std::string& dir, const std::string& id);

// ib-results compare STUDY[@VALUE]: the study's point (its only one, or the one at VALUE) as one
// results document, the mean of its repeats' files (MeanResults), run_id "STUDY@VALUE".
// nullopt + *error when the study has no such point or a file is missing. *is_study false (and
// nullopt) when `arg` names no study in `dir`.
std::optional<nlohmann::json> StudyMeasurement(const std::string& dir, const std::string& arg, bool* is_study,
                                               std::string* error);

// ib-results show STUDY: a header, the curve as a table and the answer.
std::string FormatStudy(const nlohmann::json& study);
// ib-results export STUDY --format csv: one row per curve point.
std::string StudyCsv(const nlohmann::json& study);

}  // namespace ib::results
