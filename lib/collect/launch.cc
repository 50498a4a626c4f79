#include "lib/collect/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "lib/collect/collector.h"
#include "lib/load/interrupt.h"
#include "lib/proc/proc.h"

namespace ib::collect {

namespace {
// A program name without a slash, found on $PATH (Spawn executes paths only).
std::string OnPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}
}  // namespace

Launch::~Launch() {
  for (std::size_t i = 0; i < pids_.size(); ++i)
    if (exit_[i] < 0) proc::Terminate(pids_[i], 2000);
}

std::vector<std::string> Launch::ShardArgv(int k) const {
  std::vector<std::string> argv = o_.argv;
  argv.push_back("--shard");
  // Slurm tells each task its rank; the one srun command line serves them all.
  argv.push_back(o_.launcher == "slurm" ? "slurm" : std::to_string(k) + "/" + std::to_string(o_.shards));
  return argv;
}

bool Launch::Start(std::string* error) {
  if (o_.launcher == "external") return true;
  // The shards' stdout is not the stream (that goes over their connection): keep it off ours.
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::vector<std::vector<std::string>> commands;
  if (o_.launcher == "local") {
    for (int k = 0; k < o_.shards; ++k) commands.push_back(ShardArgv(k));
  } else if (o_.launcher == "slurm") {
    std::vector<std::string> srun = {OnPath(o_.srun), "--ntasks", std::to_string(o_.shards), "--kill-on-bad-exit=0"};
    srun.insert(srun.end(), o_.srun_args.begin(), o_.srun_args.end());
    std::vector<std::string> shard = ShardArgv(0);
    srun.insert(srun.end(), shard.begin(), shard.end());
    commands.push_back(std::move(srun));
  } else {
    *error = "unknown launcher '" + o_.launcher + "' (local, slurm or external)";
    close(devnull);
    return false;
  }
  for (auto& argv : commands) {
    auto child = proc::Spawn({.argv = argv, .pipe_stdout = false, .stdout_fd = devnull,
                              .env = {{"IB_REPORT_TOKEN", o_.token}}},
                             error);
    if (!child) {
      close(devnull);
      return false;
    }
    pids_.push_back(child->pid);
    exit_.push_back(-1);
  }
  close(devnull);
  return true;
}

void Launch::Tick(Collector& collector) {
  if (load::Interrupts() > forwarded_) {
    forwarded_ = load::Interrupts();
    for (std::size_t i = 0; i < pids_.size(); ++i)
      if (exit_[i] < 0) kill(pids_[i], SIGTERM);  // the shards drain and report, as one ib-load does
    // Shards started elsewhere (a Kubernetes Job) cannot be signalled from here: the ones not yet
    // connected are not waited for; the connected ones still report what they sent.
    if (o_.launcher == "external")
      for (int k = 0; k < o_.shards; ++k) collector.DeclareLost(k, "interrupted before this shard connected");
  }
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (exit_[i] >= 0) continue;
    auto st = proc::TryWait(pids_[i]);
    if (!st) continue;
    exit_[i] = st->exited ? st->code : 128 + st->signal;
    std::string what = (o_.launcher == "slurm" ? "srun " : "worker " + std::to_string(i) + " ") + st->Describe();
    if (o_.launcher == "slurm") {
      for (int k = 0; k < o_.shards; ++k) collector.DeclareLost(k, what + " before this shard connected");
    } else {
      collector.DeclareLost(static_cast<int>(i), what + " before connecting");
    }
  }
}

int Launch::Wait() {
  int worst = 0;
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (exit_[i] < 0) {
      proc::ExitStatus st = proc::Wait(pids_[i]);
      exit_[i] = st.exited ? st.code : 128 + st.signal;
    }
    worst = std::max(worst, exit_[i]);
  }
  return worst;
}

}  // namespace ib::collect
