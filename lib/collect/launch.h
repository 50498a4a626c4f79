// Starting the shards of a sharded run (docs/ib-load.md "Sharding"): N local processes
// (`ib-load --workers N`), one `srun -n N` (Slurm), or none (the shards are started elsewhere,
// e.g. a Kubernetes Indexed Job, and only connect). Each shard gets the collector's address on
// its command line and the token in IB_REPORT_TOKEN (never on a command line, which `ps` shows).
//
//   ib::collect::Launch launch({.launcher = "local", .argv = {ib_load, "--config", "x.yaml", ...},
//                               .shards = 4, .token = token});
//   if (!launch.Start(&error)) ...;
//   collector.Run([&](ib::collect::Collector& c) { launch.Tick(c); });
//   int rc = launch.Wait();
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ib::collect {

class Collector;

struct LaunchOptions {
  std::string launcher = "local";       // local | slurm | external
  std::vector<std::string> argv;        // the shard command without --shard
  int shards = 1;
  std::string token;
  std::string srun = "srun";            // slurm: the srun binary
  std::vector<std::string> srun_args;   // slurm: extra srun arguments
};

class Launch {
 public:
  explicit Launch(LaunchOptions options) : o_(std::move(options)) {}
  ~Launch();
  bool Start(std::string* error);
  // Called while collecting: a shard process (or srun) that ended before its shard connected
  // makes that shard lost; interrupts received by this process are passed on (SIGTERM).
  void Tick(Collector& collector);
  // Waits for every process started; returns the worst exit status (0 when all exited 0).
  int Wait();
  // The argv each shard runs (for messages and tests).
  std::vector<std::string> ShardArgv(int k) const;

 private:
  LaunchOptions o_;
  std::vector<pid_t> pids_;   // local: one per shard; slurm: srun
  std::vector<int> exit_;     // -1 while running
  int forwarded_ = 0;
};

}  // namespace ib::collect
