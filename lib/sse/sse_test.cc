#include "lib/sse/sse.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ib::sse {
namespace {

std::string ReadTestdata(const std::string& name) {
  std::ifstream in("lib/sse/testdata/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> FeedAll(Parser& p, const std::string& bytes, std::size_t piece) {
  std::vector<std::string> events;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    std::size_t n = std::min(piece, bytes.size() - i);
    p.Feed(bytes.data() + i, n, [&](std::string_view d) { events.emplace_back(d); });
  }
  return events;
}

TEST(SseParser, SplitsEventsWhateverTheReadSizes) {
  std::string bytes = ReadTestdata("openai-chat-stream-gpt-5-nano.txt");
  Parser whole;
  auto expected = FeedAll(whole, bytes, bytes.size());
  ASSERT_GT(expected.size(), 10u);
  EXPECT_EQ(expected.back(), "[DONE]");
  for (std::size_t piece : {1u, 2u, 3u, 7u, 64u, 1000u}) {
    Parser p;
    EXPECT_EQ(FeedAll(p, bytes, piece), expected) << "piece " << piece;
    EXPECT_FALSE(p.HasPartialEvent());
  }
}

TEST(SseParser, AcceptsEveryLineEndingAndJoinsDataLines) {
  std::string bytes = "data: a\r\n\r\ndata:b\r\rdata: c\n\n: comment\nevent: x\nid: 3\ndata: d1\ndata: d2\n\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, bytes.size()}) {
    Parser p;
    EXPECT_EQ(FeedAll(p, bytes, piece), (std::vector<std::string>{"a", "b", "c", "d1\nd2"}));
  }
}

TEST(SseParser, IgnoresBlankLinesWithoutDataAndFieldsWithoutColon) {
  Parser p;
  EXPECT_EQ(FeedAll(p, "\n\n\nretry: 5\n\ndata\n\n", 1), (std::vector<std::string>{""}));
}

TEST(SseParser, ReportsAPartialEventAtTheEnd) {
  Parser p;
  auto events = FeedAll(p, "data: one\n\ndata: {\"cho", 4);
  EXPECT_EQ(events, (std::vector<std::string>{"one"}));
  EXPECT_TRUE(p.HasPartialEvent());
  Parser q;
  FeedAll(q, "data: one\n\ndata: two\n", 4);
  EXPECT_TRUE(q.HasPartialEvent());  // data line without the blank line that ends the event
}

TEST(SseParser, DropsOversizedEventsAndGoesOn) {
  Parser p(/*max_event_bytes=*/16);
  auto events = FeedAll(p, "data: 0123456789abcdefXYZ\n\ndata: ok\n\n", 5);
  EXPECT_EQ(events, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(p.oversized_events(), 1);
}

// A line that outgrows the limit before its end arrives is dropped whole: its tail is not a line
// of its own and its end is not the blank line that ends the event (found reviewing fuzz finds).
TEST(SseParser, DropsTheRestOfAnOversizedLineUpToItsEnd) {
  Parser p(/*max_event_bytes=*/16);
  std::vector<std::string> events;
  auto on_event = [&](std::string_view d) { events.emplace_back(d); };
  std::string head = "data: 0123456789abcdefghij", tail = "data: forged\ndata: x\n\ndata: ok\n\n";
  p.Feed(head.data(), head.size(), on_event);
  EXPECT_TRUE(p.HasPartialEvent());
  p.Feed(tail.data(), tail.size(), on_event);
  EXPECT_EQ(events, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(p.oversized_events(), 1);
  EXPECT_FALSE(p.HasPartialEvent());
}

struct StreamSummary {
  int events = 0, choices = 0, content = 0, reasoning = 0, errors = 0, invalid = 0;
  bool done = false;
  std::optional<int64_t> prompt_tokens, completion_tokens;
  std::string text;
};

StreamSummary Summarize(const std::string& name) {
  StreamSummary s;
  Parser p;
  std::string bytes = ReadTestdata(name);
  auto on_event = [&](std::string_view d) {
    Chunk c;
    ++s.events;
    if (!ParseChunk(d, &c, /*want_content=*/true)) {
      ++s.invalid;
      return;
    }
    s.done |= c.done;
    s.choices += c.has_choices;
    s.content += c.has_content;
    s.reasoning += c.has_reasoning;
    s.errors += c.error;
    if (c.completion_tokens) s.completion_tokens = c.completion_tokens;
    if (c.prompt_tokens) s.prompt_tokens = c.prompt_tokens;
    s.text += c.content;
  };
  p.Feed(bytes.data(), bytes.size(), on_event);
  p.Finish(on_event);
  return s;
}

// The fast reader agrees with a real JSON parser on every chunk of every fixture.
TEST(ParseChunk, AgreesWithNlohmannOnEveryFixture) {
  for (const char* name :
       {"vllm-chat-stream-continuous-usage-llama-3.1-70b.txt", "sglang-chat-stream-include-usage-reasoning.txt",
        "openai-chat-stream-gpt-5-nano.txt", "openai-chat-stream-include-usage-gpt-5-nano.txt",
        "openai-completions-stream-babbage-002.txt", "openai-completions-stream-include-usage-babbage-002.txt",
        "vllm-0.5-chat-stream-role-only-first-chunk-excerpt.txt"}) {
    std::string bytes = ReadTestdata(name);
    Parser p;
    int n = 0;
    p.Feed(bytes.data(), bytes.size(), [&](std::string_view d) {
      ++n;
      Chunk c;
      ASSERT_TRUE(ParseChunk(d, &c, true)) << name << ": " << d;
      if (c.done) return;
      auto j = nlohmann::json::parse(d);
      bool choices = j.contains("choices") && j["choices"].is_array() && !j["choices"].empty();
      EXPECT_EQ(c.has_choices, choices) << d;
      std::string content;
      if (choices) {
        auto& ch = j["choices"][0];
        if (ch.contains("delta") && ch["delta"].contains("content") && ch["delta"]["content"].is_string())
          content = ch["delta"]["content"];
        if (ch.contains("text") && ch["text"].is_string()) content = ch["text"];
      }
      EXPECT_EQ(c.content, content) << d;
      EXPECT_EQ(c.has_content, !content.empty()) << d;
      bool usage = j.contains("usage") && j["usage"].is_object();
      EXPECT_EQ(c.completion_tokens.has_value(), usage) << d;
      if (usage) {
        EXPECT_EQ(*c.completion_tokens, j["usage"]["completion_tokens"].get<int64_t>());
      }
      EXPECT_FALSE(c.error);
    });
    EXPECT_GT(n, 0) << name;
  }
}

TEST(ParseChunk, ReadsVllmStream) {
  StreamSummary s = Summarize("vllm-chat-stream-continuous-usage-llama-3.1-70b.txt");
  EXPECT_TRUE(s.done);  // its capture ends "data: [DONE]\n": Finish() dispatches it
  EXPECT_EQ(s.invalid, 0);
  EXPECT_EQ(s.errors, 0);
  EXPECT_EQ(s.events, 29);
  EXPECT_EQ(s.choices, 27);  // 28 chunks, the last is the usage-only one with "choices":[]
  EXPECT_EQ(s.prompt_tokens, 46);
  EXPECT_GT(*s.completion_tokens, 0);
  EXPECT_FALSE(s.text.empty());
}

TEST(ParseChunk, CountsReasoningSeparatelyFromContent) {
  StreamSummary s = Summarize("sglang-chat-stream-include-usage-reasoning.txt");
  EXPECT_TRUE(s.done);
  EXPECT_GT(s.reasoning, 0);
  EXPECT_GT(s.content, 0);
  EXPECT_TRUE(s.completion_tokens.has_value());
}

TEST(ParseChunk, RecognisesBothErrorShapes) {
  for (const char* name : {"reconstructed-vllm-stream-error-event.txt",
                           "reconstructed-sglang-and-legacy-vllm-stream-error-event.txt"}) {
    StreamSummary s = Summarize(name);
    EXPECT_EQ(s.errors, 1) << name;
    EXPECT_TRUE(s.done) << name;
  }
  Chunk c;
  ASSERT_TRUE(ParseChunk(R"({"object":"error","message":"too long","code":400})", &c));
  EXPECT_TRUE(c.error);
  EXPECT_EQ(c.error_message, "too long");
  ASSERT_TRUE(ParseChunk(R"({"error": {"message": "boom \"x\"", "code": 500}})", &c));
  EXPECT_TRUE(c.error);
  EXPECT_EQ(c.error_message, "boom \"x\"");
  ASSERT_TRUE(ParseChunk(R"({"error":null,"choices":[]})", &c));
  EXPECT_FALSE(c.error);
}

TEST(ParseChunk, DecodesEscapesAndUnicode) {
  Chunk c;
  ASSERT_TRUE(ParseChunk(R"({"choices":[{"delta":{"content":"a\nb\u00e9\ud83d\ude00\"\\/"}}]})", &c, true));
  EXPECT_EQ(c.content, "a\nb\xC3\xA9\xF0\x9F\x98\x80\"\\/");
  ASSERT_TRUE(ParseChunk(R"({"choices":[{"delta":{"role":"assistant"}}]})", &c, true));
  EXPECT_TRUE(c.has_choices);
  EXPECT_FALSE(c.has_content);
}

// A negative or non-numeric count is valid JSON: the chunk stays valid, the count is unknown
// (the value used to be left unread, which made the whole chunk invalid).
TEST(ParseChunk, ReadsPastCountsThatAreNotCounts) {
  Chunk c;
  for (const char* odd : {R"({"usage":{"prompt_tokens":-3,"completion_tokens":7}})",
                          R"({"usage":{"prompt_tokens":"3","completion_tokens":7}})",
                          R"({"usage":{"prompt_tokens":{"a":[1]},"completion_tokens":7}})",
                          R"({"usage":{"prompt_tokens":1.5,"completion_tokens":7}})",
                          R"({"usage":{"prompt_tokens":99999999999999999999999,"completion_tokens":7}})"}) {
    ASSERT_TRUE(ParseChunk(odd, &c)) << odd;
    EXPECT_FALSE(c.prompt_tokens.has_value()) << odd;
    EXPECT_EQ(c.completion_tokens, 7) << odd;
  }
  EXPECT_FALSE(ParseChunk(R"({"usage":{"prompt_tokens":-,"completion_tokens":7}})", &c));
}

TEST(ParseChunk, RejectsMalformedData) {
  Chunk c;
  for (const char* bad : {"", "{", "{\"choices\":[", "not json", "{\"a\":1}x", "{\"a\":\"\\q\"}",
                          "{\"a\":tru}", "[1,2]", "{\"choices\":[{\"delta\":{\"content\":\"x}}]}"}) {
    EXPECT_FALSE(ParseChunk(bad, &c)) << bad;
    EXPECT_FALSE(c.valid);
  }
  EXPECT_TRUE(ParseChunk(" [DONE] ", &c));
  EXPECT_TRUE(c.done);
}

}  // namespace
}  // namespace ib::sse
