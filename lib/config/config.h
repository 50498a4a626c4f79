// Experiment configs: the original llm-inf-bench YAML schema (every key of its examples loads
// unchanged) plus ib's additions (local provider, open-loop rates, warmup, timeouts, synthetic
// prompts, SLOs, percentiles). docs/config.md documents every key.
//
// Loading: YAML -> extends chain (any depth, cycles detected, maps merged deeply, lists
// replaced, relative paths resolved from the file that wrote them) -> typed fields ->
// validation that collects every problem with its FILE:LINE.
//
//   ib::config::LoadResult r = ib::config::LoadExperiment("experiments/examples/sim-demo.yaml");
//   if (!r.ok()) { for (const auto& d : r.diagnostics) std::cerr << d.Format("ib-run") << "\n"; return 2; }
//   for (const ib::config::Iteration& it : ib::config::ExpandSweep(*r.config))
//     Run(it.name, it.config);                      // "sim-demo-c4", "sim-demo-c16", ...
//   nlohmann::json experiment = ib::config::ToJson(*r.config);  // the results file's "experiment"
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/prompts/sharegpt.h"
#include "lib/trace/trace.h"

namespace ib::config {

struct Diagnostic {
  std::string file;  // the YAML file the offending key came from (after extends)
  int line = 0;      // 1-based; 0 when unknown
  std::string message;
  // "ib-run: error (at FILE:LINE): MESSAGE"
  std::string Format(const std::string& tool) const;
};

struct Distribution {  // token-length distribution for synthetic prompts
  double mean = 0;
  double stddev = 0;
  int64_t min = 1;
  int64_t max = 0;  // 0: no upper bound
};

struct SimOptions {  // infrastructure.sim, used when provider is "local"
  std::string preset = "qwen3-0.6b-rtx4000";
  double speed = 1.0;  // >1 runs the model faster than real time
  int64_t seed = 1;
  double load_time_s = 0;  // how long /health answers 503 ("loading the model")
  std::vector<std::string> args;  // extra ib-sim flags, passed through
};

struct ExperimentConfig {
  std::string source_file;  // absolute path of the file that was loaded
  std::string name;
  std::optional<std::string> description;

  struct Model {
    std::string name;
    std::optional<std::string> quantization;
  } model;

  std::string framework;  // "vllm" | "sglang"

  struct FrameworkOptions {
    std::optional<int64_t> max_model_len;
    double gpu_memory_utilization = 0.9;
    std::optional<bool> enable_prefix_caching;
    std::optional<int64_t> tensor_parallel_size;  // default: gpu_count
    std::vector<std::string> extra_args;
  } framework_options;

  struct Infrastructure {
    std::string provider = "runpod";  // "runpod" | "local"
    std::string gpu_type = "A100-80GB";
    int64_t gpu_count = 1;
    std::string cloud_type = "community";  // "community" | "secure"
    std::optional<int64_t> container_disk_gb;  // default: sized from the model
    SimOptions sim;
    // Where ib-load's shards run (docs/ib-load.md "Sharding"): local processes
    // (workload.workers) or `srun --ntasks tasks [srun_args]`; the collector listens on
    // `collector` (HOST:PORT; 127.0.0.1:0 by default: set this host's address for other nodes).
    // k8s: `ib-run --emit k8s` writes an Indexed Job manifest of `tasks` pods (lib/collect/k8s.h)
    // and the collector waits for them; `advertise` is the address the pods connect to.
    struct Load {
      std::string launcher = "local";  // local | slurm | k8s
      std::optional<int64_t> tasks;    // slurm, k8s: shards
      std::vector<std::string> srun_args;
      std::string collector = "127.0.0.1:0";
      std::string advertise;  // HOST or HOST:PORT the shards connect to; "": the collector's
      struct K8s {
        std::string image = "ib:latest";  // built from deploy/k8s/Dockerfile
        std::string namespace_ = "default";
        std::string cpu = "1", memory = "1Gi";  // requests
        std::string cpu_limit, memory_limit;    // "": the request
        double start_delay_s = 120;  // the shards start this long after the manifest is written
      } k8s;
      bool set = false;  // the block was given (ToJson writes it only then)
    } load;
  } infrastructure;

  struct Workload {
    std::string type;  // single | batch | concurrent | multi_turn | rate | trace
    std::string endpoint = "chat";  // chat (/v1/chat/completions) | completions (/v1/completions)

    struct Requests {
      std::string source;  // absolute path of a JSONL or ShareGPT file; empty when synthetic
      int64_t count = 0;
      // "" (detected by shape: a JSON array is ShareGPT, else JSONL) | "jsonl" | "sharegpt".
      std::string format;
      // ShareGPT: the first gpt answer's length (words) as each prompt's max_tokens (vLLM's rule).
      bool output_len_from_dataset = false;
      // ShareGPT length filters, in words (vLLM's defaults): entries whose prompt is under 4 or
      // over max_prompt_tokens, or whose prompt + answer is over max_total_tokens, are skipped.
      int64_t max_prompt_tokens = 1024;
      int64_t max_total_tokens = 2048;
      struct Synthetic {
        Distribution input_tokens{256, 0, 1, 0};  // with shared_prefix: the suffix after the prefix
        Distribution output_tokens{128, 0, 1, 0};
        int64_t seed = 1;
        // Prompt families: request i belongs to one family and starts with its exact prefix text.
        struct SharedPrefix {
          int64_t families = 1;
          int64_t prefix_tokens = 0;  // words, as input_tokens
          std::string assign = "round_robin";  // round_robin | random (seeded by seed)
        };
        std::optional<SharedPrefix> shared_prefix;
      };
      std::optional<Synthetic> synthetic;
    } requests;

    struct Parameters {
      int64_t max_tokens = 256;
      double temperature = 0.7;
      bool ignore_eos = false;
    } parameters;

    std::optional<int64_t> batch_size;
    std::optional<int64_t> concurrency;

    // Open-loop arrivals (type "rate"): request_rate requests/s with the given process.
    std::optional<double> request_rate;
    std::string arrival = "poisson";  // constant | poisson | gamma
    double burstiness = 1.0;         // gamma shape; 1.0 is Poisson
    int64_t seed = 1;

    // Ramps (docs/config.md "Ramps"): rate_ramp replaces request_rate (type rate),
    // concurrency_ramp replaces concurrency (type concurrent).
    struct RateRamp {
      double from = 0, to = 0, over_s = 0;
      std::string shape = "linear";  // linear | exponential
    };
    std::optional<RateRamp> rate_ramp;
    struct ConcurrencyRamp {
      int64_t from = 1, to = 1;
      double over_s = 0;
    };
    std::optional<ConcurrencyRamp> concurrency_ramp;
    // Type trace: the requests, their instants and lengths come from a trace file (file is
    // absolute after loading); loading reads the replayed window once and sets requests.count.
    std::optional<trace::Options> trace;

    std::optional<double> duration_s;  // stop sending after this long (instead of count)
    int64_t warmup_requests = 0;
    double timeout_s = 600;       // whole request
    double idle_timeout_s = 120;  // no bytes on a stream for this long
    // Local shard processes of ib-load (docs/ib-load.md "Sharding"); 0 = auto; unset: one.
    std::optional<int64_t> workers;

    struct Conversation {
      int64_t turns = 1;
      std::optional<std::string> system_prompt;
      std::optional<std::vector<std::string>> user_messages;
      std::optional<std::string> shared_prefix;
    };
    std::optional<Conversation> conversation;

    // Field name -> values. Any numeric workload field: concurrency, batch_size, request_rate,
    // max_tokens, temperature, burstiness, count, warmup_requests, duration_s.
    std::vector<std::pair<std::string, std::vector<double>>> sweep;

    // workload.search: the largest value of `over` whose probes meet every SLO
    // (docs/config.md "Capacity search").
    struct Search {
      std::string over;  // request_rate (type rate) | concurrency (type concurrent)
      struct Slo {
        std::string metric;      // a name of lib/stats/slo_metrics.h: "ttft_ms"
        std::string percentile;  // "p99" | ... | "mean"
        double bound_ms = 0;
      };
      std::vector<Slo> slo;
      std::optional<double> goodput_frac;  // share of requests meeting metrics.goodput, (0, 1]
      std::optional<double> min;  // default: 1 (concurrency) or 0.5 req/s
      std::optional<double> max;  // default: found by a saturation probe
      double precision_pct = 5;
      int64_t max_probes = 12;
      struct Probe {
        std::optional<double> duration_s;
        std::optional<int64_t> count;
        std::optional<int64_t> repeats;  // default: workload.repeats
      } probe;
      // Stop a probe once its verdict is certainly a fail (docs/config.md "Capacity search").
      bool early_stop = true;
      bool fresh_prompts = true;  // each probe draws its own prompts (no warm prefix cache)
    };
    std::optional<Search> search;
    // Runs per iteration (docs/config.md "Repeats"); a search's probes take probe.repeats.
    int64_t repeats = 1;
  } workload;

  struct Metrics {
    bool collect_gpu_metrics = true;
    int64_t sample_interval_ms = 100;
    std::string output_dir = "results/";  // relative to the working directory, as the original
    std::vector<double> percentiles = {50, 90, 95, 99};
    struct Goodput {  // a request is "good" when it meets every SLO that is set
      // Keys: the per-request metrics of lib/stats/slo_metrics.h (e2e_ms is stored as
      // e2e_latency_ms, its older name).
      std::optional<double> ttft_ms;
      std::optional<double> tpot_ms;
      std::optional<double> e2e_latency_ms;
      std::optional<double> ttft_intended_ms;
      std::optional<double> e2e_intended_ms;
    } goodput;
  } metrics;

  // Requests one iteration sends (conversations x turns for multi_turn), excluding warmup.
  int64_t TotalRequests() const;
};

// One run of a sweep: the variation's config with the swept values applied.
struct Iteration {
  int index = 0;  // 1-based
  int total = 1;
  std::string name;  // "<name>-c4-b8"; the plain name when there is no sweep
  nlohmann::json params = nlohmann::json::object();  // {"concurrency": 4, ...}
  ExperimentConfig config;
};

struct LoadResult {
  std::optional<ExperimentConfig> config;  // set only when there are no diagnostics
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return config.has_value(); }
};

// Loads, resolves extends, validates, and checks that prompt files exist and parse.
LoadResult LoadExperiment(const std::string& path);
// Same, from YAML text (for tests and the dashboard); `path` names it in diagnostics and is
// the base for relative paths.
LoadResult LoadExperimentFromString(const std::string& yaml, const std::string& path);

std::vector<Iteration> ExpandSweep(const ExperimentConfig& config);

// Probe `index` (1-based) of a workload.search at `value` of search.over: named
// "<name>-p<index>-<abbrev><value>", with the probe's count or duration and, with
// fresh_prompts, its own synthetic-prompt seed (seed + index - 1), so every probe is
// reproducible and none re-sends another's prompts. `total` is search.max_probes.
Iteration ProbeIteration(const ExperimentConfig& config, int index, double value);

// Whether workload.requests.source is a ShareGPT dataset (format: sharegpt, or detected by
// shape when format is unset), and the reader options its keys ask for.
bool IsShareGpt(const ExperimentConfig::Workload& w);
prompts::ShareGptOptions ShareGptOptionsOf(const ExperimentConfig::Workload& w);

// The resolved config in the original tool's results-JSON shape ("experiment" key), plus
// ib's additional keys.
nlohmann::json ToJson(const ExperimentConfig& config);

}  // namespace ib::config
