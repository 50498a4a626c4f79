// ib-run end to end against ib-sim with the workload shapes of issue 19, each checked against
// ib-sim's truth file (what the server received and computed) rather than against ib's own view:
//   - prompt families sharing a prefix: the results' per-run prefix-cache hit rate (from ib-scrape's
//     counter deltas) equals ib-sim's own counts and is near (N-P)/N * L/(L+S);
//   - ShareGPT prompts (max_tokens = the dataset answer's words) and ShareGPT conversations;
//   - conversation.shared_prefix: every conversation's first turn hits the cached prefix;
//   - endpoint: completions, vLLM and SGLang personalities;
//   - a ShareGPT file of the wrong shape: exit 2 at the dataset's FILE:LINE, nothing started.
// The examples under experiments/examples/ run as shipped (a child config adds --truth only).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "tests/run/run_harness.h"

namespace {

namespace ev = ib::events;
namespace fs = std::filesystem;
using namespace ib::run_test;
using nlohmann::json;

class WorkloadsRunTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { BecomeSubreaper(); }
  void SetUp() override { dir_ = MakeWorkDir("workloads"); }
  void TearDown() override { EXPECT_TRUE(WaitForNoChildren({}, 30000)) << "processes left behind"; }

  // A child of the example that only adds ib-sim's truth file (and `extra` YAML).
  std::string Child(const std::string& example, const std::string& name, const std::string& extra = "") {
    std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << "extends: \"" << fs::absolute("experiments/examples/" + example).string() << "\"\n"
                        << "infrastructure:\n  sim:\n    args: [\"--truth\", \"" << Truth(name) << "\"]\n"
                        << extra;
    return path;
  }
  std::string Truth(const std::string& name) const { return dir_ + "/" + name + ".truth.ndjson"; }

  RunResult Run(const std::string& config) {
    RunSpec spec;
    spec.args = {config, "--output-dir", dir_ + "/results"};
    spec.timeout_ms = 120000;
    return RunIbRun(dir_, spec);
  }

  // The results file of a one-iteration run.
  json Results(const RunResult& r) {
    const ev::Phase* done = LastPhase(r.events);
    if (!done || !done->data.contains("result_paths") || done->data["result_paths"].size() != 1u) {
      ADD_FAILURE() << "no single results file";
      return json();
    }
    return ReadJson(done->data["result_paths"][0]);
  }

  std::string dir_;
};

std::vector<json> Lines(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(Slurp(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::vector<const ev::RequestComplete*> Requests(const RunResult& r) {
  std::vector<const ev::RequestComplete*> out;
  for (const auto& e : r.events)
    if (auto* rc = std::get_if<ev::RequestComplete>(&e)) out.push_back(rc);
  return out;
}

int64_t Words(const std::string& text) {
  std::istringstream in(text);
  int64_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

TEST_F(WorkloadsRunTest, SharedPrefixHitRateIsIbSimsAndNearTheAnalyticExpectation) {
  const std::string config = Child("sim-shared-prefix.yaml", "prefix");
  RunResult r = Run(config);
  ASSERT_EQ(r.code, 0) << r.err;
  json results = Results(r);
  ASSERT_TRUE(results.is_object());
  const json& gpu = results["summary"]["gpu_summary"];
  ASSERT_TRUE(gpu["prefix_cache_hit_rate"].is_number()) << gpu.dump();

  // ib-sim's own counts, request by request.
  auto truth = Lines(Truth("prefix"));
  ASSERT_EQ(truth.size(), 40u);
  int64_t prompt = 0, cached = 0;
  for (const auto& t : truth) {
    prompt += t["prompt_tokens"].get<int64_t>();
    cached += t["cached_prompt_tokens"].get<int64_t>();
  }
  EXPECT_EQ(gpu["server_counter_deltas"]["prefix_cache_queries"].get<double>(), static_cast<double>(prompt));
  EXPECT_EQ(gpu["server_counter_deltas"]["prefix_cache_hits"].get<double>(), static_cast<double>(cached));
  EXPECT_DOUBLE_EQ(gpu["prefix_cache_hit_rate"].get<double>(), static_cast<double>(cached) / static_cast<double>(prompt));

  // Analytic: 4 families, 400-word prefix, 100-word suffix, 40 requests; every request after its
  // family's first hits the prefix (less the partial 16-token block at its end and the chat
  // template's few bytes): (40 - 4) / 40 * 400 / 500 = 0.72.
  const double analytic = 36.0 / 40.0 * 400.0 / 500.0;
  EXPECT_NEAR(gpu["prefix_cache_hit_rate"].get<double>(), analytic, 0.03);
  // The first request of each family found nothing (round robin: requests 0-3).
  std::map<int64_t, int> misses;
  for (const auto& t : truth) misses[t["cached_prompt_tokens"].get<int64_t>() == 0]++;
  EXPECT_EQ(misses[1], 4);
}

TEST_F(WorkloadsRunTest, ShareGptPromptsTakeTheDatasetAnswerLengths) {
  RunResult r = Run(Child("sim-sharegpt.yaml", "sharegpt"));
  ASSERT_EQ(r.code, 0) << r.err;
  // What vLLM's filters keep, computed here from the dataset: first human turn 4..1024 words,
  // first answer after it 4+ words, both <= 2048.
  json dataset = json::parse(Slurp("experiments/datasets/sharegpt-small.json"));
  std::multiset<int64_t> expected;
  for (const auto& e : dataset) {
    std::string human, answer;
    bool have_human = false, have_answer = false;
    for (const auto& t : e["conversations"]) {
      if (t["from"] == "human" && !have_human) human = t["value"], have_human = true;
      else if (t["from"] == "gpt" && have_human && !have_answer) answer = t["value"], have_answer = true;
    }
    int64_t p = Words(human), a = Words(answer);
    if (have_human && have_answer && p >= 4 && p <= 1024 && a >= 4 && p + a <= 2048) expected.insert(a);
  }
  ASSERT_EQ(expected.size(), 24u);
  std::multiset<int64_t> served, reported;
  for (const auto& t : Lines(Truth("sharegpt"))) {
    EXPECT_EQ(t["path"], "/v1/chat/completions");
    served.insert(t["completion_tokens"].get<int64_t>());  // ignore_eos: exactly max_tokens
  }
  for (const auto* rc : Requests(r)) {
    EXPECT_FALSE(rc->error) << *rc->error;
    reported.insert(rc->completion_tokens.value_or(-1));
  }
  EXPECT_EQ(served, expected);
  EXPECT_EQ(reported, expected);
}

TEST_F(WorkloadsRunTest, ShareGptConversationsAndTheSharedPrefixOfConversations) {
  // 4 ShareGPT conversations of 3 human turns, one at a time (so each first turn comes after the
  // previous conversation's prefill: parallel first turns would all miss, as on a real server),
  // each after a 1200-byte shared prefix.
  std::string prefix(1200, 'p');
  for (std::size_t i = 0; i < prefix.size(); i += 7) prefix[i] = ' ';
  RunResult r = Run(Child("sim-sharegpt.yaml", "conv",
                          "workload:\n  type: \"multi_turn\"\n  concurrency: 1\n  requests:\n    count: 4\n"
                          "  conversation:\n    turns: 3\n    system_prompt: \"Be brief.\"\n"
                          "    shared_prefix: \"" + prefix + "\"\n"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto requests = Requests(r);
  ASSERT_EQ(requests.size(), 12u);
  for (const auto* rc : requests) EXPECT_FALSE(rc->error) << *rc->error;
  auto truth = Lines(Truth("conv"));
  ASSERT_EQ(truth.size(), 12u);
  // "<|system|>\n" + prefix: the prefix's full 64-byte blocks are cached for every request after
  // the first (ib-sim: 4 bytes a token, 16-token blocks).
  const int64_t prefix_tokens = (11 + static_cast<int64_t>(prefix.size())) / 64 * 16;
  EXPECT_EQ(truth[0]["cached_prompt_tokens"], 0);
  for (std::size_t i = 1; i < truth.size(); ++i)
    EXPECT_GE(truth[i]["cached_prompt_tokens"].get<int64_t>(), prefix_tokens) << "request " << i;
  // Turns grow: each conversation's later turns carry the earlier ones.
  EXPECT_GT(truth[2]["prompt_tokens"].get<int64_t>(), truth[1]["prompt_tokens"].get<int64_t>());
}

TEST_F(WorkloadsRunTest, CompletionsEndpointOnBothPersonalities) {
  for (const std::string framework : {"vllm", "sglang"}) {
    SCOPED_TRACE(framework);
    RunResult r = Run(Child("sim-completions.yaml", "completions-" + framework,
                            "framework: \"" + framework + "\"\nname: \"sim-completions-" + framework + "\"\n"));
    ASSERT_EQ(r.code, 0) << r.err;
    auto truth = Lines(Truth("completions-" + framework));
    ASSERT_EQ(truth.size(), 20u);
    std::multiset<int64_t> served_prompt, reported_prompt;
    for (const auto& t : truth) {
      EXPECT_EQ(t["path"], "/v1/completions");
      EXPECT_EQ(t["completion_tokens"], 48);
      served_prompt.insert(t["prompt_tokens"].get<int64_t>());
    }
    auto requests = Requests(r);
    ASSERT_EQ(requests.size(), 20u);
    for (const auto* rc : requests) {
      ASSERT_FALSE(rc->error) << *rc->error;
      EXPECT_EQ(rc->completion_tokens, 48);
      EXPECT_EQ(rc->token_count_source, "usage");  // the usage chunk came through
      reported_prompt.insert(rc->prompt_tokens.value_or(-1));
    }
    EXPECT_EQ(reported_prompt, served_prompt);
    json results = Results(r);
    EXPECT_EQ(results["experiment"]["workload"]["endpoint"], "completions") << results["experiment"].dump();
  }
}

TEST_F(WorkloadsRunTest, AShareGptFileOfTheWrongShapeStopsTheRunBeforeAnythingStarts) {
  std::string data = dir_ + "/bad.json";
  std::ofstream(data) << "[\n{\"conversations\": [{\"from\": \"human\", \"value\": \"one two three four\"}]},\n"
                      << "{\"conversations\": [{\"from\": \"human\", \"text\": \"no value key\"}]}\n]\n";
  std::string config = Child("sim-sharegpt.yaml", "bad", "workload:\n  requests:\n    source: \"" + data + "\"\n");
  RunResult r = Run(config);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("ib-run: error (at " + data + ":3): workload.requests.source ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ShareGPT entry 2 of " + data +
                       " conversations[0] must be an object with string 'from' and 'value'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(Truth("bad"))) << "ib-sim was started";
  EXPECT_TRUE(JsonFiles(dir_ + "/results").empty());
}

}  // namespace
