// The GPU types a config may name (infrastructure.gpu_type), with RunPod's id and the hourly
// prices of the original tool's table. lib/pricing builds on this table (and can refresh the
// prices from RunPod's API); config validation needs only the keys.
//
//   if (const ib::config::GpuType* gpu = ib::config::FindGpuType("A100-80GB"))
//     cost_usd = hours * gpu->community_usd_per_hr;   // nullptr: not a type configs may name
#pragma once

#include <string>
#include <vector>

namespace ib::config {

struct GpuType {
  std::string key;         // what configs write: "A100-80GB"
  std::string runpod_id;   // RunPod's gpuTypeId: "NVIDIA A100 80GB PCIe"
  double community_usd_per_hr = 0;
  double secure_usd_per_hr = 0;
  int memory_gb = 0;
};

// The date the built-in prices were taken (the original's PRICING_LAST_UPDATED).
inline constexpr const char* kBuiltinPricingDate = "2026-02-11";

const std::vector<GpuType>& GpuTypes();
const GpuType* FindGpuType(const std::string& key);

}  // namespace ib::config
