// End-to-end tests of the real ib-sim binary: wire shapes in both personalities, /metrics
// accepted by promtool, the truth file against what a client received, and bad input.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/http/http.h"
#include "lib/proc/proc.h"
#include "tests/sim/sse_client.h"
#include "tests/support/sim_process.h"

namespace ib::testing {
namespace {

using json = nlohmann::json;

const char* kChatBody =
    R"({"model":"sim/m","messages":[{"role":"user","content":"Say hello to the simulator."}],)"
    R"("max_tokens":5,"stream":true,"stream_options":{"include_usage":true}})";

TEST(IbSim, VllmStreamHasTheRealShapeAndMatchesTheTruthFile) {
  std::string truth = TmpPath("vllm-truth.ndjson");
  SimProcess sim({"--model", "sim/m", "--deterministic", "--ttft-ms", "30", "--itl-ms", "5",
                  "--truth", truth});
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", kChatBody);
  ASSERT_EQ(r.curl_code, 0);
  ASSERT_EQ(r.status, 200);
  // role chunk, 5 token chunks, usage chunk, [DONE]
  ASSERT_EQ(r.events.size(), 8u) << r.body;
  json first = json::parse(r.events[0].data);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["model"], "sim/m");
  EXPECT_EQ(first["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(first["choices"][0]["delta"], json::parse(R"({"role":"assistant","content":""})"));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(first.contains("usage"));
  // Key order as vLLM sends it.
  EXPECT_EQ(r.events[1].data.find(R"({"id":")"), 0u);
  EXPECT_NE(r.events[1].data.find(R"(,"logprobs":null,"finish_reason":null}]})"), std::string::npos);
  std::string text;
  for (int i = 1; i <= 5; ++i) text += json::parse(r.events[i].data)["choices"][0]["delta"]["content"].get<std::string>();
  EXPECT_FALSE(text.empty());
  json last = json::parse(r.events[5].data)["choices"][0];
  EXPECT_EQ(last["finish_reason"], "length");
  EXPECT_TRUE(last["stop_reason"].is_null());
  json usage = json::parse(r.events[6].data);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 5);
  EXPECT_EQ(usage["usage"]["total_tokens"], usage["usage"]["prompt_tokens"].get<int>() + 5);
  EXPECT_NE(r.events[6].data.find(R"("usage":{"prompt_tokens":)"), std::string::npos);
  EXPECT_EQ(r.events[7].data, "[DONE]");

  sim.Stop();
  auto lines = ReadNdjson(truth);
  ASSERT_EQ(lines.size(), 1u);
  const json& t = lines[0];
  EXPECT_EQ(t["request_id"], first["id"]);
  EXPECT_EQ(t["path"], "/v1/chat/completions");
  EXPECT_EQ(t["status"], 200);
  EXPECT_EQ(t["fault"], "none");
  EXPECT_EQ(t["prompt_tokens"], usage["usage"]["prompt_tokens"]);
  EXPECT_EQ(t["completion_tokens"], 5);
  ASSERT_EQ(t["token_ns"].size(), 5u);
  // Same clock: each token left the server before the client saw it, after the request arrived.
  for (int i = 0; i < 5; ++i) {
    int64_t sent = t["token_ns"][i].get<int64_t>();
    EXPECT_LE(sent, r.events[i + 1].received_ns) << i;
    EXPECT_GT(sent, t["arrival_ns"].get<int64_t>());
    // Never early: token i is due at arrival + ttft + i * itl (late is possible on a busy box).
    EXPECT_GE(sent - t["arrival_ns"].get<int64_t>(), 30'000'000 + i * 5'000'000) << i;
  }
}

TEST(IbSim, SglangPersonality) {
  SimProcess sim({"--framework", "sglang", "--model", "sim/m", "--deterministic", "--ttft-ms",
                  "1", "--itl-ms", "1"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", kChatBody);
  ASSERT_EQ(r.status, 200);
  // role chunk, 5 tokens, separate finish chunk, usage, [DONE]
  ASSERT_EQ(r.events.size(), 9u) << r.body;
  json first = json::parse(r.events[0].data);
  EXPECT_EQ(first["id"].get<std::string>().size(), 32u);
  EXPECT_NE(r.events[0].data.find(R"("delta":{"reasoning_content":null,"role":"assistant","content":""},"logprobs":null,"finish_reason":null,"matched_stop":null})"), std::string::npos);
  json fin = json::parse(r.events[6].data)["choices"][0];
  EXPECT_EQ(fin["finish_reason"], "length");
  EXPECT_TRUE(fin["matched_stop"].is_null());
  json usage = json::parse(r.events[7].data)["usage"];
  EXPECT_EQ(usage["completion_tokens"], 5);
  EXPECT_TRUE(usage.contains("prompt_tokens_details"));
  EXPECT_EQ(r.events[8].data, "[DONE]");
  EXPECT_EQ(http::Get(sim.base_url() + "/health_generate").status, 200);
  auto info = http::Get(sim.base_url() + "/get_model_info");
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(json::parse(info.body)["model_path"], "sim/m");
  auto models = http::Get(sim.base_url() + "/v1/models");
  EXPECT_EQ(json::parse(models.body)["data"][0]["owned_by"], "sglang");
}

TEST(IbSim, CompletionsStreamAndNonStreaming) {
  SimProcess sim({"--model", "sim/m", "--deterministic", "--ttft-ms", "1", "--itl-ms", "1"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/completions",
                           R"({"prompt":"Once upon a time","max_tokens":3,"stream":true})");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.events.size(), 4u) << r.body;  // 3 tokens + [DONE], no usage unless asked
  json c = json::parse(r.events[0].data);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_TRUE(c["choices"][0]["text"].is_string());
  EXPECT_EQ(json::parse(r.events[2].data)["choices"][0]["finish_reason"], "length");

  http::Request req;
  req.method = "POST";
  req.url = sim.base_url() + "/v1/chat/completions";
  req.body = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":7})";
  auto resp = http::Send(req);
  ASSERT_EQ(resp.status, 200) << resp.body;
  json body = json::parse(resp.body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["usage"]["completion_tokens"], 7);
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
}

// promtool exits 1 on a parse error and 3 on lint findings; the only lint finding allowed is
// the ':' in the real metric names, which vLLM and SGLang both use.
void ExpectPromtoolAccepts(const std::string& page) {
  std::string error;
  ib::proc::SpawnOptions o;
  o.argv = {"/usr/bin/promtool", "check", "metrics"};
  o.pipe_stdin = true;
  o.stderr_fd = -1;
  auto child = ib::proc::Spawn(o, &error);
  ASSERT_TRUE(child) << error;
  ASSERT_EQ(write(child->stdin_fd, page.data(), page.size()), static_cast<ssize_t>(page.size()));
  close(child->stdin_fd);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(child->stdout_fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(child->stdout_fd);
  auto status = ib::proc::Wait(child->pid);
  ASSERT_TRUE(status.exited);
  EXPECT_NE(status.code, 1) << out << page;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    std::string line = out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? out.size() : end + 1;
    if (line.empty()) continue;
    EXPECT_NE(line.find("metric names should not contain ':'"), std::string::npos) << line;
  }
}

TEST(IbSim, MetricsPagesPassPromtool) {
  for (std::vector<std::string> personality :
       {std::vector<std::string>{"--framework", "vllm"}, {"--framework", "vllm", "--vllm-v0"},
        {"--framework", "sglang"}}) {
    personality.insert(personality.end(), {"--deterministic", "--ttft-ms", "1", "--itl-ms", "1", "--model", "sim/m"});
    SimProcess sim(personality);
    ASSERT_TRUE(sim.ok()) << sim.error();
    PostStream(sim.base_url() + "/v1/chat/completions", kChatBody);
    auto page = http::Get(sim.base_url() + "/metrics");
    ASSERT_EQ(page.status, 200);
    bool sglang = personality[1] == "sglang";
    EXPECT_NE(page.body.find(sglang ? "sglang:num_running_reqs{" : "vllm:num_requests_running{"), std::string::npos);
    EXPECT_NE(page.body.find(sglang ? "sglang:generation_tokens_total{model_name=\"sim/m\"} 5.0"
                                    : "vllm:generation_tokens_total{"), std::string::npos) << page.body;
    ExpectPromtoolAccepts(page.body);
  }
}

TEST(IbSim, BadRequestsGetClearErrors) {
  SimProcess sim({"--model", "sim/m", "--deterministic", "--ttft-ms", "1", "--itl-ms", "1"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto post = [&](const std::string& path, const std::string& body) {
    http::Request req;
    req.method = "POST";
    req.url = sim.base_url() + path;
    req.body = body;
    return http::Send(req);
  };
  auto r = post("/v1/chat/completions", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], 400);
  r = post("/v1/chat/completions", R"({"model":"other","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["message"], "The model `other` does not exist.");
  r = post("/v1/chat/completions", R"({"messages":[]})");
  EXPECT_EQ(r.status, 400);
  r = post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("max_tokens"), std::string::npos);
  r = post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":100000000})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("maximum context length"), std::string::npos);
  r = post("/v1/completions", R"({"prompt":5})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(http::Get(sim.base_url() + "/nope").status, 404);
  EXPECT_EQ(http::Get(sim.base_url() + "/v1/chat/completions").status, 405);
}

TEST(IbSim, BadFlagsExitTwo) {
  for (std::vector<std::string> argv : {std::vector<std::string>{"--speed", "0"},
                                        {"--preset", "no-such-gpu"},
                                        {"--framework", "tgi"},
                                        {"--fault-drop-rate", "2"}}) {
    std::string error;
    ib::proc::SpawnOptions o;
    o.argv = {ib::proc::FindTool("ib-sim")};
    o.argv.insert(o.argv.end(), argv.begin(), argv.end());
    int devnull = open("/dev/null", O_WRONLY);
    o.stderr_fd = devnull;
    auto child = ib::proc::Spawn(o, &error);
    close(devnull);
    ASSERT_TRUE(child) << error;
    close(child->stdout_fd);
    auto status = ib::proc::Wait(child->pid);
    EXPECT_TRUE(status.exited && status.code == 2) << argv[0] << ": " << status.Describe();
  }
}

TEST(IbSim, HandlerWriterSendsTheSameStream) {
  std::string truth = TmpPath("handler-truth.ndjson");
  SimProcess sim({"--model", "sim/m", "--deterministic", "--ttft-ms", "5", "--itl-ms", "2",
                  "--writer", "handler", "--truth", truth});
  ASSERT_TRUE(sim.ok()) << sim.error();
  SseResult r = PostStream(sim.base_url() + "/v1/chat/completions", kChatBody);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.events.size(), 8u) << r.body;
  EXPECT_EQ(r.events[7].data, "[DONE]");
  sim.Stop();
  auto lines = ReadNdjson(truth);
  ASSERT_EQ(lines.size(), 1u);
  ASSERT_EQ(lines[0]["token_ns"].size(), 5u);
  for (int i = 0; i < 5; ++i)
    EXPECT_GE(lines[0]["token_ns"][i].get<int64_t>() - lines[0]["arrival_ns"].get<int64_t>(), 5'000'000 + i * 2'000'000);
}

TEST(IbSim, SglangCompletionsAndVllmModels) {
  SimProcess sglang({"--framework", "sglang", "--deterministic", "--ttft-ms", "1", "--itl-ms", "1"});
  ASSERT_TRUE(sglang.ok()) << sglang.error();
  SseResult r = PostStream(sglang.base_url() + "/v1/completions",
                           R"({"prompt":"a","max_tokens":2,"stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(r.events.size(), 5u) << r.body;  // 2 tokens, finish, usage, [DONE]
  EXPECT_EQ(json::parse(r.events[2].data)["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(json::parse(r.events[3].data)["usage"]["completion_tokens"], 2);
  SimProcess vllm({"--preset", "llama-3.1-8b-a100", "--deterministic"});
  ASSERT_TRUE(vllm.ok()) << vllm.error();
  json models = json::parse(http::Get(vllm.base_url() + "/v1/models").body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(models["data"][0]["owned_by"], "vllm");
  EXPECT_EQ(models["data"][0]["max_model_len"], 131072);
  EXPECT_EQ(http::Get(vllm.base_url() + "/get_model_info").status, 404);  // SGLang only
}

TEST(IbSim, ExitsZeroOnSigterm) {
  SimProcess sim({"--deterministic"});
  ASSERT_TRUE(sim.ok()) << sim.error();
  EXPECT_EQ(sim.Stop(), "exit 0");
}

}  // namespace
}  // namespace ib::testing
