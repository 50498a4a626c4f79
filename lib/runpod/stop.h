// A stop request that signal handlers, a stdin watcher and write failures can all raise, and
// that waits can be woken by: a self-pipe, so every sleep in the provisioner is interruptible.
//
//   ib::runpod::StopToken stop;
//   ib::runpod::InstallStopSignals(&stop);   // SIGINT, SIGTERM, SIGHUP; SIGPIPE ignored
//   ib::runpod::WatchStdinForEof(&stop);     // a thread: EOF (or error) on fd 0 requests a stop
//   while (!stop.WaitFor(1000)) { ... }
#pragma once

#include <atomic>
#include <string>

namespace ib::runpod {

class StopToken {
 public:
  static constexpr int kEof = -1;      // stdin reached end of file
  static constexpr int kBrokenPipe = -2;  // stdout's reader went away
  StopToken();
  ~StopToken();
  StopToken(const StopToken&) = delete;
  StopToken& operator=(const StopToken&) = delete;
  // Async-signal-safe. The first reason wins.
  void Request(int reason);
  bool stopped() const { return reason_.load() != 0; }
  int reason() const { return reason_.load(); }
  // Sleeps up to ms (or until a stop); returns stopped().
  bool WaitFor(int ms) const;
  // "SIGINT", "SIGTERM", "end of stdin", ...
  std::string Describe() const;

 private:
  std::atomic<int> reason_{0};
  int pipe_[2] = {-1, -1};
};

// Routes SIGINT/SIGTERM/SIGHUP to token->Request(signal) and ignores SIGPIPE (a write to a
// closed stdout then fails with EPIPE instead of killing the process before teardown).
void InstallStopSignals(StopToken* token);
// Starts a detached thread that reads fd 0 to its end and then requests kEof.
void WatchStdinForEof(StopToken* token);
// PR_SET_PDEATHSIG(SIGTERM): the parent's death is a SIGTERM, hence a stop and a teardown.
// Returns false when the parent is already gone (then stop at once).
bool StopWhenParentDies();

}  // namespace ib::runpod
