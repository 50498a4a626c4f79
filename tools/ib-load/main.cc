// ib-load: drives a streaming workload against an OpenAI-compatible server and emits one
// request_complete event per request (docs/ib-load.md).
#include <unistd.h>

#include "lib/cli/flags.h"
#include "lib/load/app.h"

int main(int argc, char** argv) {
  ib::load::Options o;
  ib::cli::Flags flags("ib-load", "streams a workload to an OpenAI-compatible server; NDJSON events on stdout");
  flags.String("server-url", &o.server_url, "base URL of the server, e.g. http://127.0.0.1:8000", true);
  flags.String("config", &o.config_path, "experiment YAML (instead of the ad-hoc workload flags)");
  flags.Int("iteration", &o.iteration, "with --config: run only this sweep iteration (1-based); default all");
  flags.String("endpoint", &o.endpoint, "path of the streaming endpoint (default /v1/chat/completions; /v1/completions sends prompt strings)");
  flags.String("model", &o.model, "model name sent in each request");
  flags.String("framework", &o.framework, "vllm | sglang (reported in the metadata)");
  flags.String("workload", &o.workload, "single | batch | concurrent | multi_turn | rate");
  flags.Int("concurrency", &o.concurrency, "requests in flight (concurrent; cap for rate; parallel conversations)");
  flags.Int("batch-size", &o.batch_size, "requests per batch (batch)");
  flags.Int("count", &o.count, "requests to send (multi_turn: conversations); 0 with --duration-s: unbounded");
  flags.Double("request-rate", &o.request_rate, "requests per second (rate)");
  flags.String("arrival", &o.arrival, "constant | poisson | gamma (rate)");
  flags.Double("burstiness", &o.burstiness, "gamma shape: 1 is Poisson, < 1 burstier (rate)");
  flags.Int("seed", &o.seed, "seed of the arrival schedule and synthetic prompts");
  flags.Int("max-tokens", &o.max_tokens, "max_tokens of each request");
  flags.Double("temperature", &o.temperature, "sampling temperature");
  flags.Bool("ignore-eos", &o.ignore_eos, "ask the server to generate exactly max_tokens");
  flags.String("prompts", &o.prompts_path, "JSONL prompt file (the original's format); default: synthetic");
  flags.Int("input-tokens", &o.input_tokens, "length of synthetic prompts, in words");
  flags.Int("turns", &o.turns, "turns per conversation (multi_turn with synthetic prompts)");
  flags.String("run-id", &o.run_id, "run id of the events (default: <name>-YYYYMMDD-HHMMSS)");
  flags.Int("t0-ns", &o.t0_ns, "run clock origin, CLOCK_MONOTONIC ns (default: ib-load's start)");
  flags.List("meta", &o.meta, "key=value added to the execution event's metadata (repeatable)");
  flags.Int("warmup", &o.warmup, "warmup requests, sent first and flagged warmup:true");
  flags.Double("timeout-s", &o.timeout_s, "whole-request timeout (default 600)");
  flags.Double("idle-timeout-s", &o.idle_timeout_s, "per-stream timeout without bytes (default 120)");
  flags.Double("duration-s", &o.duration_s, "stop sending after this many seconds");
  flags.Double("drain-timeout-s", &o.drain_timeout_s, "after Ctrl-C, how long in-flight requests may finish");
  flags.String("only-requests", &o.only_requests,
               "send only these request numbers, e.g. 3,7-99 (resuming a partial run; not multi_turn)");
  flags.String("probe", &o.probe, "K:VALUE: with --config, run probe K of its workload.search at VALUE (ib-run's search)");
  flags.String("shard", &o.shard, "K/N: run shard K of N of the workload (arrivals/requests i = K mod N; docs/ib-load.md)");
  flags.String("start-at", &o.start_at, "NS (CLOCK_REALTIME) or mono:NS: when the measured phase starts (shards start together)");
  flags.Int("t0-realtime-ns", &o.t0_realtime_ns, "run clock origin as CLOCK_REALTIME ns (shards on other machines)");
  flags.String("report-to", &o.report_to, "HOST:PORT: stream the events to this collector (token in $IB_REPORT_TOKEN)");
  flags.String("workers", &o.workers, "N | auto: run N local shard processes and merge their streams");
  flags.String("emit-dir", &o.emit_dir, "DIR: infrastructure.load.launcher k8s: write the Job manifest here (default .)");
  flags.Epilog(
      "Example:\n  ib-load --server-url http://127.0.0.1:8000 --model m --workload concurrent --concurrency 8 "
      "--count 64 | ib-aggregate\n"
      "Exit codes: 0 finished, 1 stopped early (circuit breaker, nothing succeeded), 2 usage, 130 interrupted.");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  o.args.assign(argv + 1, argv + argc);
  return ib::load::RunIbLoad(o, STDOUT_FILENO);
}
