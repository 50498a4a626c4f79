// ib-sim: a simulated vLLM / SGLang server on 127.0.0.1. See docs/ib-sim.md.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "lib/cli/exit_codes.h"
#include "lib/cli/flags.h"
#include "lib/sim/server.h"

int main(int argc, char** argv) {
  ib::sim::Options o;
  // The preset is applied before the flags are declared, so explicit flags override it.
  std::string preset, error;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--preset" && i + 1 < argc) preset = argv[i + 1];
    else if (a.rfind("--preset=", 0) == 0) preset = a.substr(9);
  }
  if (!preset.empty() && !ib::sim::ApplyPreset(preset, &o, &error)) {
    std::fprintf(stderr, "ib-sim: error: %s\n", error.c_str());
    return ib::exit_code::kUsage;
  }
  ib::cli::Flags flags("ib-sim", "a simulated vLLM / SGLang inference server on 127.0.0.1");
  std::string framework = "vllm", model;
  int64_t seed = 1;
  bool die_with_parent = false, no_prefix_caching = false;
  flags.String("framework", &framework, "server personality: vllm | sglang");
  flags.Bool("vllm-v0", &o.vllm_v0, "vLLM V0 metric names (gpu_cache_usage_perc, ...)");
  flags.String("preset", &preset, "model/GPU shape (qwen3-0.6b-rtx4000, llama-3.1-8b-a100, llama-3.1-70b-h100x4, tiny-fast)");
  flags.String("model", &model, "served model name (default: the preset's)");
  flags.Double("speed", &o.speed, "time runs this many times faster than the preset says");
  flags.Int("seed", &seed, "seed for token text, output lengths and faults");
  flags.Bool("deterministic", &o.deterministic, "fixed TTFT and inter-token interval, no queueing");
  flags.Double("ttft-ms", &o.ttft_ms, "deterministic mode: time to first token");
  flags.Double("itl-ms", &o.itl_ms, "deterministic mode: interval between tokens");
  flags.Int("max-num-seqs", &o.max_num_seqs, "at most this many sequences run at once (default: preset)");
  flags.Int("kv-blocks", &o.kv_blocks, "KV cache size in blocks of 16 tokens (default: preset)");
  flags.Double("step-base-ms", &o.step_base_ms, "decode step time with one sequence (default: preset)");
  flags.Double("step-per-seq-ms", &o.step_per_seq_ms, "decode step time added per running sequence");
  flags.Double("prefill-ms-per-token", &o.prefill_ms_per_token, "prefill time per uncached prompt token");
  flags.Bool("no-prefix-caching", &no_prefix_caching, "disable the prefix cache");
  flags.Int("default-max-tokens", &o.default_max_tokens, "max_tokens when a request gives none");
  flags.Double("output-len-mean", &o.output_len_mean, "mean of a seeded output length (EOS) capped by max_tokens; 0: always max_tokens");
  flags.Int("tokens-per-chunk", &o.tokens_per_chunk, "tokens per SSE event (SGLang --stream-interval, batched flushes)");
  flags.Bool("speculative", &o.speculative, "each event carries a seeded random 1..K tokens (K = --tokens-per-chunk)");
  flags.Int("port", &o.port, "TCP port on 127.0.0.1 (0: ephemeral)");
  flags.String("port-file", &o.port_file, "write the real port here (atomically) once listening");
  flags.String("truth", &o.truth_file, "write one NDJSON line per request with server timestamps");
  flags.Double("load-time-s", &o.load_time_s, "/health answers 503 for this long after start");
  flags.Int("threads", &o.threads, "Civetweb worker threads (one per open connection)");
  flags.String("writer", &o.writer, "scheduler (one thread writes all streams) | handler (thread per stream; deterministic only)");
  flags.Int("rt-priority", &o.rt_priority, "run the scheduler thread SCHED_FIFO at this priority (0: off)");
  flags.Bool("die-with-parent", &die_with_parent, "exit when the parent process dies");
  flags.Double("fault-500-rate", &o.faults.error_500_rate, "fraction of requests answered HTTP 500");
  flags.Double("fault-429-rate", &o.faults.error_429_rate, "fraction of requests answered HTTP 429");
  flags.Double("fault-midstream-error-rate", &o.faults.midstream_error_rate, "fraction of streams ended by an SSE error event");
  flags.Double("fault-drop-rate", &o.faults.drop_rate, "fraction of streams whose connection is dropped");
  flags.Double("fault-stall-rate", &o.faults.stall_rate, "fraction of streams that stall mid-way");
  flags.Double("fault-stall-s", &o.faults.stall_s, "length of a stall");
  flags.Double("fault-malformed-rate", &o.faults.malformed_rate, "fraction of streams with one malformed chunk");
  flags.Int("fault-after-tokens", &o.faults.after_tokens, "mid-stream faults hit before this token index");
  flags.Double("fault-metrics-gone-after-s", &o.faults.metrics_gone_after_s, "/metrics answers 404 after this many seconds (-1: never)");
  flags.Double("fault-health-delay-ms", &o.faults.health_delay_ms, "every /health answer is delayed this long");
  flags.Epilog(
      "examples:\n"
      "  ib-sim --preset llama-3.1-8b-a100 --port 8000\n"
      "  ib-sim --framework sglang --deterministic --ttft-ms 50 --itl-ms 20 --port 0 --port-file /tmp/p\n"
      "exit codes: 0 stopped by SIGINT/SIGTERM, 1 cannot serve, 2 bad usage\n");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (!model.empty()) o.model = model;
  if (framework == "sglang") o.framework = ib::sim::Framework::kSglang;
  else if (framework != "vllm") {
    std::fprintf(stderr, "ib-sim: error: --framework must be vllm or sglang, not \"%s\"\n", framework.c_str());
    return ib::exit_code::kUsage;
  }
  o.seed = static_cast<uint64_t>(seed);
  o.prefix_caching = !no_prefix_caching;
  if (!ib::sim::Validate(o, &error)) {
    std::fprintf(stderr, "ib-sim: error: %s\n", error.c_str());
    return ib::exit_code::kUsage;
  }
  if (die_with_parent) {
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return ib::exit_code::kOk;  // the parent is already gone
  }
  // Signals are taken synchronously by sigwait below; every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ib::sim::Server server(o);
  if (!server.Start(&error)) {
    std::fprintf(stderr, "ib-sim: error: %s\n", error.c_str());
    return ib::exit_code::kFailed;
  }
  std::fprintf(stderr, "ib-sim: listening on http://127.0.0.1:%d\n", server.port());
  int sig = 0;
  sigwait(&set, &sig);
  // Civetweb's own shutdown takes ~2 s; the process is exiting, so only the streams and the
  // truth file need an orderly end.
  server.Stop(/*stop_http=*/false);
  std::fflush(nullptr);
  _exit(ib::exit_code::kOk);
}
