#include "lib/runpod/from_config.h"

namespace ib::runpod {

std::optional<LaunchSpec> LaunchSpecFromConfig(const ib::config::ExperimentConfig& c,
                                               const ib::pricing::PricingTable& pricing,
                                               const std::string& run_id, std::string* error) {
  if (c.infrastructure.provider != "runpod") {
    *error = "infrastructure.provider is '" + c.infrastructure.provider +
             "': only runpod needs a pod (ib-run starts ib-sim for local)";
    return std::nullopt;
  }
  const ib::pricing::GpuPrice* gpu = pricing.Find(c.infrastructure.gpu_type);
  if (gpu == nullptr) {
    std::string keys;
    for (const auto& k : pricing.Keys()) keys += (keys.empty() ? "" : ", ") + k;
    *error = "unknown gpu_type '" + c.infrastructure.gpu_type + "'. Known types: " + keys;
    return std::nullopt;
  }
  LaunchSpec s;
  s.run_id = run_id;
  s.framework = c.framework;
  s.model = c.model.name;
  s.quantization = c.model.quantization;
  s.max_model_len = c.framework_options.max_model_len;
  s.gpu_memory_utilization = c.framework_options.gpu_memory_utilization;
  s.enable_prefix_caching = c.framework_options.enable_prefix_caching;
  s.tensor_parallel_size = c.framework_options.tensor_parallel_size;
  s.extra_args = c.framework_options.extra_args;
  s.gpu_type_id = gpu->gpu_type_id;
  s.gpu_count = c.infrastructure.gpu_count;
  s.cloud_type = c.infrastructure.cloud_type;
  s.container_disk_gb = c.infrastructure.container_disk_gb;
  return s;
}

}  // namespace ib::runpod
