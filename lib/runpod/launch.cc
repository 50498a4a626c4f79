#include "lib/runpod/launch.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <sstream>

namespace ib::runpod {
namespace {

std::string Number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double BytesPerParam(const std::optional<std::string>& quantization) {
  if (!quantization) return 2;
  std::string q = Lower(*quantization);
  for (const char* four_bit : {"awq", "gptq", "int4", "bitsandbytes", "gguf", "marlin", "4bit", "nf4"}) {
    if (q.find(four_bit) != std::string::npos) return 0.5;
  }
  if (q.find("fp8") != std::string::npos || q.find("int8") != std::string::npos ||
      q.find("8bit") != std::string::npos) {
    return 1;
  }
  return 2;
}

}  // namespace

std::string PodName(const std::string& run_id) { return kPodNamePrefix + run_id; }

std::string DefaultImage(const std::string& framework) {
  if (framework == "vllm") return "vllm/vllm-openai:latest";
  if (framework == "sglang") return "lmsysorg/sglang:latest";
  return "";
}

std::vector<std::string> ServerCommand(const LaunchSpec& s) {
  std::string port = std::to_string(kServerPort);
  int64_t tp = s.tensor_parallel_size.value_or(s.gpu_count);
  std::vector<std::string> cmd;
  if (s.framework == "vllm") {
    cmd = {s.model, "--host", "0.0.0.0", "--port", port};
    if (s.max_model_len) cmd.insert(cmd.end(), {"--max-model-len", std::to_string(*s.max_model_len)});
    cmd.insert(cmd.end(), {"--gpu-memory-utilization", Number(s.gpu_memory_utilization)});
    if (s.enable_prefix_caching) {
      cmd.push_back(*s.enable_prefix_caching ? "--enable-prefix-caching" : "--no-enable-prefix-caching");
    }
    if (tp > 1) cmd.insert(cmd.end(), {"--tensor-parallel-size", std::to_string(tp)});
    if (s.quantization) cmd.insert(cmd.end(), {"--quantization", *s.quantization});
  } else {
    cmd = {"python3", "-m", "sglang.launch_server", "--model-path", s.model,
           "--host", "0.0.0.0", "--port", port, "--enable-metrics"};
    if (s.max_model_len) cmd.insert(cmd.end(), {"--context-length", std::to_string(*s.max_model_len)});
    cmd.insert(cmd.end(), {"--mem-fraction-static", Number(s.gpu_memory_utilization)});
    // RadixAttention (SGLang's prefix cache) is on by default; the switch is to turn it off.
    // (The original passed --enable-cache-report, which only adds cached-token counts to usage.)
    if (s.enable_prefix_caching && !*s.enable_prefix_caching) cmd.push_back("--disable-radix-cache");
    if (tp > 1) cmd.insert(cmd.end(), {"--tp-size", std::to_string(tp)});
    if (s.quantization) cmd.insert(cmd.end(), {"--quantization", *s.quantization});
  }
  cmd.insert(cmd.end(), s.extra_args.begin(), s.extra_args.end());
  return cmd;
}

std::optional<double> ModelParamsBillions(const std::string& model) {
  std::string name = model.substr(model.rfind('/') == std::string::npos ? 0 : model.rfind('/') + 1);
  static const std::regex moe(R"((?:^|[^0-9.])(\d+)x(\d+(?:\.\d+)?)[bB](?:$|[^a-zA-Z]))");
  static const std::regex dense(R"((?:^|[^0-9.])(\d+(?:\.\d+)?)[bB](?:$|[^a-zA-Z]))");
  std::smatch m;
  if (std::regex_search(name, m, moe)) return std::stod(m[1]) * std::stod(m[2]);
  if (std::regex_search(name, m, dense)) return std::stod(m[1]);
  return std::nullopt;
}

int64_t ContainerDiskGb(const LaunchSpec& spec) {
  if (spec.container_disk_gb) return *spec.container_disk_gb;
  auto params = ModelParamsBillions(spec.model);
  if (!params) return 50;
  double weights_gb = *params * BytesPerParam(spec.quantization);
  return std::max<int64_t>(20, static_cast<int64_t>(std::ceil(weights_gb * 1.2 + 10)));
}

bool BuildCreateBody(const LaunchSpec& s, nlohmann::json* body, std::string* error) {
  if (s.framework != "vllm" && s.framework != "sglang") {
    *error = "unknown framework '" + s.framework + "' (vllm or sglang)";
    return false;
  }
  if (s.model.empty()) {
    *error = "no model name";
    return false;
  }
  if (s.gpu_type_id.empty()) {
    *error = "no RunPod GPU type id";
    return false;
  }
  if (s.gpu_count < 1) {
    *error = "gpu_count must be >= 1";
    return false;
  }
  if (s.cloud_type != "community" && s.cloud_type != "secure") {
    *error = "cloud_type must be community or secure, got '" + s.cloud_type + "'";
    return false;
  }
  nlohmann::json env = {{"IB_RUN_ID", s.run_id}};
  if (!s.owner_host.empty()) env["IB_OWNER_HOST"] = s.owner_host;
  if (s.owner_pid > 0) env["IB_OWNER_PID"] = std::to_string(s.owner_pid);
  if (s.keep) env["IB_KEEP"] = "1";
  if (!s.hf_token.empty()) {
    env["HF_TOKEN"] = s.hf_token;
    env["HUGGING_FACE_HUB_TOKEN"] = s.hf_token;
  }
  *body = {
      {"name", PodName(s.run_id)},
      {"imageName", s.image.empty() ? DefaultImage(s.framework) : s.image},
      {"computeType", "GPU"},
      {"cloudType", s.cloud_type == "secure" ? "SECURE" : "COMMUNITY"},
      {"gpuTypeIds", {s.gpu_type_id}},
      {"gpuCount", s.gpu_count},
      {"containerDiskInGb", ContainerDiskGb(s)},
      {"volumeInGb", 0},  // weights live on the container disk, which goes with the pod
      {"ports", {std::to_string(kServerPort) + "/http"}},
      {"supportPublicIp", true},
      {"interruptible", false},
      {"env", env},
      {"dockerStartCmd", ServerCommand(s)},
  };
  return true;
}

}  // namespace ib::runpod
