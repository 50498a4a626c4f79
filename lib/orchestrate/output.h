// Where a run's combined stream goes. LineSink is anything that takes whole lines.
//
// StreamOutput is the last stage: it writes each line (plus '\n') to stdout with one write
// loop, copies it into an optional named FIFO, and shows it to observers (the TTY progress
// display, the result-path tracker). It is thread-safe: lines are written whole, one at a time.
//
// AggregateStage puts ib-aggregate in front of it: lines written to the stage go to
// ib-aggregate's stdin, and a relay thread copies ib-aggregate's stdout (the same lines plus
// its `summary` events) to the StreamOutput.
//
//   StreamOutput out(STDOUT_FILENO, "/tmp/ib.fifo");
//   AggregateStage agg(out);
//   if (!agg.Start({FindTool("ib-aggregate"), "--output-dir", "results"}, &error)) ...
//   agg.Write(line); ...; agg.Finish(10000);
#pragma once

#include <sys/types.h>

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lib/proc/proc.h"

namespace ib::orchestrate {

class LineSink {
 public:
  virtual ~LineSink() = default;
  // One line without its trailing newline.
  virtual void Write(std::string_view line) = 0;
};

class StreamOutput : public LineSink {
 public:
  // fifo_path empty: no FIFO copy. The FIFO is created (0600) if missing; a reader may come
  // and go: lines are copied while one is connected (re-checked about once a second).
  StreamOutput(int out_fd, std::string fifo_path = "");
  ~StreamOutput() override;

  // Fails if fifo_path exists and is not a FIFO, or cannot be created.
  bool Open(std::string* error);
  void Write(std::string_view line) override;
  // Called with every line after it was written, under the output lock (keep it short).
  void Observe(std::function<void(std::string_view line)> observer);
  // False once a write to out_fd failed (the reader went away); later lines are dropped.
  bool ok() const;
  int64_t lines_written() const;

 private:
  void WriteFifo(std::string_view data);
  int out_fd_;
  std::string fifo_path_;
  int fifo_fd_ = -1;
  int64_t next_fifo_attempt_ms_ = 0;
  mutable std::mutex mu_;
  bool ok_ = true;
  int64_t lines_ = 0;
  std::vector<std::function<void(std::string_view)>> observers_;
};

class AggregateStage : public LineSink {
 public:
  explicit AggregateStage(LineSink& downstream) : downstream_(downstream) {}
  ~AggregateStage() override;

  // Spawns ib-aggregate (argv[0] its path) with both pipes and starts the relay thread. It
  // runs in its own process group so a terminal's Ctrl-C reaches only ib-run, which ends it
  // by closing its stdin after the last line. Its stderr lines become `log` events (source
  // "ib-aggregate", run id log_run_id) in the stream.
  bool Start(std::vector<std::string> argv, std::string* error, std::string log_run_id = "");
  // Writes to ib-aggregate's stdin. If it died, lines go straight downstream (nothing is lost
  // from the stream; only its results files are).
  void Write(std::string_view line) override;
  // Closes ib-aggregate's stdin (it finalizes open runs at EOF), waits up to wait_ms for it to
  // exit (then SIGTERM, SIGKILL), and joins the relay. Returns its exit status.
  proc::ExitStatus Finish(int wait_ms);
  bool alive() const { return !dead_; }
  // Whether the process has ended (checked without reaping it: Finish still reports how).
  bool exited() const;
  pid_t pid() const { return child_.pid; }

 private:
  LineSink& downstream_;
  proc::Child child_;
  std::thread relay_;
  std::thread stderr_relay_;
  int stderr_fd_ = -1;
  bool dead_ = false;
  bool finished_ = false;
};

}  // namespace ib::orchestrate
