// ib-load as a library call: the tool's main parses flags into Options and calls RunIbLoad,
// which emits the NDJSON stream (docs/pipeline.md) on out_fd and returns the exit code:
// 0 the workload ran to its end, 1 it stopped early (circuit breaker, nothing succeeded, output
// closed), 2 bad usage or config, 130 interrupted.
//
//   ib::load::Options o;   // filled from flags by tools/ib-load/main.cc
//   return ib::load::RunIbLoad(o, STDOUT_FILENO);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ib::load {

struct Options {
  std::string server_url;
  // Path of the streaming endpoint; empty: the workload's (/v1/chat/completions, or
  // /v1/completions for workload.endpoint: completions).
  std::string endpoint;
  std::string config_path;  // empty: ad-hoc flags
  int64_t iteration = 0;    // with a config: run only this iteration (1-based); 0: all
  // Ad-hoc workload (also overrides of a config where marked "set").
  std::string model;
  std::string framework = "vllm";
  std::string workload = "single";
  int64_t concurrency = 0;
  int64_t batch_size = 0;
  int64_t count = 10;
  double request_rate = 0;
  std::string arrival = "poisson";
  double burstiness = 1;
  int64_t seed = 1;
  int64_t max_tokens = 256;
  double temperature = 0.7;
  bool ignore_eos = false;
  std::string prompts_path;  // empty: synthetic prompts
  int64_t input_tokens = 128;  // synthetic prompt length (words)
  int64_t turns = 3;           // multi_turn with synthetic prompts
  // Run identity and clocks.
  std::string run_id;   // empty: <name>-YYYYMMDD-HHMMSS
  int64_t t0_ns = -1;   // -1: ib-load's own start
  int64_t t0_realtime_ns = -1;  // the origin as a CLOCK_REALTIME instant (a shard on another machine)
  std::vector<std::string> meta;  // key=value, added to the execution event's metadata
  // Overrides (negative: not given).
  int64_t warmup = -1;
  double timeout_s = -1;
  double idle_timeout_s = -1;
  double duration_s = -1;
  double drain_timeout_s = 2;
  // "0-9,12,15": send only these request numbers of the measured phase (ib-run --resume).
  std::string only_requests;
  // "K:VALUE": run probe K of the config's workload.search at VALUE (config::ProbeIteration)
  // instead of its sweep iterations (ib-run's capacity search).
  std::string probe;
  // Sharding (lib/load/shard.h, docs/ib-load.md "Sharding"). "K/N": run shard K of N.
  std::string shard;
  // When the measured phase starts: "NS" (CLOCK_REALTIME ns) or "mono:NS" (CLOCK_MONOTONIC ns,
  // shards on one machine: exact); also the run clock origin unless --t0-ns is given. Empty:
  // start when ready.
  std::string start_at;
  // "HOST:PORT": stream the events to this collector instead of stdout (token in IB_REPORT_TOKEN).
  std::string report_to;
  // "N" or "auto": run N local shard processes and collect them (lib/collect).
  std::string workers;
  // infrastructure.load.launcher k8s: the directory the Job manifest is written to ("": ".").
  std::string emit_dir;
  // The command line as given (argv[1..]): the shards a coordinator starts run it again.
  std::vector<std::string> args;
};

int RunIbLoad(const Options& options, int out_fd);

}  // namespace ib::load
