#include "lib/runpod/launch.h"

#include <gtest/gtest.h>

namespace ib::runpod {
namespace {

LaunchSpec Spec(const std::string& framework) {
  LaunchSpec s;
  s.run_id = "r-20261128-101500";
  s.framework = framework;
  s.model = "meta-llama/Meta-Llama-3-8B-Instruct";
  s.gpu_type_id = "NVIDIA A100 80GB PCIe";
  return s;
}

using Args = std::vector<std::string>;

TEST(LaunchTest, VllmDefaults) {
  EXPECT_EQ(ServerCommand(Spec("vllm")),
            (Args{"meta-llama/Meta-Llama-3-8B-Instruct", "--host", "0.0.0.0", "--port", "8000",
                  "--gpu-memory-utilization", "0.9"}));
}

TEST(LaunchTest, VllmEverything) {
  LaunchSpec s = Spec("vllm");
  s.max_model_len = 4096;
  s.gpu_memory_utilization = 0.85;
  s.enable_prefix_caching = false;
  s.gpu_count = 2;
  s.quantization = "awq";
  s.extra_args = {"--seed", "1"};
  EXPECT_EQ(ServerCommand(s),
            (Args{"meta-llama/Meta-Llama-3-8B-Instruct", "--host", "0.0.0.0", "--port", "8000",
                  "--max-model-len", "4096", "--gpu-memory-utilization", "0.85", "--no-enable-prefix-caching",
                  "--tensor-parallel-size", "2", "--quantization", "awq", "--seed", "1"}));
  s.enable_prefix_caching = true;
  s.tensor_parallel_size = 1;
  Args cmd = ServerCommand(s);
  EXPECT_NE(std::find(cmd.begin(), cmd.end(), "--enable-prefix-caching"), cmd.end());
  EXPECT_EQ(std::find(cmd.begin(), cmd.end(), "--tensor-parallel-size"), cmd.end());
}

TEST(LaunchTest, SglangUsesItsOwnFlags) {
  LaunchSpec s = Spec("sglang");
  s.max_model_len = 8192;
  s.enable_prefix_caching = true;  // RadixAttention is already on: no flag
  s.gpu_count = 4;
  EXPECT_EQ(ServerCommand(s),
            (Args{"python3", "-m", "sglang.launch_server", "--model-path", "meta-llama/Meta-Llama-3-8B-Instruct",
                  "--host", "0.0.0.0", "--port", "8000", "--enable-metrics", "--context-length", "8192",
                  "--mem-fraction-static", "0.9", "--tp-size", "4"}));
  s.enable_prefix_caching = false;
  Args cmd = ServerCommand(s);
  EXPECT_NE(std::find(cmd.begin(), cmd.end(), "--disable-radix-cache"), cmd.end());
  EXPECT_EQ(std::find(cmd.begin(), cmd.end(), "--enable-cache-report"), cmd.end());
}

TEST(LaunchTest, ModelSizeAndDisk) {
  EXPECT_DOUBLE_EQ(*ModelParamsBillions("meta-llama/Meta-Llama-3-8B-Instruct"), 8);
  EXPECT_DOUBLE_EQ(*ModelParamsBillions("Qwen/Qwen3-0.6B"), 0.6);
  EXPECT_DOUBLE_EQ(*ModelParamsBillions("mistralai/Mixtral-8x7B-Instruct-v0.1"), 56);
  EXPECT_DOUBLE_EQ(*ModelParamsBillions("meta-llama/Llama-3.1-70B"), 70);
  EXPECT_FALSE(ModelParamsBillions("facebook/opt"));
  LaunchSpec s = Spec("vllm");
  EXPECT_EQ(ContainerDiskGb(s), 30);  // 16 GB of bf16 weights x 1.2 + 10
  s.quantization = "AWQ";
  EXPECT_EQ(ContainerDiskGb(s), 20);
  s.model = "meta-llama/Llama-3.1-70B";
  s.quantization = "fp8";
  EXPECT_EQ(ContainerDiskGb(s), 94);
  s.model = "some/model";
  EXPECT_EQ(ContainerDiskGb(s), 50);
  s.container_disk_gb = 123;
  EXPECT_EQ(ContainerDiskGb(s), 123);
}

TEST(LaunchTest, CreateBody) {
  LaunchSpec s = Spec("vllm");
  s.hf_token = "hf_abc";
  s.cloud_type = "secure";
  s.owner_host = "box";
  s.owner_pid = 42;
  s.keep = true;
  nlohmann::json body;
  std::string error;
  ASSERT_TRUE(BuildCreateBody(s, &body, &error)) << error;
  EXPECT_EQ(body["name"], "ib-r-20261128-101500");
  EXPECT_EQ(body["imageName"], "vllm/vllm-openai:latest");
  EXPECT_EQ(body["cloudType"], "SECURE");
  EXPECT_EQ(body["gpuTypeIds"], nlohmann::json::array({"NVIDIA A100 80GB PCIe"}));
  EXPECT_EQ(body["ports"], nlohmann::json::array({"8000/http"}));
  EXPECT_EQ(body["containerDiskInGb"], 30);
  EXPECT_EQ(body["env"]["HF_TOKEN"], "hf_abc");
  EXPECT_EQ(body["env"]["HUGGING_FACE_HUB_TOKEN"], "hf_abc");
  EXPECT_EQ(body["env"]["IB_OWNER_PID"], "42");
  EXPECT_EQ(body["env"]["IB_KEEP"], "1");
  EXPECT_EQ(body["dockerStartCmd"][0], "meta-llama/Meta-Llama-3-8B-Instruct");
  s.hf_token.clear();
  s.keep = false;
  ASSERT_TRUE(BuildCreateBody(s, &body, &error));
  EXPECT_FALSE(body["env"].contains("HF_TOKEN"));
  EXPECT_FALSE(body["env"].contains("IB_KEEP"));
  EXPECT_EQ(Spec("sglang").framework, "sglang");
  ASSERT_TRUE(BuildCreateBody(Spec("sglang"), &body, &error));
  EXPECT_EQ(body["imageName"], "lmsysorg/sglang:latest");
}

TEST(LaunchTest, BadSpecsAreRejected) {
  nlohmann::json body;
  std::string error;
  EXPECT_FALSE(BuildCreateBody(Spec("tgi"), &body, &error));
  EXPECT_NE(error.find("unknown framework 'tgi'"), std::string::npos);
  LaunchSpec s = Spec("vllm");
  s.model.clear();
  EXPECT_FALSE(BuildCreateBody(s, &body, &error));
  s = Spec("vllm");
  s.gpu_count = 0;
  EXPECT_FALSE(BuildCreateBody(s, &body, &error));
  s = Spec("vllm");
  s.gpu_type_id.clear();
  EXPECT_FALSE(BuildCreateBody(s, &body, &error));
  s = Spec("vllm");
  s.cloud_type = "all";
  EXPECT_FALSE(BuildCreateBody(s, &body, &error));
}

}  // namespace
}  // namespace ib::runpod
