#include "lib/load/shard.h"

#include <time.h>

#include <cstdlib>

namespace ib::load {
namespace {
int64_t Read(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

bool ParseShard(const std::string& text, Shard* out, std::string* error) {
  auto slash = text.find('/');
  auto number = [](const std::string& s, int64_t* v) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    *v = std::atoll(s.c_str());
    return true;
  };
  Shard s;
  if (slash == std::string::npos || !number(text.substr(0, slash), &s.k) || !number(text.substr(slash + 1), &s.n) ||
      s.n < 1 || s.k >= s.n) {
    *error = "--shard takes K/N with 0 <= K < N, e.g. 0/4 (got '" + text + "')";
    return false;
  }
  *out = s;
  return true;
}

int64_t ShareOf(int64_t total, const Shard& s) {
  if (total <= 0) return 0;
  return total / s.n + (s.k < total % s.n ? 1 : 0);
}

int64_t RealtimeNs() { return Read(CLOCK_REALTIME); }

int64_t MonotonicOfRealtime(int64_t realtime_ns) {
  // Read the two clocks back to back; the pair differs by the few ns between the reads.
  int64_t mono = Read(CLOCK_MONOTONIC);
  int64_t real = Read(CLOCK_REALTIME);
  return mono + (realtime_ns - real);
}

}  // namespace ib::load
