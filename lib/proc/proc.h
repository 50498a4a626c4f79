// Child processes: started with argv arrays (never a shell), optionally with pipes, in their
// own process group or not, dying with their parent (PR_SET_PDEATHSIG) unless told otherwise.
//
//   std::string error;
//   auto child = ib::proc::Spawn({.argv = {ib::proc::FindTool("ib-sim"), "--port", "0"}}, &error);
//   if (child) ib::proc::Terminate(child->pid, /*grace_ms=*/2000);   // SIGTERM, then SIGKILL
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ib::proc {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program path
  bool pipe_stdin = false;        // else /dev/null
  bool pipe_stdout = true;        // else inherited
  int stdout_fd = -1;             // when not piped: redirect stdout here (-1: inherit)
  int stderr_fd = -1;             // -1: inherit
  bool new_process_group = false;
  bool die_with_parent = true;    // SIGTERM to the child when the parent thread dies
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) environ
};

struct Child {
  pid_t pid = -1;
  int stdin_fd = -1;   // write end, when piped
  int stdout_fd = -1;  // read end, when piped
};

// On failure returns nullopt and sets *error (for example "cannot execute /x: No such file").
// The exec failure is reported through a close-on-exec pipe, so a missing binary is an error
// here rather than a child exiting 127.
std::optional<Child> Spawn(const SpawnOptions& options, std::string* error);

struct ExitStatus {
  bool exited = false;   // normal exit; code is valid
  int code = 0;
  bool signaled = false;  // killed; signal is valid
  int signal = 0;
  std::string Describe() const;  // "exit 0", "killed by SIGKILL"
};

// Blocks until the child ends. Retries on EINTR.
ExitStatus Wait(pid_t pid);
// Non-blocking: nullopt while the child runs.
std::optional<ExitStatus> TryWait(pid_t pid);
// Sends SIGTERM, waits up to grace_ms, then SIGKILL; returns the exit status.
ExitStatus Terminate(pid_t pid, int grace_ms);

// Finds an ib tool binary ("ib-sim"): $IB_BIN_DIR/NAME, beside this executable, Bazel's layout
// (<self>/../../NAME/NAME and runfiles tools/NAME/NAME), then $PATH. Empty if none is found.
std::string FindTool(const std::string& name);

// Directory of the running executable.
std::string SelfDir();

}  // namespace ib::proc
