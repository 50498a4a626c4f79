#include "lib/dash/json_check.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ib::dash {
namespace {

const char kResults[] =
    R"({"run_id":"sim-smoke-20261128-030000","status":"completed","metadata":{"started_at":)"
    R"("2026-11-28T03:00:00","gpu_count":1,"cost":0.5e-3,"neg":-12,"tags":[],"none":null},)"
    R"("summary":{"ttft":{"p50":50.5,"p99":1E+2},"ok":true,"bad":false},"requests":[{"i":0,)"
    R"("text":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t","utf8":"h\u00e9\u00e9 é 日本 😀"},)"
    R"({"i":1,"itl":[10.1,10.2,0,-0.0]}],"nested":[[[]],{}]}  )";

TEST(CheckJson, AcceptsAResultsFile) {
  EXPECT_EQ(ResultsFileProblem(kResults), "");
  JsonCheck c = CheckJson(kResults);
  EXPECT_TRUE(c.top_is_object);
  EXPECT_TRUE(c.has_run_id);
}

TEST(CheckJson, SaysWhatIsWrong) {
  std::string text = kResults;
  EXPECT_EQ(ResultsFileProblem(""), "empty file");
  EXPECT_EQ(ResultsFileProblem(" \n"), "empty file");
  EXPECT_EQ(ResultsFileProblem(text.substr(0, 60)), "truncated: the JSON ends early (60 bytes)");
  EXPECT_EQ(ResultsFileProblem("[1,2]"), "not a JSON object");
  EXPECT_EQ(ResultsFileProblem(R"({"status":"completed"})"), "no run_id");
  EXPECT_EQ(ResultsFileProblem(R"({"run_id":5})"), "no run_id");
  EXPECT_EQ(ResultsFileProblem(R"({"x":{"run_id":"nested"}})"), "no run_id");
  EXPECT_EQ(ResultsFileProblem(R"({"run_id":"a"} x)"), "not valid JSON at byte 15 (data after the JSON value)");
  EXPECT_EQ(ResultsFileProblem("{\"run_id\":\"a\xff\"}"), "not valid JSON at byte 12 (invalid UTF-8)");
  EXPECT_EQ(ResultsFileProblem(R"({"run_id":"a","x":NaN})"), "not valid JSON at byte 18 (value expected)");
}

// The checker agrees with nlohmann's parser on every truncation and on random byte mutations of
// a results file (a fixed seed: the same inputs every run).
TEST(CheckJson, AgreesWithNlohmannOnMutations) {
  std::string base = kResults;
  std::vector<std::string> inputs;
  for (std::size_t n = 0; n <= base.size(); ++n) inputs.push_back(base.substr(0, n));
  std::mt19937 rng(20261128);
  const std::string alphabet = "{}[]:,\"\\ -+.0123456789eEtruefalsnl/u\xc3\xa9\xff\x01\xed\xa0\x80";
  for (int i = 0; i < 20000; ++i) {
    std::string s = base;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = rng() % s.size();
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: s[at] = c; break;
        case 1: s.insert(s.begin() + static_cast<long>(at), c); break;
        default: s.erase(at, 1); break;
      }
    }
    inputs.push_back(s);
  }
  for (const auto& in : {"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800\\udc00\"",
                         "01", "-", "1.", "1e", "1e+", "[1,]", "{\"a\":1,}", "tru", "nul", "\"\x7f\"",
                         "\"\xe0\x80\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xc0\xaf\""}) {
    inputs.push_back(in);
  }
  int disagreements = 0;
  for (const auto& in : inputs) {
    bool ours = CheckJson(in).error.empty();
    bool theirs = nlohmann::json::accept(in);
    if (ours != theirs && ++disagreements <= 5) {
      ADD_FAILURE() << "ours " << ours << ", nlohmann " << theirs << " on: " << in;
    }
  }
  EXPECT_EQ(disagreements, 0);
}

}  // namespace
}  // namespace ib::dash
