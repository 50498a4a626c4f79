// The Kubernetes launcher of a sharded run (docs/ib-load.md "Running shards on Kubernetes"):
// instead of starting the shards, the collector writes an Indexed Job manifest that starts them
// as pods, and waits for them to connect. One YAML stream of three documents (each written as
// JSON, which YAML reads as is):
//   Secret     <job>-collector: the collector's address (report_to) and the run's token
//   ConfigMap  <job>-files: the config, its extends parents and its data files, each mounted
//              (subPath) at its own absolute path, so the shard command runs unchanged
//   Job        <job>: completionMode Indexed, completions = parallelism = N, backoffLimit 0,
//              restartPolicy Never; pod K runs the shard command with `--shard index/N` (K from
//              JOB_COMPLETION_INDEX) and `--report-to $(IB_REPORT_TO)`; the token reaches it as
//              IB_REPORT_TOKEN from the Secret, never in the Job.
//
//   K8sJob job{.run_id = id, .shards = 4, .load = config.infrastructure.load, .argv = shard_argv,
//              .token = token, .report_to = "10.0.0.5:7000", .files = ConfigFiles(path, config)};
//   std::string yaml = K8sManifest(job, &error);   // "" and *error when it cannot be written
#pragma once

#include <string>
#include <vector>

#include "lib/config/config.h"

namespace ib::collect {

struct K8sJob {
  std::string run_id;
  int shards = 1;
  config::ExperimentConfig::Infrastructure::Load load;  // image, namespace, resources
  // The shard command as a local shard runs it (argv[0] the ib-load binary), with
  // --report-to ADDR and without --shard.
  std::vector<std::string> argv;
  std::string token;
  std::string report_to;           // the address the pods connect to
  std::vector<std::string> files;  // absolute paths shipped in the ConfigMap
};

// A ConfigMap holds at most 1 MiB; the files must fit with room for the object itself.
constexpr std::size_t kMaxConfigMapBytes = 1000000;

// The Job's name: "ib-" + the run id made a DNS-1123 label (lowercase, [a-z0-9-], at most 52
// characters so that "-collector" and "-files" still fit 63).
std::string K8sJobName(const std::string& run_id);

// The manifest (Secret, ConfigMap, Job); "" with *error when a file cannot be read, is not
// UTF-8, or the files do not fit a ConfigMap.
std::string K8sManifest(const K8sJob& job, std::string* error);

// The files a shard needs to load `config_path`: the file itself, its extends parents, the
// requests source and the trace file (absolute paths, each once).
std::vector<std::string> ConfigFiles(const std::string& config_path, const config::ExperimentConfig& config);

// The address given to the pods: `advertise` (HOST or HOST:PORT; without a port, the port the
// collector bound), else the collector's own host and bound port.
std::string AdvertisedAddress(const config::ExperimentConfig::Infrastructure::Load& load, const std::string& bound_host,
                              int bound_port);

}  // namespace ib::collect
