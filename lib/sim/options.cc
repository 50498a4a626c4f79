#include "lib/sim/options.h"

namespace ib::sim {

// Shapes are rough public figures: decode step of a small batch, its growth per sequence, prefill
// throughput, and how many 16-token KV blocks fit after weights (bf16 KV).
const std::vector<Preset>& Presets() {
  static const std::vector<Preset> presets = {
      {"qwen3-0.6b-rtx4000", "Qwen/Qwen3-0.6B", "Qwen3-0.6B on an RTX 4000 Ada (20 GB)",
       6.0, 0.05, 0.03, 256, 7000, 40960, 151645},
      {"llama-3.1-8b-a100", "meta-llama/Llama-3.1-8B-Instruct",
       "Llama-3.1-8B on an A100 80 GB", 11.0, 0.12, 0.1, 256, 30000, 131072, 128009},
      {"llama-3.1-70b-h100x4", "meta-llama/Llama-3.1-70B-Instruct",
       "Llama-3.1-70B, tensor parallel over four H100 80 GB", 22.0, 0.2, 0.25, 256, 20000, 131072,
       128009},
      {"tiny-fast", "sim/tiny", "a toy model for tests: 1 ms steps, small cache", 1.0, 0.01, 0.002,
       16, 256, 8192, 2},
  };
  return presets;
}

bool ApplyPreset(const std::string& name, Options* o, std::string* error) {
  for (const Preset& p : Presets()) {
    if (p.name != name) continue;
    o->preset = p.name;
    o->model = p.model;
    o->step_base_ms = p.step_base_ms;
    o->step_per_seq_ms = p.step_per_seq_ms;
    o->prefill_ms_per_token = p.prefill_ms_per_token;
    o->max_num_seqs = p.max_num_seqs;
    o->kv_blocks = p.kv_blocks;
    o->max_model_len = p.max_model_len;
    o->eos_token_id = p.eos_token_id;
    return true;
  }
  std::string names;
  for (const Preset& p : Presets()) names += (names.empty() ? "" : ", ") + p.name;
  *error = "unknown preset \"" + name + "\" (known: " + names + ")";
  return false;
}

namespace {
bool Rate(double v, const char* flag, std::string* error) {
  if (v >= 0 && v <= 1) return true;
  *error = std::string("--") + flag + " must be between 0 and 1";
  return false;
}
}  // namespace

bool Validate(const Options& o, std::string* error) {
  if (!(o.speed > 0)) return *error = "--speed must be > 0", false;
  if (o.max_num_seqs < 1) return *error = "--max-num-seqs must be >= 1", false;
  if (o.kv_blocks < 1) return *error = "--kv-blocks must be >= 1", false;
  if (o.ttft_ms < 0) return *error = "--ttft-ms must be >= 0", false;
  if (o.itl_ms < 0) return *error = "--itl-ms must be >= 0", false;
  if (o.port < 0 || o.port > 65535) return *error = "--port must be in 0..65535", false;
  if (o.load_time_s < 0) return *error = "--load-time-s must be >= 0", false;
  if (o.threads < 4) return *error = "--threads must be >= 4", false;
  if (o.output_len_mean < 0) return *error = "--output-len-mean must be >= 0", false;
  if (o.default_max_tokens < 1) return *error = "--default-max-tokens must be >= 1", false;
  if (o.tokens_per_chunk < 1) return *error = "--tokens-per-chunk must be >= 1", false;
  if (o.speculative && o.tokens_per_chunk < 2)
    return *error = "--speculative needs --tokens-per-chunk K >= 2 (events carry 1..K tokens)", false;
  if (o.writer != "scheduler" && o.writer != "handler")
    return *error = "--writer must be scheduler or handler", false;
  if (o.writer == "handler" && !o.deterministic)
    return *error = "--writer handler needs --deterministic", false;
  if (o.rt_priority < 0 || o.rt_priority > 99) return *error = "--rt-priority must be in 0..99", false;
  if (o.model.empty()) return *error = "--model must not be empty", false;
  const Faults& f = o.faults;
  if (!Rate(f.error_500_rate, "fault-500-rate", error) ||
      !Rate(f.error_429_rate, "fault-429-rate", error) ||
      !Rate(f.midstream_error_rate, "fault-midstream-error-rate", error) ||
      !Rate(f.drop_rate, "fault-drop-rate", error) ||
      !Rate(f.stall_rate, "fault-stall-rate", error) ||
      !Rate(f.malformed_rate, "fault-malformed-rate", error))
    return false;
  if (f.stall_s < 0) return *error = "--fault-stall-s must be >= 0", false;
  if (f.after_tokens < 0) return *error = "--fault-after-tokens must be >= 0", false;
  if (f.health_delay_ms < 0) return *error = "--fault-health-delay-ms must be >= 0", false;
  return true;
}

}  // namespace ib::sim
