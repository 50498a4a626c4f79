// The resolved config as JSON (the results file's "experiment" key).
#include <cmath>

#include "lib/config/config.h"
#include "lib/config/reader.h"

namespace ib::config {
namespace {

using nlohmann::json;


json OptJson(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
json OptJson(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }
json OptJson(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
json OptJson(const std::optional<bool>& v) { return v ? json(*v) : json(nullptr); }

json DistributionJson(const Distribution& d) {
  return {{"mean", d.mean}, {"stddev", d.stddev}, {"min", d.min}, {"max", d.max}};
}

}  // namespace


// The three original SLO keys always (null when unset, as results files have them); the
// intended-based ones only when set, so older results files stay byte-identical.
static json GoodputJson(const ExperimentConfig::Metrics::Goodput& g) {
  json out = {{"ttft_ms", OptJson(g.ttft_ms)}, {"tpot_ms", OptJson(g.tpot_ms)},
              {"e2e_latency_ms", OptJson(g.e2e_latency_ms)}};
  if (g.ttft_intended_ms) out["ttft_intended_ms"] = *g.ttft_intended_ms;
  if (g.e2e_intended_ms) out["e2e_intended_ms"] = *g.e2e_intended_ms;
  return out;
}

json ToJson(const ExperimentConfig& c) {
  const auto& w = c.workload;
  json sweep = nullptr;
  if (!w.sweep.empty()) {
    sweep = json::object();
    for (const auto& [key, values] : w.sweep) {
      json list = json::array();
      for (double v : values) list.push_back(internal::IsExactInteger(v) ? json(static_cast<int64_t>(v)) : json(v));
      sweep[key] = list;
    }
  }
  json conversation = nullptr;
  if (w.conversation) {
    conversation = {{"turns", w.conversation->turns},
                    {"system_prompt", OptJson(w.conversation->system_prompt)},
                    {"user_messages", w.conversation->user_messages ? json(*w.conversation->user_messages) : json(nullptr)},
                    {"shared_prefix", OptJson(w.conversation->shared_prefix)}};
  }
  json synthetic = nullptr;
  if (w.requests.synthetic) {
    synthetic = {{"input_tokens", DistributionJson(w.requests.synthetic->input_tokens)},
                 {"output_tokens", DistributionJson(w.requests.synthetic->output_tokens)},
                 {"seed", w.requests.synthetic->seed}};
    if (const auto& sp = w.requests.synthetic->shared_prefix)
      synthetic["shared_prefix"] = {{"families", sp->families}, {"prefix_tokens", sp->prefix_tokens}, {"assign", sp->assign}};
  }
  json search = nullptr;
  if (w.search) {
    const auto& s = *w.search;
    json slo = json::object();
    for (const auto& b : s.slo) slo[b.metric][b.percentile] = b.bound_ms;
    if (s.goodput_frac) slo["goodput_frac"] = *s.goodput_frac;
    search = {{"over", s.over},
              {"slo", slo},
              {"min", OptJson(s.min)},
              {"max", OptJson(s.max)},
              {"precision_pct", s.precision_pct},
              {"max_probes", s.max_probes},
              {"probe", {{"duration_s", OptJson(s.probe.duration_s)}, {"count", OptJson(s.probe.count)}}},
              {"fresh_prompts", s.fresh_prompts}};
    // Only when set: configs without them keep their JSON (and the golden streams) unchanged.
    if (s.probe.repeats) search["probe"]["repeats"] = *s.probe.repeats;
    if (!s.early_stop) search["early_stop"] = false;
  }
  const auto& i = c.infrastructure;
  json infra = {{"provider", i.provider},
                {"gpu_type", i.gpu_type},
                {"gpu_count", i.gpu_count},
                {"cloud_type", i.cloud_type},
                {"container_disk_gb", OptJson(i.container_disk_gb)}};
  if (i.provider == "local") {
    infra["sim"] = {{"preset", i.sim.preset}, {"speed", i.sim.speed}, {"seed", i.sim.seed},
                    {"load_time_s", i.sim.load_time_s}, {"args", i.sim.args}};
  }
  if (i.load.set) {
    infra["load"] = {{"launcher", i.load.launcher}, {"tasks", OptJson(i.load.tasks)},
                     {"srun_args", i.load.srun_args}, {"collector", i.load.collector}};
    if (!i.load.advertise.empty()) infra["load"]["advertise"] = i.load.advertise;
    if (i.load.launcher == "k8s") {
      const auto& k = i.load.k8s;
      infra["load"]["k8s"] = {{"image", k.image}, {"namespace", k.namespace_}, {"cpu", k.cpu}, {"memory", k.memory},
                              {"cpu_limit", k.cpu_limit.empty() ? k.cpu : k.cpu_limit},
                              {"memory_limit", k.memory_limit.empty() ? k.memory : k.memory_limit},
                              {"start_delay_s", k.start_delay_s}};
    }
  }
  const auto& g = c.metrics.goodput;
  json out = {
      {"name", c.name},
      {"description", OptJson(c.description)},
      {"extends", nullptr},
      {"model", {{"name", c.model.name}, {"quantization", OptJson(c.model.quantization)}}},
      {"framework", c.framework},
      {"framework_options",
       {{"max_model_len", OptJson(c.framework_options.max_model_len)},
        {"gpu_memory_utilization", c.framework_options.gpu_memory_utilization},
        {"enable_prefix_caching", OptJson(c.framework_options.enable_prefix_caching)},
        {"tensor_parallel_size", OptJson(c.framework_options.tensor_parallel_size)},
        {"extra_args", c.framework_options.extra_args}}},
      {"infrastructure", infra},
      {"workload",
       {{"type", w.type},
        {"requests", {{"source", w.requests.source.empty() ? json(nullptr) : json(w.requests.source)},
                      {"count", w.requests.count},
                      {"synthetic", synthetic}}},
        {"parameters", {{"max_tokens", w.parameters.max_tokens},
                        {"temperature", w.parameters.temperature},
                        {"ignore_eos", w.parameters.ignore_eos}}},
        {"batch_size", OptJson(w.batch_size)},
        {"concurrency", OptJson(w.concurrency)},
        {"request_rate", OptJson(w.request_rate)},
        {"arrival", w.arrival},
        {"burstiness", w.burstiness},
        {"seed", w.seed},
        {"duration_s", OptJson(w.duration_s)},
        {"warmup_requests", w.warmup_requests},
        {"timeout_s", w.timeout_s},
        {"idle_timeout_s", w.idle_timeout_s},
        {"sweep", sweep},
        {"conversation", conversation}}},
      {"metrics",
       {{"collect_gpu_metrics", c.metrics.collect_gpu_metrics},
        {"sample_interval_ms", c.metrics.sample_interval_ms},
        {"output_dir", c.metrics.output_dir},
        {"percentiles", c.metrics.percentiles},
        {"goodput", GoodputJson(g)}}},
  };
  // Only when set, so results files of configs without a search keep their bytes.
  if (!search.is_null()) out["workload"]["search"] = search;
  if (w.trace) {
    const auto& t = *w.trace;
    out["workload"]["trace"] = {{"file", t.file}, {"format", t.format}, {"speedup", t.speedup},
                                {"block_tokens", t.block_tokens},
                                {"max_requests", t.max_requests > 0 ? json(t.max_requests) : json(nullptr)},
                                {"start_s", t.start_s}, {"duration_s", OptJson(t.duration_s)},
                                {"length_scale", t.length_scale}};
  }
  if (w.rate_ramp)
    out["workload"]["rate_ramp"] = {{"from", w.rate_ramp->from}, {"to", w.rate_ramp->to},
                                    {"over_s", w.rate_ramp->over_s}, {"shape", w.rate_ramp->shape}};
  if (w.concurrency_ramp)
    out["workload"]["concurrency_ramp"] = {{"from", w.concurrency_ramp->from}, {"to", w.concurrency_ramp->to},
                                           {"over_s", w.concurrency_ramp->over_s}};
  if (w.endpoint != "chat") out["workload"]["endpoint"] = w.endpoint;
  if (!w.requests.format.empty()) out["workload"]["requests"]["format"] = w.requests.format;
  if (w.requests.output_len_from_dataset) out["workload"]["requests"]["output_len_from_dataset"] = true;
  if (w.requests.max_prompt_tokens != 1024 || w.requests.max_total_tokens != 2048) {
    out["workload"]["requests"]["max_prompt_tokens"] = w.requests.max_prompt_tokens;
    out["workload"]["requests"]["max_total_tokens"] = w.requests.max_total_tokens;
  }
  if (w.workers) out["workload"]["workers"] = *w.workers == 0 ? json("auto") : json(*w.workers);
  if (w.repeats != 1) out["workload"]["repeats"] = w.repeats;
  return out;
}


}  // namespace ib::config
