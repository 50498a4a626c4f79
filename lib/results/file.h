// Writing a RunRecord as `results/<run_id>.json`.
//
//   std::string path, error;
//   if (!ib::results::WriteRunFile("results", run, &path, &error)) die(error);
//
// The file is written to a temporary name in the same directory, flushed, then linked to its
// final name, which fails rather than replaces when that name exists: a second run with the
// same id gets `<run_id>-2.json` (and run_id "<run_id>-2" inside), `-3`, ... Nothing is ever
// overwritten and a reader never sees half a file. Requests and GPU samples are streamed out
// one per line (no JSON tree of a million requests is built). NaN and infinities become null.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lib/results/aggregator.h"

namespace ib::results {

// The whole file's text (docs/results-format.md), with run.run_id as written.
std::string SerializeRun(const RunRecord& run);
// The same text handed to `sink` in pieces of about a megabyte.
void SerializeRunTo(const RunRecord& run, const std::function<void(std::string_view)>& sink);
// The same as a JSON tree (for callers that want to hand it on, e.g. ib-dash).
nlohmann::json RunToJson(const RunRecord& run);

// Creates `dir` (with parents) when missing. On success sets *path to the file written and
// updates run.run_id when a suffix was needed. On failure returns false with *error set.
bool WriteRunFile(const std::string& dir, RunRecord& run, std::string* path, std::string* error);

// Letters, digits, '.', '_', '-'; not starting with '.'; 1..200 bytes. Run ids that are not
// (an odd byte from a producer) are made so by replacing each bad byte with '_'.
bool IsSafeRunId(const std::string& id);
std::string SafeRunId(const std::string& id);

}  // namespace ib::results
