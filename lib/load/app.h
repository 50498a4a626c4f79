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
  std::string endpoint = "/v1/chat/completions";
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
  // CLOCK_REALTIME ns at which the measured phase starts; also the run clock origin unless
  // --t0-ns is given. -1: start when ready.
  int64_t start_at_ns = -1;
};

int RunIbLoad(const Options& options, int out_fd);

}  // namespace ib::load
