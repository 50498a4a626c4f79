// ib-run's whole run: a config turned into phases and child processes, one combined NDJSON
// stream on stdout (docs/ib-run.md, docs/pipeline.md).
//
//   provisioning   ib-provision (runpod), ib-sim on an ephemeral port (provider: local), or
//                  provisioning_skipped (--server-url)
//   model_loading  GET /health until 200, with a log event per attempt; model_loading_done
//   per iteration  sweep_iteration, then ib-scrape + ib-load sharing one --t0-ns
//                  (lib/orchestrate/iteration.h), then the iteration's summary from ib-aggregate
//   cleanup        the server is stopped (or kept), the pod terminated; then done or failed
//
// Every line goes through one ib-aggregate, whose stdout becomes ib-run's stdout.
//
//   RunOptions o; o.config_path = "experiments/examples/sim-smoke.yaml";
//   return ib::orchestrate::Run(o);   // 0 done, 1 failed, 2 bad config, 130 interrupted
#pragma once

#include <unistd.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace ib::config {
struct ExperimentConfig;
}  // namespace ib::config

namespace ib::orchestrate {

struct RunOptions {
  std::string config_path;
  std::string server_url;   // use this server: no provisioning
  std::string name;         // replaces the config's name (run ids, pod name)
  std::string output_dir;   // results directory; default: the config's metrics.output_dir
  std::string fifo_path;    // also copy the stream into this named FIFO
  std::string resume_run_id;  // continue this partial run's remaining requests
  bool confirm = false;     // skip the cost prompt
  bool keep_server = false;  // leave the pod / local ib-sim running at the end
  bool fresh_server = false;  // local: restart ib-sim between iterations (cold prefix cache)
  bool flush_cache = false;   // ask the server to drop its prefix cache between iterations
  bool dry_run = false;
  // --emit k8s: write the Kubernetes Job manifest of the shards (infrastructure.load.launcher
  // k8s) into emit_dir (default: the results directory) and collect the pods that connect.
  std::string emit;
  std::string emit_dir;
  int out_fd = STDOUT_FILENO;
  int err_fd = STDERR_FILENO;
  bool write_stream = true;  // NDJSON to out_fd
  bool progress = false;     // the human display on err_fd
  double health_timeout_s = 0;  // 0: 600 s for a remote server, load time + 120 s for ib-sim
};

// Runs the experiment; returns the exit code. Signals must have been installed
// (StopSignals::Install) for Ctrl-C to stop gracefully.
int Run(const RunOptions& options);

// --dry-run: prints the resolved config, the iterations, the request counts and (runpod) the
// cost estimate to out; diagnostics to err. 0, or 2 for an invalid config.
int DryRun(const RunOptions& options, std::ostream& out, std::ostream& err);
// --emit and infrastructure.load.launcher k8s agree, the manifest directory is writable and
// the collector can bind its address: "" when so, else the error (exit 2).
std::string CheckEmit(const RunOptions& options, const config::ExperimentConfig& config);
// --dry-run --resume: what the resume would send ("Resume: RUN: iteration i/n (name) sends the
// K of N requests not finished"), or "" with *error set when it cannot be resumed.
std::string DescribeResume(const RunOptions& options, const config::ExperimentConfig& config,
                           std::string* error);

}  // namespace ib::orchestrate
