#include "lib/runid/runid.h"

#include <ctime>

namespace ib::runid {
namespace {

bool Digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Whether s ends in "-YYYYMMDD-HHMMSS" (16 characters).
bool EndsInStamp(std::string_view s) {
  if (s.size() < 16) return false;
  std::string_view t = s.substr(s.size() - 16);
  return t[0] == '-' && Digits(t.substr(1, 8)) && t[9] == '-' && Digits(t.substr(10, 6));
}

}  // namespace

std::string Make(std::string_view name, int64_t unix_time, int seq) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm local{};
  ::localtime_r(&t, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  std::string id = std::string(name) + "-" + stamp;
  if (seq > 1) id += "-" + std::to_string(seq);
  return id;
}

std::optional<Parts> Parse(std::string_view id) {
  Parts parts;
  std::string_view rest = id;
  if (!EndsInStamp(rest)) {
    // Maybe "<stamp>-N".
    std::size_t dash = rest.rfind('-');
    if (dash == std::string_view::npos || !Digits(rest.substr(dash + 1)) || rest.size() - dash > 10)
      return std::nullopt;
    std::string_view head = rest.substr(0, dash);
    if (!EndsInStamp(head)) return std::nullopt;
    parts.seq = std::stoi(std::string(rest.substr(dash + 1)));
    rest = head;
  }
  parts.stamp = std::string(rest.substr(rest.size() - 15));
  parts.name = std::string(rest.substr(0, rest.size() - 16));
  return parts;
}

std::string NameOf(std::string_view id) {
  auto parts = Parse(id);
  return parts ? parts->name : std::string(id);
}

}  // namespace ib::runid
