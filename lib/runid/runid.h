// Run ids and study ids: "<name>-YYYYMMDD-HHMMSS" (local time), with "-N" (N >= 2) when another
// run of the same name started in the same second. Every tool makes them here and reads them
// back here; the results file of a run is results/<run_id>.json, of a study
// results/<study_id>.study.json.
//
//   std::string id = ib::runid::Make("baseline", std::time(nullptr));   // baseline-20260105-143000
//   std::string again = ib::runid::Make("baseline", t, 2);              // baseline-20260105-143000-2
//   if (auto parts = ib::runid::Parse(id)) parts->name;                  // "baseline"
//   ib::runid::NameOf("hand-picked");                                   // "hand-picked" (not an id)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ib::runid {

struct Parts {
  std::string name;   // what the config called it (may itself contain '-')
  std::string stamp;  // "YYYYMMDD-HHMMSS", local time
  int seq = 1;        // 1, or N from a "-N" suffix
};

// name + "-" + the local time of unix_time + ("-" + seq when seq > 1).
std::string Make(std::string_view name, int64_t unix_time, int seq = 1);
// The parts of an id made by Make; nullopt when id does not end in a stamp (a hand-given id).
std::optional<Parts> Parse(std::string_view id);
// Parse(id)->name, or id itself when it is not a made id.
std::string NameOf(std::string_view id);

}  // namespace ib::runid
