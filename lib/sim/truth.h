// The --truth file: one NDJSON line per request, flushed as it is written, with server-side
// CLOCK_MONOTONIC nanosecond timestamps a client on the same machine can compare with its own.
//   {"request_id","path","status","arrival_ns","token_ns":[...],"prompt_tokens",
//    "completion_tokens","cached_prompt_tokens","fault"}
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace ib::sim {

struct TruthRecord {
  std::string request_id;
  std::string path;
  int status = 200;
  int64_t arrival_ns = 0;
  std::vector<int64_t> token_ns;  // just before each token's bytes were handed to the socket
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;
  std::string fault = "none";
};

class TruthLog {
 public:
  TruthLog() = default;
  ~TruthLog();
  // Truncates or creates the file. False + *error if it cannot be opened.
  bool Open(const std::string& path, std::string* error);
  bool is_open() const { return file_ != nullptr; }
  void Write(const TruthRecord& r);
  void Close();
  static std::string Serialize(const TruthRecord& r);

 private:
  std::mutex mu_;
  FILE* file_ = nullptr;
};

}  // namespace ib::sim
