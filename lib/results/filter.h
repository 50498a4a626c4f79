// ib-aggregate's loop: a filter at the end of every pipeline.
//
//   ib::results::FilterOptions options;           // stdin -> stdout
//   options.signal_fd = ib::results::BlockTerminationSignals();
//   return ib::results::RunFilter(options);      // the process exit code
//
// Every input line goes to the output unchanged, in order (bad lines too, each followed by the
// `error` event it caused; an oversized line is replaced by its error event). Events are grouped
// by run_id (lib/results/aggregator.h); when a run ends its file is written atomically and a `summary`
// event (the summary object + result_path, status, stop_reason, results_run_id) follows the
// line that ended it. At EOF or on SIGINT/SIGTERM the runs still open are written as partial.
// Output is written once per input read (a whole batch of lines per write(2)), so a live
// pipeline sees each line as soon as it was read, and a 1M-line replay needs few syscalls.
#pragma once

#include <string>

#include "lib/results/aggregator.h"

namespace ib::results {

struct FilterOptions {
  int in_fd = 0;
  int out_fd = 1;
  std::string source = "stdin";  // names the input in error events
  std::string output_dir;        // empty: the run's experiment.metrics.output_dir, else results/
  AggregateOptions aggregate;
  int signal_fd = -1;  // a signalfd to watch while waiting for input (-1: none)
};

// Returns 0, 1 (a results file or the output could not be written) or 130 (interrupted).
int RunFilter(const FilterOptions& options);

// Blocks SIGINT and SIGTERM for this thread and returns a signalfd that reports them (-1 on
// failure). Call it before starting other threads. Also ignores SIGPIPE so a closed stdout is an
// error to report rather than a silent death.
int BlockTerminationSignals();

}  // namespace ib::results
