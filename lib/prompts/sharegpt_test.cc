#include "lib/prompts/sharegpt.h"

#include <sstream>

#include <gtest/gtest.h>

namespace ib::prompts {
namespace {

using nlohmann::json;

constexpr const char* kSample = "experiments/datasets/sharegpt-small.json";

std::optional<ShareGptSet> Read(const std::string& text, int64_t count, const ShareGptOptions& o, DatasetError* e) {
  std::istringstream in(text);
  return ReadShareGpt(in, "d.json", count, o, e);
}

TEST(ShareGpt, CountsWordsAsSyntheticPromptsDo) {
  EXPECT_EQ(CountWords(""), 0);
  EXPECT_EQ(CountWords("  one\ttwo\n three  "), 3);
  EXPECT_EQ(CountWords("a"), 1);
}

TEST(ShareGpt, DetectsTheShapeByTheFirstByte) {
  EXPECT_TRUE(LooksLikeShareGpt(kSample));
  EXPECT_FALSE(LooksLikeShareGpt("prompts/baseline.jsonl"));
  EXPECT_FALSE(LooksLikeShareGpt("/nonexistent.json"));
}

TEST(ShareGpt, ReadsTheSampleWithVllmsFilters) {
  ShareGptOptions o;
  o.output_len_from_dataset = true;
  DatasetError e;
  auto set = LoadShareGpt(kSample, 100, o, &e);
  ASSERT_TRUE(set) << e.message;
  EXPECT_EQ(set->read, 27);
  EXPECT_EQ(set->usable, 24);  // the 2-word prompt, the 1-word answer and the gpt-only entry go
  ASSERT_EQ(set->entries.size(), 24u);
  const auto& first = set->entries[0];
  EXPECT_EQ(first.messages, json::parse(R"([{"role":"user","content":
      "Can you explain sourdough bread to a curious twelve year old, with one everyday example?"}])"));
  // The answer's words: its max_tokens.
  ASSERT_TRUE(first.max_tokens);
  EXPECT_EQ(*first.max_tokens, 31);
  for (const auto& entry : set->entries) {
    EXPECT_GE(CountWords(entry.messages[0]["content"].get<std::string>()), 4);
    ASSERT_TRUE(entry.max_tokens);
    EXPECT_GE(*entry.max_tokens, 4);
    EXPECT_TRUE(entry.follow_ups.empty());
  }
}

TEST(ShareGpt, KeepsOnlyTheFirstCountButChecksAndCountsEveryEntry) {
  ShareGptOptions o;
  DatasetError e;
  auto set = LoadShareGpt(kSample, 5, o, &e);
  ASSERT_TRUE(set) << e.message;
  EXPECT_EQ(set->entries.size(), 5u);
  EXPECT_EQ(set->usable, 25);  // without dataset output lengths the 1-word answer is fine
  EXPECT_FALSE(set->entries[0].max_tokens);
}

TEST(ShareGpt, ConversationsTakeTheHumanTurnsAsFollowUps) {
  ShareGptOptions o;
  o.turns = 3;
  DatasetError e;
  auto set = LoadShareGpt(kSample, 100, o, &e);
  ASSERT_TRUE(set) << e.message;
  EXPECT_EQ(set->usable, 15);  // entries with at least 3 human turns
  for (const auto& entry : set->entries) ASSERT_EQ(entry.follow_ups.size(), 2u);
  EXPECT_EQ(set->entries[0].follow_ups[0], "Turn that into a checklist of five items.");  // ib-sample-03
}

TEST(ShareGpt, LengthFiltersUseTheConfiguredBounds) {
  std::string text = R"([{"conversations":[{"from":"human","value":"one two three four five six"},{"from":"gpt","value":"a b c d e f g h"}]},
{"conversations":[{"from":"human","value":"one two three four"},{"from":"gpt","value":"a b c d"}]}])";
  ShareGptOptions o;
  o.max_prompt_tokens = 5;
  DatasetError e;
  auto set = Read(text, 10, o, &e);
  ASSERT_TRUE(set) << e.message;
  EXPECT_EQ(set->usable, 1);
  EXPECT_EQ(set->entries[0].messages[0]["content"], "one two three four");
  o.max_prompt_tokens = 1024;
  o.max_total_tokens = 13;  // 6 + 8 = 14 is over
  set = Read(text, 10, o, &e);
  ASSERT_TRUE(set) << e.message;
  EXPECT_EQ(set->usable, 1);
}

TEST(ShareGpt, WrongShapesNameTheLineOfTheEntry) {
  struct Case {
    std::string text;
    int64_t line;
    std::string says;
  } cases[] = {
      {R"({"conversations": []})", 1, "not a ShareGPT file"},
      {"\n\n  [\n", 4, "not closed"},
      {"[\n{\"conversations\":[{\"from\":\"human\",\"value\":\"a b c d\"}]},\n{\"talk\":[]}\n]", 3,
       "entry 2 of d.json has no 'conversations' key"},
      {"[\n{\"conversations\":{}}]", 2, "'conversations' must be a list"},
      {"[\n\n{\"conversations\":[{\"from\":\"human\",\"value\":5}]}]", 3,
       "conversations[0] must be an object with string 'from' and 'value'"},
      {"[\n7]", 2, "entry 1 of d.json must be an object"},
      {"[\n{\"conversations\":[}\n]", 2, "invalid JSON"},
      {"[{\"conversations\":[]}\n{\"conversations\":[]}]", 2, "expected ',' or ']'"},
      {"[{\"conversations\":[]}] x", 1, "text after the closing"},
      {"[{\"conversations\":[{\"from\":\"gpt\",\"value\":\"hi\"}]}]", 0, "no usable ShareGPT entry among 1"},
      {"", 1, "not a ShareGPT file"},
  };
  for (const auto& c : cases) {
    DatasetError e;
    EXPECT_FALSE(Read(c.text, 10, ShareGptOptions{}, &e)) << c.text;
    EXPECT_EQ(e.line, c.line) << c.text << " -> " << e.message;
    EXPECT_NE(e.message.find(c.says), std::string::npos) << c.text << " -> " << e.message;
  }
  DatasetError e;
  EXPECT_FALSE(LoadShareGpt("/nonexistent.json", 1, ShareGptOptions{}, &e));
  EXPECT_EQ(e.message, "Prompt file not found: /nonexistent.json");
}

TEST(ShareGpt, StringsMayHoldBracketsAndEscapedQuotes) {
  std::string text = R"([{"conversations":[{"from":"human","value":"what is [1, {2}] \"quoted\" ] here"}]}])";
  DatasetError e;
  auto set = Read(text, 10, ShareGptOptions{}, &e);
  ASSERT_TRUE(set) << e.message;
  EXPECT_EQ(set->entries[0].messages[0]["content"], "what is [1, {2}] \"quoted\" ] here");
}

}  // namespace
}  // namespace ib::prompts
