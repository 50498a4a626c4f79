#include "lib/results/clock.h"

#include <cstdio>
#include <ctime>

namespace ib::results {

std::optional<int64_t> ParseIsoMs(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff...][Z|+00:00]
  if (text.size() < 19) return std::nullopt;
  std::string s(text);
  int year, mon, day, hour, min, sec;
  char t;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &year, &mon, &day, &t, &hour, &min,
                  &sec) != 7 ||
      (t != 'T' && t != ' ')) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    int64_t scale = 100;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      ms += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-') && i + 6 <= s.size()) {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) == 2) {
      int64_t offset = (oh * 60 + om) * 60000;
      ms += s[i] == '+' ? -offset : offset;
    }
  }
  return ms;
}

std::string FormatIsoMs(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int millis = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, millis);
  return out;
}

}  // namespace ib::results
