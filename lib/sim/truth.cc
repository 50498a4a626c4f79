#include "lib/sim/truth.h"

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

namespace ib::sim {

TruthLog::~TruthLog() { Close(); }

bool TruthLog::Open(const std::string& path, std::string* error) {
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) {
    *error = "cannot open truth file " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string TruthLog::Serialize(const TruthRecord& r) {
  nlohmann::ordered_json j;
  j["request_id"] = r.request_id;
  j["path"] = r.path;
  j["status"] = r.status;
  j["arrival_ns"] = r.arrival_ns;
  j["token_ns"] = r.token_ns;
  j["prompt_tokens"] = r.prompt_tokens;
  j["completion_tokens"] = r.completion_tokens;
  j["cached_prompt_tokens"] = r.cached_prompt_tokens;
  j["fault"] = r.fault;
  return j.dump();
}

void TruthLog::Write(const TruthRecord& r) {
  std::string line = Serialize(r) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (!file_) return;
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

void TruthLog::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

}  // namespace ib::sim
