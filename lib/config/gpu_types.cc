#include "lib/config/gpu_types.h"

namespace ib::config {

const std::vector<GpuType>& GpuTypes() {
  static const std::vector<GpuType> kTypes = {
      {"H100-80GB", "NVIDIA H100 80GB HBM3", 3.99, 5.49, 80},
      {"A100-80GB", "NVIDIA A100 80GB PCIe", 1.99, 3.29, 80},
      {"A100-40GB", "NVIDIA A100-PCIE-40GB", 1.64, 2.49, 40},
      {"L40S", "NVIDIA L40S", 1.14, 1.84, 48},
      {"A40", "NVIDIA A40", 0.79, 1.24, 48},
      {"RTX 4090", "NVIDIA GeForce RTX 4090", 0.69, 0.99, 24},
      {"RTX 3090", "NVIDIA GeForce RTX 3090", 0.44, 0.69, 24},
      {"RTX 4000 Ada", "NVIDIA RTX 4000 Ada Generation", 0.29, 0.49, 20},
  };
  return kTypes;
}

const GpuType* FindGpuType(const std::string& key) {
  for (const auto& t : GpuTypes()) {
    if (t.key == key) return &t;
  }
  return nullptr;
}

}  // namespace ib::config
