#include "lib/config/config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "lib/config/gpu_types.h"

namespace ib::config {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Messages(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += d.Format("ib-run") + "\n";
  return out;
}

TEST(Config, EveryOriginalExampleLoadsUnchanged) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("experiments/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    LoadResult r = LoadExperiment(entry.path().string());
    EXPECT_TRUE(r.ok()) << entry.path() << "\n" << Messages(r);
    ++count;
  }
  EXPECT_GE(count, 11);  // 7 originals + the sim-* examples
}

TEST(Config, OriginalExamplesResolveAsTheOriginalDid) {
  auto sweep = LoadExperiment("experiments/examples/concurrency-sweep.yaml");
  ASSERT_TRUE(sweep.ok()) << Messages(sweep);
  const auto& c = *sweep.config;
  EXPECT_EQ(c.name, "concurrency-sweep-vllm");
  EXPECT_EQ(c.framework, "vllm");  // inherited from the base
  EXPECT_EQ(c.infrastructure.gpu_type, "RTX 4000 Ada");
  EXPECT_DOUBLE_EQ(c.framework_options.gpu_memory_utilization, 0.9);
  EXPECT_TRUE(fs::path(c.workload.requests.source).is_absolute());
  EXPECT_TRUE(fs::exists(c.workload.requests.source));
  EXPECT_EQ(fs::path(c.workload.requests.source).filename(), "baseline.jsonl");
  auto iterations = ExpandSweep(c);
  ASSERT_EQ(iterations.size(), 5u);
  EXPECT_EQ(iterations[0].name, "concurrency-sweep-vllm-c1");
  EXPECT_EQ(iterations[4].name, "concurrency-sweep-vllm-c16");
  EXPECT_EQ(*iterations[3].config.workload.concurrency, 8);
  EXPECT_EQ(iterations[3].params, nlohmann::json({{"concurrency", 8}}));
  EXPECT_EQ(iterations[3].index, 4);
  EXPECT_EQ(iterations[3].total, 5);

  auto multi = LoadExperiment("experiments/examples/multi-turn-conversation.yaml");
  ASSERT_TRUE(multi.ok()) << Messages(multi);
  EXPECT_EQ(multi.config->TotalRequests(), 100);
  EXPECT_EQ(multi.config->workload.conversation->user_messages->size(), 9u);

  auto batch = LoadExperiment("experiments/examples/batch-workload.yaml");
  ASSERT_TRUE(batch.ok()) << Messages(batch);
  EXPECT_EQ(*batch.config->workload.batch_size, 8);
  EXPECT_EQ(ExpandSweep(*batch.config).size(), 1u);
  EXPECT_EQ(ExpandSweep(*batch.config)[0].name, "batch-workload-vllm");
}

TEST(Config, ExtendsAtAnyDepthMergesDeeplyAndResolvesPathsFromTheirFile) {
  auto r = LoadExperiment("tests/configs/good/deep/deeper/child.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.name, "child");
  EXPECT_EQ(*c.description, "middle of the chain");        // from the parent
  EXPECT_EQ(c.model.name, "Qwen/Qwen3-0.6B");               // from the grandparent
  EXPECT_EQ(c.workload.parameters.max_tokens, 64);          // grandparent
  EXPECT_DOUBLE_EQ(c.workload.parameters.temperature, 0.2);  // parent, merged beside max_tokens
  EXPECT_EQ(c.framework_options.extra_args, std::vector<std::string>{"--c"});  // lists replaced
  EXPECT_FALSE(c.framework_options.enable_prefix_caching.has_value());       // explicit null wins
  EXPECT_EQ(c.metrics.percentiles, (std::vector<double>{50, 99}));
  // The grandparent wrote "../../../prompts/baseline.jsonl" relative to tests/configs/good/.
  EXPECT_TRUE(fs::exists(c.workload.requests.source)) << c.workload.requests.source;
  EXPECT_EQ(fs::path(c.workload.requests.source).filename(), "baseline.jsonl");
}

TEST(Config, SweepIsACartesianProductInAxisOrder) {
  auto r = LoadExperiment("tests/configs/good/deep/deeper/child.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  auto its = ExpandSweep(*r.config);
  ASSERT_EQ(its.size(), 4u);
  std::vector<std::string> names;
  for (const auto& it : its) names.push_back(it.name);
  EXPECT_EQ(names, (std::vector<std::string>{"child-c2-mt16", "child-c2-mt32", "child-c4-mt16", "child-c4-mt32"}));
  EXPECT_EQ(its[2].config.workload.parameters.max_tokens, 16);
  EXPECT_EQ(*its[2].config.workload.concurrency, 4);
  EXPECT_EQ(its[2].config.name, "child-c4-mt16");
}

TEST(Config, SingleIsPromotedOnASweptAxis) {
  std::string yaml = R"(name: s
model: {name: m}
framework: sglang
infrastructure: {provider: local}
workload:
  type: single
  requests: {source: prompts/baseline.jsonl, count: 4}
  sweep:
    batch_size: [2, 4]
)";
  auto r = LoadExperimentFromString(yaml, "inline.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  auto its = ExpandSweep(*r.config);
  ASSERT_EQ(its.size(), 2u);
  EXPECT_EQ(its[0].config.workload.type, "batch");
  EXPECT_EQ(its[1].name, "s-b4");
}

TEST(Config, DefaultsMatchTheOriginal) {
  std::string yaml = R"(name: d
model: {name: m}
framework: vllm
workload:
  type: single
  requests: {source: prompts/baseline.jsonl, count: 3}
)";
  auto r = LoadExperimentFromString(yaml, "inline.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.infrastructure.provider, "runpod");
  EXPECT_EQ(c.infrastructure.gpu_type, "A100-80GB");
  EXPECT_EQ(c.infrastructure.gpu_count, 1);
  EXPECT_EQ(c.workload.parameters.max_tokens, 256);
  EXPECT_DOUBLE_EQ(c.workload.parameters.temperature, 0.7);
  EXPECT_TRUE(c.metrics.collect_gpu_metrics);
  EXPECT_EQ(c.metrics.sample_interval_ms, 100);
  EXPECT_EQ(c.metrics.output_dir, "results/");
  EXPECT_EQ(c.metrics.percentiles, (std::vector<double>{50, 90, 95, 99}));
}

TEST(Config, LaxCoercionLikeTheOriginal) {
  std::string yaml = R"(name: d
model: {name: m}
framework: vllm
infrastructure: {provider: local, gpu_count: "2"}
framework_options: {enable_prefix_caching: "yes"}
workload:
  type: single
  requests: {source: prompts/baseline.jsonl, count: "10"}
  parameters: {temperature: "0.5", max_tokens: 12.0}
)";
  auto r = LoadExperimentFromString(yaml, "inline.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  EXPECT_EQ(r.config->workload.requests.count, 10);
  EXPECT_EQ(r.config->infrastructure.gpu_count, 2);
  EXPECT_EQ(r.config->workload.parameters.max_tokens, 12);
  EXPECT_DOUBLE_EQ(r.config->workload.parameters.temperature, 0.5);
  EXPECT_TRUE(*r.config->framework_options.enable_prefix_caching);
}

TEST(Config, ToJsonKeepsTheOriginalKeys) {
  auto r = LoadExperiment("experiments/examples/quick-smoke-test.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  nlohmann::json j = ToJson(*r.config);
  for (const char* key : {"name", "description", "extends", "model", "framework", "framework_options",
                          "infrastructure", "workload", "metrics"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(j["extends"].is_null());
  EXPECT_EQ(j["workload"]["requests"]["count"], 10);
  EXPECT_EQ(j["workload"]["parameters"]["max_tokens"], 128);
  EXPECT_TRUE(j["workload"]["sweep"].is_null());
  EXPECT_EQ(j["infrastructure"]["gpu_type"], "RTX 4000 Ada");
  EXPECT_EQ(j["metrics"]["sample_interval_ms"], 100);
}

TEST(Config, GpuTable) {
  ASSERT_NE(FindGpuType("RTX 4000 Ada"), nullptr);
  EXPECT_DOUBLE_EQ(FindGpuType("RTX 4000 Ada")->community_usd_per_hr, 0.29);
  EXPECT_EQ(FindGpuType("A100-80GB")->runpod_id, "NVIDIA A100 80GB PCIe");
  EXPECT_EQ(FindGpuType("a100-80gb"), nullptr);  // keys are exact, as in the original
}

// Each broken config under tests/configs/bad/ produces exactly the messages in its .expected.
TEST(Config, BrokenConfigsGiveTheirExactMessages) {
  int checked = 0;
  std::string mismatches;
  for (const auto& entry : fs::directory_iterator("tests/configs/bad")) {
    if (entry.path().extension() != ".yaml") continue;
    std::string expected_path = entry.path().string();
    expected_path.replace(expected_path.size() - 5, 5, ".expected");
    EXPECT_TRUE(fs::exists(expected_path)) << "missing " << expected_path;
    LoadResult r = LoadExperiment(entry.path().string());
    EXPECT_FALSE(r.ok()) << entry.path();
    std::string got = Messages(r);
    std::string want = Slurp(expected_path);
    if (got != want) mismatches += "== " + entry.path().string() + "\n-- want:\n" + want + "-- got:\n" + got;
    ++checked;
  }
  EXPECT_EQ(mismatches, "");
  EXPECT_GE(checked, 15);
}

TEST(Config, SearchBlockLoads) {
  auto r = LoadExperiment("experiments/examples/sim-search.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  const auto& w = r.config->workload;
  ASSERT_TRUE(w.search.has_value());
  EXPECT_EQ(w.search->over, "request_rate");
  ASSERT_EQ(w.search->slo.size(), 2u);
  EXPECT_EQ(w.search->slo[0].metric, "ttft_ms");
  EXPECT_EQ(w.search->slo[0].percentile, "p99");
  EXPECT_DOUBLE_EQ(w.search->slo[0].bound_ms, 100);
  EXPECT_EQ(w.search->slo[1].metric, "tpot_ms");
  EXPECT_DOUBLE_EQ(*w.search->min, 1);
  EXPECT_FALSE(w.search->max.has_value());
  EXPECT_DOUBLE_EQ(w.search->precision_pct, 5);
  EXPECT_EQ(w.search->max_probes, 12);
  EXPECT_TRUE(w.search->fresh_prompts);
  nlohmann::json j = ToJson(*r.config);
  EXPECT_EQ(j["workload"]["search"]["slo"], nlohmann::json::parse(R"({"ttft_ms":{"p99":100.0},"tpot_ms":{"p99":50.0}})"));
  // A config without a search has no "search" key: older results files keep their bytes.
  auto plain = LoadExperiment("experiments/examples/sim-rate.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(ToJson(*plain.config)["workload"].contains("search"));
}

TEST(Config, SearchGoodputFractionNeedsAGoodputSlo) {
  std::string yaml = R"(name: t
model: {name: m}
framework: vllm
infrastructure: {provider: local}
workload:
  type: concurrent
  requests: {synthetic: {}, count: 5}
  search:
    over: concurrency
    slo: {goodput_frac: 0.9}
)";
  auto r = LoadExperimentFromString(yaml, "t.yaml");
  EXPECT_EQ(Messages(r), "ib-run: error (at t.yaml:10): workload.search.slo.goodput_frac needs an SLO in metrics.goodput (ttft_ms, ttft_intended_ms, tpot_ms, e2e_latency_ms or e2e_intended_ms)\n");
  auto ok = LoadExperimentFromString(yaml + "metrics: {goodput: {ttft_ms: 300}}\n", "t.yaml");
  ASSERT_TRUE(ok.ok()) << Messages(ok);
  EXPECT_DOUBLE_EQ(*ok.config->workload.search->goodput_frac, 0.9);
  EXPECT_FALSE(ok.config->workload.concurrency.has_value());  // the search supplies it
}

// Goodput SLO keys are the per-request names of lib/stats/slo_metrics.h; the intended-based ones
// reach the experiment JSON only when set (older results files stay identical).
TEST(Config, GoodputTakesIntendedStartSlos) {
  std::string yaml = R"(name: t
model: {name: m}
framework: vllm
infrastructure: {provider: local}
workload:
  type: concurrent
  concurrency: 2
  requests: {synthetic: {}, count: 5}
)";
  auto ok = LoadExperimentFromString(yaml + "metrics: {goodput: {ttft_intended_ms: 500, e2e_ms: 3000}}\n", "t.yaml");
  ASSERT_TRUE(ok.ok()) << Messages(ok);
  EXPECT_EQ(ok.config->metrics.goodput.ttft_intended_ms, 500);
  EXPECT_EQ(ok.config->metrics.goodput.e2e_latency_ms, 3000);  // e2e_ms is e2e_latency_ms
  auto g = ToJson(*ok.config)["metrics"]["goodput"];
  EXPECT_EQ(g["ttft_intended_ms"], 500);
  EXPECT_FALSE(g.contains("e2e_intended_ms"));
  auto plain = LoadExperimentFromString(yaml, "t.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(ToJson(*plain.config)["metrics"]["goodput"].size(), 3u);
  auto bad = LoadExperimentFromString(yaml + "metrics: {goodput: {itl_ms: 20}}\n", "t.yaml");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(Messages(bad).find("itl_ms"), std::string::npos) << Messages(bad);
}

TEST(Config, WorkloadShapesLoadAndShowInTheResultsConfig) {
  LoadResult r = LoadExperiment("experiments/examples/sim-shared-prefix.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  const auto& sp = r.config->workload.requests.synthetic->shared_prefix;
  ASSERT_TRUE(sp);
  EXPECT_EQ(sp->families, 4);
  EXPECT_EQ(sp->prefix_tokens, 400);
  EXPECT_EQ(sp->assign, "round_robin");
  EXPECT_EQ(ToJson(*r.config)["workload"]["requests"]["synthetic"]["shared_prefix"],
            (nlohmann::json{{"families", 4}, {"prefix_tokens", 400}, {"assign", "round_robin"}}));
  EXPECT_FALSE(ToJson(*r.config)["workload"].contains("endpoint"));  // chat: results files keep their bytes

  r = LoadExperiment("experiments/examples/sim-completions.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  EXPECT_EQ(r.config->workload.endpoint, "completions");
  EXPECT_EQ(ToJson(*r.config)["workload"]["endpoint"], "completions");

  r = LoadExperiment("experiments/examples/sim-sharegpt.yaml");
  ASSERT_TRUE(r.ok()) << Messages(r);
  EXPECT_TRUE(IsShareGpt(r.config->workload));
  EXPECT_TRUE(r.config->workload.requests.output_len_from_dataset);
  auto o = ShareGptOptionsOf(r.config->workload);
  EXPECT_EQ(o.max_prompt_tokens, 1024);
  EXPECT_EQ(o.max_total_tokens, 2048);
  EXPECT_EQ(o.turns, 0);
  // Detected by shape without format:
  r.config->workload.requests.format = "";
  EXPECT_TRUE(IsShareGpt(r.config->workload));
  r.config->workload.requests.format = "jsonl";
  EXPECT_FALSE(IsShareGpt(r.config->workload));
}

TEST(Config, MissingFile) {
  auto r = LoadExperiment("tests/configs/does-not-exist.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Messages(r), "ib-run: error (at tests/configs/does-not-exist.yaml): config file not found\n");
}

}  // namespace
}  // namespace ib::config

namespace ib::config {
namespace {

// workload.workers and infrastructure.load (docs/ib-load.md "Sharding"): read, checked with the
// file's line, and in the experiment JSON only when given.
TEST(Config, ShardingKeys) {
  const std::string head = "name: t\nmodel: {name: m}\nframework: vllm\n";
  const std::string wl = "workload:\n  type: rate\n  request_rate: 5\n  requests: {synthetic: {}, count: 8}\n";
  auto plain = LoadExperimentFromString(head + "infrastructure: {provider: local}\n" + wl, "t.yaml");
  ASSERT_TRUE(plain.ok()) << Messages(plain);
  EXPECT_FALSE(plain.config->workload.workers.has_value());
  EXPECT_FALSE(ToJson(*plain.config)["workload"].contains("workers"));
  EXPECT_FALSE(ToJson(*plain.config)["infrastructure"].contains("load"));

  auto slurm = LoadExperimentFromString(
      head + "infrastructure:\n  provider: local\n  load: {launcher: slurm, tasks: 4, srun_args: [--overcommit]}\n" + wl +
          "  workers: auto\n",
      "t.yaml");
  ASSERT_TRUE(slurm.ok()) << Messages(slurm);
  EXPECT_EQ(slurm.config->infrastructure.load.launcher, "slurm");
  EXPECT_EQ(*slurm.config->infrastructure.load.tasks, 4);
  EXPECT_EQ(slurm.config->infrastructure.load.srun_args, std::vector<std::string>{"--overcommit"});
  EXPECT_EQ(*slurm.config->workload.workers, 0);  // auto
  EXPECT_EQ(ToJson(*slurm.config)["workload"]["workers"], "auto");
  EXPECT_EQ(ToJson(*slurm.config)["infrastructure"]["load"]["tasks"], 4);

  auto bad = LoadExperimentFromString(
      head + "infrastructure:\n  provider: local\n  load: {launcher: srun}\n" + wl + "  workers: 0\n", "t.yaml");
  EXPECT_EQ(Messages(bad),
            "ib-run: error (at t.yaml:6): infrastructure.load.launcher must be 'local', 'slurm' or 'k8s', got 'srun'\n"
            "ib-run: error (at t.yaml:11): workload.workers must be 1..1024 or 'auto', got 0\n");
  auto no_tasks = LoadExperimentFromString(head + "infrastructure:\n  provider: local\n  load: {launcher: slurm}\n" + wl, "t.yaml");
  EXPECT_NE(Messages(no_tasks).find("infrastructure.load.tasks"), std::string::npos) << Messages(no_tasks);
  auto local_tasks = LoadExperimentFromString(
      head + "infrastructure:\n  provider: local\n  load: {tasks: 2, collector: nowhere}\n" + wl, "t.yaml");
  EXPECT_NE(Messages(local_tasks).find("infrastructure.load.tasks is for launcher 'slurm' or 'k8s' (local workers: workload.workers)"),
            std::string::npos) << Messages(local_tasks);
  EXPECT_NE(Messages(local_tasks).find("infrastructure.load.collector must be HOST:PORT, got 'nowhere'"), std::string::npos);
}

// infrastructure.load for Kubernetes (lib/collect/k8s.h): defaults, a bare number as a
// quantity, limits defaulting to the requests in the experiment JSON, advertise kept.
TEST(Config, K8sLoadKeys) {
  const std::string head = "name: t\nmodel: {name: m}\nframework: vllm\n";
  const std::string wl = "workload:\n  type: rate\n  request_rate: 5\n  requests: {synthetic: {}, count: 8}\n";
  auto k8s = LoadExperimentFromString(head + "infrastructure:\n  provider: local\n  load: {launcher: k8s, tasks: 8, "
                                             "collector: \"0.0.0.0:7000\", advertise: \"10.1.2.3\", k8s: {cpu: 2}}\n" + wl,
                                      "t.yaml");
  ASSERT_TRUE(k8s.ok()) << Messages(k8s);
  const auto& load = k8s.config->infrastructure.load;
  EXPECT_EQ(load.launcher, "k8s");
  EXPECT_EQ(*load.tasks, 8);
  EXPECT_EQ(load.advertise, "10.1.2.3");
  EXPECT_EQ(load.k8s.cpu, "2");
  EXPECT_EQ(load.k8s.memory, "1Gi");
  EXPECT_EQ(load.k8s.image, "ib:latest");
  EXPECT_EQ(load.k8s.namespace_, "default");
  EXPECT_EQ(load.k8s.start_delay_s, 120);
  auto j = ToJson(*k8s.config)["infrastructure"]["load"];
  EXPECT_EQ(j["advertise"], "10.1.2.3");
  EXPECT_EQ(j["k8s"]["cpu_limit"], "2");
  EXPECT_EQ(j["k8s"]["memory_limit"], "1Gi");
  // The Slurm block's JSON is unchanged (results files stay byte-identical).
  auto slurm = LoadExperimentFromString(head + "infrastructure:\n  provider: local\n  load: {launcher: slurm, tasks: 2}\n" + wl, "t.yaml");
  ASSERT_TRUE(slurm.ok());
  EXPECT_FALSE(ToJson(*slurm.config)["infrastructure"]["load"].contains("k8s"));
  EXPECT_FALSE(ToJson(*slurm.config)["infrastructure"]["load"].contains("advertise"));
  // IPv6: bracketed with a port, or bare.
  for (const char* adv : {"\"[fd00::2]:7000\"", "\"fd00::2\"", "node-1.example.com"}) {
    auto v6 = LoadExperimentFromString(head + "infrastructure:\n  provider: local\n  load: {launcher: k8s, tasks: 2, "
                                              "collector: \"[::]:7000\", advertise: " + adv + "}\n" + wl,
                                       "t.yaml");
    EXPECT_TRUE(v6.ok()) << adv << ": " << Messages(v6);
  }
}

}  // namespace
}  // namespace ib::config
