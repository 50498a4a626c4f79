// Everything that shapes one ib-sim server: personality, timing model, capacity and faults.
//   ib::sim::Options o;
//   std::string err;
//   if (!ib::sim::ApplyPreset("llama-3.1-8b-a100", &o, &err)) ...;
//   if (!ib::sim::Validate(o, &err)) ...;
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ib::sim {

enum class Framework { kVllm, kSglang };

// Fault injection. Rates are per-request probabilities drawn from the seeded generator, so a
// given --seed picks the same requests every run; 1.0 faults every request.
struct Faults {
  double error_500_rate = 0;       // HTTP 500 with the framework's error body, before streaming
  double error_429_rate = 0;       // HTTP 429 with the framework's error body
  double midstream_error_rate = 0; // an SSE error event, then [DONE], instead of a token
  double drop_rate = 0;            // the connection is closed mid-stream, no [DONE]
  double stall_rate = 0;           // no bytes for stall_s seconds mid-stream, then it resumes
  double stall_s = 2.0;
  double malformed_rate = 0;       // one chunk that is not valid JSON, then the stream goes on
  int64_t after_tokens = 2;        // mid-stream faults fire before this token index (0-based)
  double metrics_gone_after_s = -1;  // /metrics answers 404 after this many seconds (<0: never)
  double health_delay_ms = 0;      // every /health answer waits this long (slow health)
};

struct Options {
  // Personality.
  Framework framework = Framework::kVllm;
  bool vllm_v0 = false;  // V0 metric names (gpu_cache_usage_perc, ...) instead of V1
  std::string model = "Qwen/Qwen3-0.6B";  // served model name
  std::string preset = "qwen3-0.6b-rtx4000";

  // Timing model (all at --speed 1; divided by speed).
  double step_base_ms = 6.0;         // decode step with one sequence
  double step_per_seq_ms = 0.05;     // added per running sequence
  double prefill_ms_per_token = 0.03;  // per uncached prompt token
  double speed = 1.0;
  int64_t max_num_seqs = 256;
  int64_t kv_blocks = 7000;          // KV cache capacity in blocks of 16 tokens
  int64_t max_model_len = 40960;
  bool prefix_caching = true;
  int64_t eos_token_id = 151645;

  // Deterministic mode: fixed TTFT and inter-token interval regardless of load, no queueing.
  bool deterministic = false;
  double ttft_ms = 50;
  double itl_ms = 20;

  // Output length: max_tokens when given; otherwise (or with --output-len-mean > 0 and no
  // ignore_eos) a seeded geometric length with this mean, capped by max_tokens.
  int64_t default_max_tokens = 256;
  double output_len_mean = 0;  // 0: always max_tokens (finish_reason "length")
  uint64_t seed = 1;
  // Tokens per SSE event (SGLang --stream-interval, server-side flush batching): the server holds
  // tokens back and writes them together. speculative: each event carries a seeded random 1..K
  // (speculative decoding's accepted drafts) instead of exactly K.
  int64_t tokens_per_chunk = 1;
  bool speculative = false;

  // Server.
  int64_t port = 0;
  std::string port_file;
  std::string truth_file;
  double load_time_s = 0;   // /health answers 503 until then
  int64_t threads = 1100;   // Civetweb worker threads: one per open connection
  // Who writes the chunks: "scheduler" (one thread for all streams) or "handler" (each
  // connection's thread sleeps until its own token times; deterministic mode only). The second
  // exists to measure the alternative; see docs/ib-sim.md.
  std::string writer = "scheduler";
  // >0: the scheduler thread runs SCHED_FIFO at this priority, so a busy machine cannot delay
  // chunks behind other processes' time slices (needs CAP_SYS_NICE; a warning if refused).
  int64_t rt_priority = 0;
  Faults faults;
};

struct Preset {
  std::string name;
  std::string model;
  std::string description;
  double step_base_ms, step_per_seq_ms, prefill_ms_per_token;
  int64_t max_num_seqs, kv_blocks, max_model_len, eos_token_id;
};

const std::vector<Preset>& Presets();
// Copies the preset's model shape into *o (model name included). False + *error if unknown.
bool ApplyPreset(const std::string& name, Options* o, std::string* error);
// Checks ranges (speed > 0, rates in [0,1], ...). False + *error naming the flag.
bool Validate(const Options& o, std::string* error);

}  // namespace ib::sim
