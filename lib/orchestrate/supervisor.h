// The supervisor of a pipeline's children: spawns them with lib/proc argv arrays, reads one
// pipe per child in a poll loop, cuts the bytes into whole lines and hands each line to that
// child's handler in arrival order, and reaps every child.
//
//   Supervisor sup;
//   auto id = sup.Start("ib-load", options, [&](Supervisor::ChildId, std::string line) {
//     sink.Write(line);
//   }, &error);
//   while (!sup.Finished(*id)) sup.Pump(100);
//
// A handler may Pause() its own child (for example to hold back a line until another child
// has drained); no further line of that child is delivered until Resume(), even lines already
// read into its buffer. A line longer than events::kMaxLineBytes is replaced by an `error`
// event naming the child and the line number. A last line without a newline is delivered
// as is at end of stream.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/proc/proc.h"

namespace ib::orchestrate {

class Supervisor {
 public:
  using ChildId = int;
  using LineHandler = std::function<void(ChildId, std::string line)>;

  Supervisor();
  ~Supervisor();  // SIGKILLs and reaps every child still running
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts a child. options.pipe_stdout is forced on (its lines go to handler). With a
  // stderr_handler the child's stderr is a second pipe whose lines go there (never held by
  // Pause); without one it goes where options.stderr_fd says. Returns nullopt and sets
  // *error on failure.
  std::optional<ChildId> Start(std::string name, proc::SpawnOptions options, LineHandler handler,
                               std::string* error, LineHandler stderr_handler = nullptr);

  // Waits up to timeout_ms for output, exits or a wake-up (WakeOn fds), delivers every whole
  // line that arrived and reaps exited children. Returns early after any of those.
  void Pump(int timeout_ms);
  // Pumps until done() is true or timeout_ms passed (negative: no limit), and until no stop is
  // requested by stop() (when given; it is polled between pumps). Returns done().
  bool PumpUntil(const std::function<bool()>& done, int timeout_ms,
                 const std::function<bool()>& stop = nullptr);

  // poll() also returns when this fd is readable (a signal self-pipe). The fd is not read.
  void WakeOn(int fd) { wake_fd_ = fd; }

  void Pause(ChildId id);
  void Resume(ChildId id);

  // Every pipe reached end of stream and every line of it was delivered.
  bool Drained(ChildId id) const;
  // The process was reaped.
  bool Exited(ChildId id) const;
  // Drained and exited.
  bool Finished(ChildId id) const { return Drained(id) && Exited(id); }
  std::optional<proc::ExitStatus> Status(ChildId id) const;

  // Sends a signal (no-op once reaped).
  void Signal(ChildId id, int sig);
  // SIGTERM, pump for up to grace_ms (less once hurry() turns true), then SIGKILL, then pump
  // until finished. Lines written before the child died are still delivered.
  proc::ExitStatus Stop(ChildId id, int grace_ms, const std::function<bool()>& hurry = nullptr);
  // Pumps until the child finishes; SIGTERM after wait_ms, SIGKILL grace_ms later.
  proc::ExitStatus Await(ChildId id, int wait_ms, int grace_ms);

  const std::string& Name(ChildId id) const;
  pid_t Pid(ChildId id) const;
  // The write end of the child's stdin (options.pipe_stdin), -1 otherwise or once closed.
  int StdinFd(ChildId id) const;
  void CloseStdin(ChildId id);
  // Ids of children not yet finished.
  std::vector<ChildId> Running() const;

 private:
  struct Stream;
  struct ChildState;
  ChildState& At(ChildId id);
  const ChildState& At(ChildId id) const;
  void ReadFrom(Stream& stream);
  void Deliver(ChildState& child, Stream& stream);
  void ReapAll();

  std::vector<std::unique_ptr<ChildState>> children_;
  int wake_fd_ = -1;
};

}  // namespace ib::orchestrate
