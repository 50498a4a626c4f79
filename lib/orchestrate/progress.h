// The human view of a run on a terminal's stderr: one line per phase, a progress bar with live
// TTFT and output throughput while an iteration runs, warnings, and a summary table per
// iteration. It reads the same final stream that goes to stdout, so it shows exactly what the
// NDJSON says. Thread-safe (lines arrive on ib-aggregate's relay thread).
//
//   Progress p(STDERR_FILENO);
//   out.Observe([&](std::string_view line) { p.Observe(line); });
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ib::orchestrate {

class Progress {
 public:
  explicit Progress(int fd) : fd_(fd) {}
  void Observe(std::string_view line);
  // A line of ib-run's own (a search's probe verdicts), printed like a phase line.
  void Line(const std::string& text);
  // Ends a bar still on screen.
  void Finish();

  // The summary table of one `summary` event's data (exposed for tests).
  static std::string SummaryTable(const std::string& run_id, const nlohmann::json& data);
  // "[#####-----]  12/60  TTFT 123 ms  456 tok/s  3.2 s" (exposed for tests).
  std::string BarLine() const;

 private:
  void Print(const std::string& text);  // a permanent line (clears the bar first)
  void DrawBar(bool force);

  int fd_;
  std::mutex mu_;
  bool bar_shown_ = false;
  int64_t total_ = 0;
  int64_t done_ = 0;
  int64_t failed_ = 0;
  double ttft_sum_ms_ = 0;
  int64_t ttft_n_ = 0;
  int64_t tokens_ = 0;
  std::chrono::steady_clock::time_point started_{};
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace ib::orchestrate
