// What a pod for one benchmark run looks like: the image and server command per framework
// (vLLM, SGLang), GPUs, disk, ports and environment, as a RunPod REST PodCreateInput body.
//
//   ib::runpod::LaunchSpec spec;
//   spec.run_id = "smoke-20261128-101500"; spec.framework = "vllm"; spec.model = "Qwen/Qwen3-0.6B";
//   spec.gpu_type_id = "NVIDIA A100 80GB PCIe";
//   nlohmann::json body; std::string error;
//   if (!ib::runpod::BuildCreateBody(spec, &body, &error)) ...
//
// Every pod is named "ib-<run_id>" (PodName) so `ib-run server status` finds it, and carries env
// IB_RUN_ID, IB_OWNER_HOST and IB_OWNER_PID (the ib-provision holding it) so orphans can be told
// from live runs; IB_KEEP=1 marks a pod kept on purpose (--keep-server).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::runpod {

inline constexpr const char* kPodNamePrefix = "ib-";
inline constexpr int kServerPort = 8000;

struct LaunchSpec {
  std::string run_id;
  std::string framework;  // "vllm" | "sglang"
  std::string model;
  std::optional<std::string> quantization;
  std::optional<int64_t> max_model_len;
  double gpu_memory_utilization = 0.9;
  std::optional<bool> enable_prefix_caching;
  std::optional<int64_t> tensor_parallel_size;  // default: gpu_count
  std::vector<std::string> extra_args;          // appended to the server command
  std::string gpu_type_id;                      // RunPod id, e.g. "NVIDIA A100 80GB PCIe"
  int64_t gpu_count = 1;
  std::string cloud_type = "community";  // "community" | "secure"
  std::optional<int64_t> container_disk_gb;  // default: ContainerDiskGb()
  std::string image;                         // default: DefaultImage(framework)
  std::string hf_token;                      // passed as HF_TOKEN / HUGGING_FACE_HUB_TOKEN when set
  std::string owner_host;
  int64_t owner_pid = 0;
  bool keep = false;
};

std::string PodName(const std::string& run_id);  // "ib-" + run_id
// "vllm/vllm-openai:latest" (ENTRYPOINT vllm serve) or "lmsysorg/sglang:latest" (no entrypoint).
std::string DefaultImage(const std::string& framework);
// The container's start command (REST dockerStartCmd). For vLLM these are arguments to the
// image's `vllm serve` entrypoint; for SGLang the whole `python3 -m sglang.launch_server ...`.
std::vector<std::string> ServerCommand(const LaunchSpec& spec);
// Parameters in billions read from the model name ("Llama-3-8B" -> 8, "Qwen3-0.6B" -> 0.6,
// "Mixtral-8x7B" -> 56); nullopt when the name does not say.
std::optional<double> ModelParamsBillions(const std::string& model);
// Container disk (GB) to hold the weights: params x bytes per param (2 for 16-bit, 1 for
// fp8/int8, 0.5 for 4-bit awq/gptq/...) x 1.2 + 10 GB, at least 20; 50 when the size is unknown.
int64_t ContainerDiskGb(const LaunchSpec& spec);
// The POST /pods body. Errors: unknown framework, empty model or GPU type, gpu_count < 1.
bool BuildCreateBody(const LaunchSpec& spec, nlohmann::json* body, std::string* error);

}  // namespace ib::runpod
