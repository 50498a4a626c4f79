// Request traces replayed as workloads (workload.type: trace). Format "mooncake", one JSON
// object a line (the format of the Mooncake paper's published traces):
//   {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]}
// timestamp: ms since the trace's first request (never decreasing); input/output_length:
// tokens; hash_ids: one id per block of block_tokens prompt tokens, equal ids = equal blocks.
//
// Files are streamed line by line (a 1 GB trace is never held in memory): Replay yields the
// requests of the replayed window one at a time, ScanReplay reads the same window once to
// validate it (config load) and count it.
//
//   ib::trace::Replay replay(options);
//   for (ib::trace::Request r; replay.Next(&r);) send(r.offset_s, PromptText(r), r.output_tokens);
//   if (!replay.error().empty()) report(options.file, replay.line(), replay.error());
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ib::trace {

struct Options {
  std::string file;  // path of the trace (JSONL)
  std::string format = "mooncake";
  double speedup = 1;          // send at timestamp / speedup
  int64_t block_tokens = 512;  // tokens per hash_ids block in the trace
  int64_t max_requests = 0;    // 0: no limit
  double start_s = 0;          // replay the trace from this timestamp (s) ...
  std::optional<double> duration_s;  // ... for this long (trace time); unset: to the end
  double length_scale = 1;     // multiplies input, output and block lengths (small models)
};

// "" when the options are usable (file aside), else the problem.
std::string ValidateOptions(const Options& options);

struct Record {  // one trace line as written
  double timestamp_ms = 0;
  int64_t input_length = 0;
  int64_t output_length = 0;
  std::vector<int64_t> hash_ids;
};

// One line of a mooncake trace; "" on success, else what is wrong with it.
std::string ParseMooncake(std::string_view line, Record* out);

// Lines of a trace file in order, blank lines skipped, timestamps checked never to decrease.
class Reader {
 public:
  explicit Reader(const std::string& path);
  // The next record; false at the end of the file or at a bad line (then error() is set and
  // line() names it).
  bool Next(Record* out);
  const std::string& error() const { return error_; }
  int64_t line() const { return line_; }  // 1-based line of the last record read

 private:
  std::ifstream in_;
  std::string error_;
  int64_t line_ = 0;
  double last_ms_ = 0;
  bool any_ = false;
};

// A request of the replay, lengths already scaled by length_scale.
struct Request {
  int64_t index = 0;        // 0-based position in the replay (the request_index)
  int64_t line = 0;         // the trace line it came from
  double offset_s = 0;      // send instant, seconds after the replay starts
  int64_t input_tokens = 1;
  int64_t output_tokens = 1;
  int64_t block_tokens = 1;  // tokens of one hash_ids block
  std::vector<int64_t> hash_ids;
};

class Replay {
 public:
  explicit Replay(const Options& options);
  bool Next(Request* out);  // false at the end of the window or at a bad line (error() set)
  const std::string& error() const { return reader_.error(); }
  int64_t line() const { return reader_.line(); }

 private:
  Options options_;
  Reader reader_;
  int64_t next_index_ = 0;
  bool done_ = false;
};

struct Scan {
  int64_t requests = 0;    // requests the replay sends
  double last_offset_s = 0;
  std::string error;       // the first bad line's problem ("" when none)
  int64_t line = 0;        // its line
};
// Reads the replayed window of the file once (lines past it are not read).
Scan ScanReplay(const Options& options);

// The prompt text of a request: block k is input tokens [k*block_tokens, (k+1)*block_tokens)
// and its words depend only on hash_ids[k] (and the position in the block), so equal ids give
// equal text and a shared run of leading ids a shared prefix; tokens past the ids are unique to
// the trace line. Each word is 4 bytes (" the"): one token of ib-sim's tokenizer and about
// one of a BPE tokenizer's, so input_tokens words make about input_tokens tokens.
std::string PromptText(const Request& request);

}  // namespace ib::trace
