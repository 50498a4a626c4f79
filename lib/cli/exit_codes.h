// The exit codes of every ib tool (docs/pipeline.md, "Exit codes").
//
//   if (!config) return ib::exit_code::kUsage;                      // 2
//   return interrupted ? ib::exit_code::kInterrupted : ib::exit_code::kOk;
//
// SIGINT/SIGTERM: a tool with a job to finish (ib-run, ib-load, ib-aggregate, ib-provision) exits
// kInterrupted when a signal cut the job short; a tool that runs until it is told to stop
// (ib-sim, ib-scrape, ib-dash) exits kOk, since stopping is its normal end.
#pragma once

namespace ib::exit_code {

inline constexpr int kOk = 0;
inline constexpr int kFailed = 1;       // the run or operation failed
inline constexpr int kUsage = 2;        // bad usage, config or input; nothing was done
inline constexpr int kInterrupted = 130;  // 128 + SIGINT, as shells report it

}  // namespace ib::exit_code
