#include "lib/scrape/live_table.h"

#include <cstdio>

#include "lib/events/stream.h"

namespace ib::scrape {
namespace {

std::string Cell(std::optional<double> value, int width, int decimals, double scale = 1) {
  char buf[64];
  if (!value) {
    std::snprintf(buf, sizeof buf, "%*s", width, "-");
  } else {
    std::snprintf(buf, sizeof buf, "%*.*f", width, decimals, *value * scale);
  }
  return buf;
}

}  // namespace

LiveTable::LiveTable(int fd, double min_row_interval_s)
    : fd_(fd), min_row_interval_s_(min_row_interval_s) {}

std::string LiveTable::Header() {
  return "     t_s   kv%    run   wait   hit%    gen/s  prompt/s  preempt  scrape_ms\n";
}

std::string LiveTable::Row(const events::GpuSample& s) {
  return Cell(s.t_s, 8, 1) + Cell(s.kv_cache_usage_frac, 6, 1, 100) +
         Cell(s.running_requests, 7, 0) + Cell(s.waiting_requests, 7, 0) +
         Cell(s.prefix_cache_hit_rate_frac, 7, 1, 100) + Cell(s.generation_tokens_per_s, 9, 1) +
         Cell(s.prompt_tokens_per_s, 10, 1) + Cell(s.preemptions_total, 9, 0) +
         Cell(s.scrape_ms, 11, 1) + "\n";
}

bool LiveTable::OnSample(const events::GpuSample& s) {
  if (last_row_t_s_ && s.t_s - *last_row_t_s_ < min_row_interval_s_) return true;
  last_row_t_s_ = s.t_s;
  std::string out;
  if (rows_++ % 20 == 0) out += Header();
  out += Row(s);
  return events::WriteAll(fd_, out);
}

bool LiveTable::OnLog(const events::Log& log) {
  return events::WriteAll(fd_, "! " + log.level + ": " + log.message + "\n");
}

bool LiveTable::OnError(const events::Error& error) {
  return events::WriteAll(fd_, "! error: " + error.message + "\n");
}

}  // namespace ib::scrape
