#include "lib/collect/k8s.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ib::collect {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kConfig = "tests/k8s/golden.yaml";
constexpr const char* kGolden = "tests/k8s/golden.k8s.yaml";
// The manifest mounts each file at its absolute path: the golden config is copied to a fixed
// path so that the golden file does not depend on where the test runs.
constexpr const char* kFixedDir = "/tmp/ib-k8s-golden";

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& text) {
  const std::string part = path + "." + std::to_string(getpid());
  std::ofstream(part, std::ios::binary) << text;
  std::rename(part.c_str(), path.c_str());  // tests in two checkouts may share the path
}

// The documents of a manifest (JSON documents after "---" lines, "#" comment lines first).
std::vector<json> Documents(const std::string& yaml) {
  std::vector<json> docs;
  std::size_t at = 0;
  while ((at = yaml.find("---\n", at)) != std::string::npos) {
    at += 4;
    std::size_t end = yaml.find("\n---\n", at);
    docs.push_back(json::parse(yaml.substr(at, end == std::string::npos ? std::string::npos : end - at + 1)));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return docs;
}

K8sJob GoldenJob(const config::ExperimentConfig& c, const std::string& config_path) {
  K8sJob job;
  job.run_id = "k8s-golden-20260101-000000";
  job.shards = static_cast<int>(*c.infrastructure.load.tasks);
  job.load = c.infrastructure.load;
  // As the collector (lib/load/app.cc RunCoordinated) builds it, with fixed instants.
  job.argv = {"/opt/ib/bin/ib-load", "--server-url", "http://vllm.bench.svc:8000", "--config", config_path,
              "--meta", "provider=local", "--meta", "note=$(not a variable)", "--iteration", "1", "--run-id",
              job.run_id, "--report-to", "10.0.0.5:7000", "--t0-realtime-ns", "1767225600000000000",
              "--start-at", "1767225720000000000"};
  job.token = "0123456789abcdef0123456789abcdef";
  job.report_to = AdvertisedAddress(c.infrastructure.load, "0.0.0.0", 7000);
  job.files = ConfigFiles(config_path, c);
  return job;
}

// IB_UPDATE_GOLDEN=1 bazel run //lib/collect:k8s_test rewrites tests/k8s/golden.k8s.yaml.
TEST(K8s, ManifestOfTheGoldenConfigEqualsTheGoldenFile) {
  fs::create_directories(kFixedDir);
  const std::string copy = std::string(kFixedDir) + "/golden.yaml";
  Write(copy, Read(kConfig));
  auto loaded = config::LoadExperiment(copy);
  ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].message);
  std::string error;
  std::string yaml = K8sManifest(GoldenJob(*loaded.config, copy), &error);
  ASSERT_FALSE(yaml.empty()) << error;
  if (const char* update = std::getenv("IB_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    std::ofstream(std::string(ws ? ws : ".") + "/" + kGolden) << yaml;
    GTEST_SKIP() << "golden file rewritten";
  }
  EXPECT_EQ(yaml, Read(kGolden)) << "the manifest changed; now:\n" << yaml;
}

TEST(K8s, TheJobRunsOneIndexedPodPerShardAndTheTokenOnlyInTheSecret) {
  fs::create_directories(kFixedDir);
  const std::string copy = std::string(kFixedDir) + "/golden.yaml";
  Write(copy, Read(kConfig));
  auto loaded = config::LoadExperiment(copy);
  ASSERT_TRUE(loaded.ok());
  K8sJob job = GoldenJob(*loaded.config, copy);
  std::string error;
  auto docs = Documents(K8sManifest(job, &error));
  ASSERT_EQ(docs.size(), 3u) << error;
  const json &secret = docs[0], &files = docs[1], &j = docs[2];
  EXPECT_EQ(secret["kind"], "Secret");
  EXPECT_EQ(secret["stringData"]["token"], job.token);
  EXPECT_EQ(secret["stringData"]["report_to"], "10.0.0.5:7000");  // advertise without a port: the bound one
  EXPECT_EQ(j["kind"], "Job");
  EXPECT_EQ(j["metadata"]["namespace"], "bench");
  EXPECT_EQ(j["spec"]["completionMode"], "Indexed");
  EXPECT_EQ(j["spec"]["completions"], 3);
  EXPECT_EQ(j["spec"]["parallelism"], 3);
  EXPECT_EQ(j["spec"]["backoffLimit"], 0);
  const json& pod = j["spec"]["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Never");
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "registry.example.com/ib:1.0");
  EXPECT_EQ(c["resources"]["requests"], (json{{"cpu", "2"}, {"memory", "1Gi"}}));
  EXPECT_EQ(c["resources"]["limits"], (json{{"cpu", "2"}, {"memory", "2Gi"}}));
  EXPECT_EQ(j.dump().find(job.token), std::string::npos) << "the token is in the Job";
  std::vector<std::string> args = c["args"];
  ASSERT_GE(args.size(), 2u);
  EXPECT_EQ(args[args.size() - 2], "--shard");
  EXPECT_EQ(args.back(), "index/3");
  EXPECT_NE(std::find(args.begin(), args.end(), "$(IB_REPORT_TO)"), args.end());
  EXPECT_EQ(std::find(args.begin(), args.end(), "10.0.0.5:7000"), args.end());
  // A literal $( in a user's value is escaped, so Kubernetes does not expand it.
  EXPECT_NE(std::find(args.begin(), args.end(), "note=$$(not a variable)"), args.end());
  // Every mounted file is in the ConfigMap, with its content.
  ASSERT_EQ(c["volumeMounts"].size(), 1u);
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], copy);
  EXPECT_EQ(files["data"][c["volumeMounts"][0]["subPath"].get<std::string>()], Read(copy));
}

TEST(K8s, JobNameIsADnsLabelThatLeavesRoomForTheSuffixes) {
  EXPECT_EQ(K8sJobName("Sim_Smoke-20260101-000000"), "ib-sim-smoke-20260101-000000");
  std::string long_name = K8sJobName(std::string(100, 'a') + "-x");
  EXPECT_LE(long_name.size() + std::string("-collector").size(), 63u);
  EXPECT_NE(long_name.back(), '-');
  EXPECT_EQ(K8sJobName("run..--!!"), "ib-run");
}

TEST(K8s, AdvertisedAddress) {
  config::ExperimentConfig::Infrastructure::Load load;
  EXPECT_EQ(AdvertisedAddress(load, "10.1.2.3", 7000), "10.1.2.3:7000");
  load.advertise = "node1.example.com";
  EXPECT_EQ(AdvertisedAddress(load, "0.0.0.0", 41234), "node1.example.com:41234");
  load.advertise = "node1.example.com:9000";  // a port mapped in front of the collector
  EXPECT_EQ(AdvertisedAddress(load, "0.0.0.0", 41234), "node1.example.com:9000");
  load.advertise = "fd00::2";
  EXPECT_EQ(AdvertisedAddress(load, "::", 7000), "[fd00::2]:7000");
  load.advertise = "[fd00::2]:8000";
  EXPECT_EQ(AdvertisedAddress(load, "::", 7000), "[fd00::2]:8000");
}

TEST(K8s, ConfigFilesFollowTheExtendsChainAndTheRequestsFile) {
  const fs::path dir = fs::path(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") / "k8s-files";
  fs::create_directories(dir / "sub");
  Write((dir / "prompts.jsonl").string(), "{\"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}\n");
  Write((dir / "base.yaml").string(),
        "name: base\nmodel: {name: m}\nframework: vllm\ninfrastructure: {provider: local}\n"
        "workload: {type: rate, request_rate: 5, requests: {source: prompts.jsonl, count: 4}}\n");
  Write((dir / "sub" / "child.yaml").string(), "extends: ../base.yaml\nname: child\n");
  auto loaded = config::LoadExperiment((dir / "sub" / "child.yaml").string());
  ASSERT_TRUE(loaded.ok()) << loaded.diagnostics[0].message;
  auto files = ConfigFiles((dir / "sub" / "child.yaml").string(), *loaded.config);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], (dir / "sub" / "child.yaml").string());
  EXPECT_EQ(files[1], (dir / "base.yaml").string());
  EXPECT_EQ(files[2], (dir / "prompts.jsonl").string());
}

TEST(K8s, RefusesFilesAConfigMapCannotCarry) {
  const fs::path dir = fs::path(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") / "k8s-refuse";
  fs::create_directories(dir);
  K8sJob job;
  job.run_id = "r";
  job.argv = {"ib-load"};
  std::string error;
  job.files = {(dir / "missing.yaml").string()};
  EXPECT_EQ(K8sManifest(job, &error), "");
  EXPECT_NE(error.find("cannot read"), std::string::npos) << error;
  Write((dir / "latin1.jsonl").string(), "caf\xe9\n");
  job.files = {(dir / "latin1.jsonl").string()};
  EXPECT_EQ(K8sManifest(job, &error), "");
  EXPECT_NE(error.find("not UTF-8"), std::string::npos) << error;
  Write((dir / "big.jsonl").string(), std::string(kMaxConfigMapBytes + 1, 'x'));
  job.files = {(dir / "big.jsonl").string()};
  EXPECT_EQ(K8sManifest(job, &error), "");
  EXPECT_NE(error.find("more than a ConfigMap holds"), std::string::npos) << error;
}

}  // namespace
}  // namespace ib::collect
