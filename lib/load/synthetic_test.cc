// Synthetic prompts and prompt families: golden texts (a seed's workload stays the same across
// versions), the family structure, and the completions request body.
#include "lib/load/synthetic.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "lib/load/request_body.h"

namespace ib::load {
namespace {

using nlohmann::json;

constexpr const char* kGolden = "lib/load/testdata/synthetic-golden.json";

json Texts(const std::vector<Prompt>& prompts) {
  json out = json::array();
  for (const auto& p : prompts)
    out.push_back({{"text", p.messages[0]["content"]}, {"max_tokens", p.max_tokens.value_or(-1)}});
  return out;
}

json Generate() {
  const LengthDistribution input{8, 2, 3, 0}, output{16, 4, 1, 0};
  SharedPrefix round_robin{3, 12, false}, random{3, 12, true};
  return {{"plain", Texts(SyntheticPrompts(6, input, output, 7))},
          {"families_round_robin", Texts(SyntheticPrompts(6, input, output, 7, &round_robin))},
          {"families_random", Texts(SyntheticPrompts(6, input, output, 7, &random))}};
}

// IB_UPDATE_GOLDEN=1 bazel run //lib/load:synthetic_test rewrites the file (a deliberate change).
TEST(Synthetic, GoldenTextsForASeed) {
  json now = Generate();
  if (const char* update = std::getenv("IB_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    std::ofstream(std::string(ws ? ws : ".") + "/" + kGolden) << now.dump(1) << "\n";
    GTEST_SKIP() << "golden file rewritten";
  }
  std::ifstream in(kGolden);
  ASSERT_TRUE(in) << kGolden;
  json golden = json::parse(in);
  EXPECT_EQ(now, golden) << "prompt texts changed for a fixed seed; now:\n" << now.dump(1);
}

TEST(Synthetic, EveryPromptStartsWithItsFamilysExactPrefix) {
  const LengthDistribution input{40, 10, 5, 0}, output{8, 0, 1, 0};
  SharedPrefix prefix{4, 100, false};
  auto plain = SyntheticPrompts(40, input, output, 11);
  auto families = SyntheticPrompts(40, input, output, 11, &prefix);
  ASSERT_EQ(families.size(), 40u);
  std::vector<std::string> prefixes;
  for (int f = 0; f < 4; ++f) prefixes.push_back(FamilyPrefix(f, 100, 11));
  for (std::size_t i = 0; i < families.size(); ++i) {
    const std::string text = families[i].messages[0]["content"];
    // The family's prefix, a space, then the prompt it would have had without families.
    EXPECT_EQ(text, prefixes[i % 4] + " " + plain[i].messages[0]["content"].get<std::string>()) << i;
    EXPECT_EQ(families[i].max_tokens, plain[i].max_tokens);
  }
  for (const auto& p : prefixes) {
    std::istringstream words(p);
    int n = 0;
    for (std::string w; words >> w;) ++n;
    EXPECT_EQ(n, 100);
  }
  // Families differ from their first word on, so no two share a prefix-cache block.
  EXPECT_EQ(prefixes[0].rfind("f0 ", 0), 0u);
  EXPECT_EQ(prefixes[3].rfind("f3 ", 0), 0u);
  EXPECT_NE(FamilyPrefix(0, 100, 11), FamilyPrefix(0, 100, 12));  // the seed picks the words
}

TEST(Synthetic, RandomAssignmentIsSeededAndSpreadsEvenly) {
  SharedPrefix prefix{4, 10, true};
  auto a = FamilyAssignment(4000, prefix, 5);
  EXPECT_EQ(a, FamilyAssignment(4000, prefix, 5));
  EXPECT_NE(a, FamilyAssignment(4000, prefix, 6));
  std::map<int64_t, int> counts;
  for (int64_t f : a) ++counts[f];
  ASSERT_EQ(counts.size(), 4u);
  for (auto [f, n] : counts) {
    EXPECT_GT(n, 850) << f;
    EXPECT_LT(n, 1150) << f;
  }
  prefix.random = false;
  auto rr = FamilyAssignment(9, prefix, 5);
  EXPECT_EQ(rr, (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3, 0}));
}

TEST(RequestBody, CompletionsSendAPromptString) {
  EXPECT_EQ(CompletionBody("m", "Once upon", 5, 0.5, true),
            R"({"model":"m","prompt":"Once upon","max_tokens":5,"temperature":0.5,"stream":true,)"
            R"("stream_options":{"include_usage":true,"continuous_usage_stats":true},"ignore_eos":true})");
  // One message: its content exactly (a family's prefix stays a text prefix).
  EXPECT_EQ(PromptText(json::parse(R"([{"role":"user","content":"f0 a b 7 c"}])")), "f0 a b 7 c");
  // Several (a system prompt, a conversation so far): contents joined by a blank line.
  EXPECT_EQ(PromptText(json::parse(R"([{"role":"system","content":"S"},{"role":"user","content":"Q1"},)"
                                   R"({"role":"assistant","content":"A1"},{"role":"user","content":[{"type":"text","text":"Q2"}]}])")),
            "S\n\nQ1\n\nA1\n\nQ2");
}

}  // namespace
}  // namespace ib::load
