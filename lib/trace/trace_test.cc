#include "lib/trace/trace.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace ib::trace {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Trace, ParsesAMooncakeLine) {
  Record r;
  EXPECT_EQ(ParseMooncake(R"({"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47]})", &r), "");
  EXPECT_EQ(r.timestamp_ms, 27482);
  EXPECT_EQ(r.input_length, 6955);
  EXPECT_EQ(r.output_length, 52);
  EXPECT_EQ(r.hash_ids, (std::vector<int64_t>{46, 47}));
}

TEST(Trace, NamesWhatIsWrongWithALine) {
  Record r;
  EXPECT_EQ(ParseMooncake("{\"timestamp\": 1,", &r), "not a JSON object");
  EXPECT_EQ(ParseMooncake("[1, 2]", &r), "not a JSON object (got array)");
  EXPECT_EQ(ParseMooncake(R"({"timestamp": 1, "input_length": 5, "hash_ids": []})", &r), "lacks \"output_length\"");
  EXPECT_EQ(ParseMooncake(R"({"input_length": 5, "output_length": 1, "hash_ids": []})", &r), "lacks \"timestamp\"");
  EXPECT_EQ(ParseMooncake(R"({"timestamp": -1, "input_length": 5, "output_length": 1, "hash_ids": []})", &r),
            "\"timestamp\" must be a number of ms >= 0");
  EXPECT_EQ(ParseMooncake(R"({"timestamp": 1, "input_length": 0, "output_length": 1, "hash_ids": []})", &r),
            "\"input_length\" must be an integer from 1 to 10000000");
  EXPECT_EQ(ParseMooncake(R"({"timestamp": 1, "input_length": 5, "output_length": "x", "hash_ids": []})", &r),
            "\"output_length\" must be an integer from 0 to 10000000");
  EXPECT_EQ(ParseMooncake(R"({"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [1, -2]})", &r),
            "\"hash_ids\" must be a list of integers >= 0");
  EXPECT_EQ(ParseMooncake(R"({"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": 3})", &r),
            "\"hash_ids\" must be a list of integers");
}

TEST(Trace, ReaderSkipsBlankLinesAndRejectsTimestampsGoingBackwards) {
  std::string path = WriteFile("back.jsonl",
                               "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [0]}\n"
                               "\n"
                               "{\"timestamp\": 10, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [1]}\n"
                               "{\"timestamp\": 9, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [2]}\n");
  Reader reader(path);
  Record r;
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_EQ(reader.line(), 1);
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_EQ(reader.line(), 3);
  EXPECT_FALSE(reader.Next(&r));
  EXPECT_EQ(reader.line(), 4);
  EXPECT_EQ(reader.error(), "timestamps go backwards (9 ms after 10 ms on an earlier line)");
  Scan scan = ScanReplay({.file = path});
  EXPECT_EQ(scan.line, 4);
  EXPECT_EQ(scan.error, reader.error());
  EXPECT_EQ(ScanReplay({.file = path + ".missing"}).error, "cannot open trace file");
}

TEST(Trace, ReplaysAWindowScaledAndSpedUp) {
  std::string text;
  for (int i = 0; i < 10; ++i)
    text += "{\"timestamp\": " + std::to_string(i * 1000) + ", \"input_length\": 1000, \"output_length\": 100, \"hash_ids\": [0, " +
            std::to_string(i + 1) + "]}\n";
  text += "this line is past the window and never read\n";
  std::string path = WriteFile("window.jsonl", text);
  Options o{.file = path, .speedup = 2, .start_s = 3, .duration_s = 5, .length_scale = 0.1};
  Replay replay(o);
  std::vector<Request> got;
  for (Request r; replay.Next(&r);) got.push_back(r);
  EXPECT_EQ(replay.error(), "");
  ASSERT_EQ(got.size(), 5u);  // timestamps 3..7 s
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(got[i].line, static_cast<int64_t>(i) + 4);
    EXPECT_DOUBLE_EQ(got[i].offset_s, static_cast<double>(i) / 2);
    EXPECT_EQ(got[i].input_tokens, 100);
    EXPECT_EQ(got[i].output_tokens, 10);
    EXPECT_EQ(got[i].block_tokens, 51);  // 512 * 0.1, rounded
  }
  Scan scan = ScanReplay(o);
  EXPECT_EQ(scan.requests, 5);
  EXPECT_DOUBLE_EQ(scan.last_offset_s, 2);
  o.max_requests = 2;
  EXPECT_EQ(ScanReplay(o).requests, 2);
  o.duration_s.reset();
  o.max_requests = 0;
  EXPECT_EQ(ScanReplay(o).line, 11);  // without a window end the bad line is reached
  EXPECT_EQ(ScanReplay(o).error, "not a JSON object");
}

TEST(Trace, EqualIdsGiveEqualTextAndSharedLeadingIdsASharedPrefix) {
  Request a{.input_tokens = 100, .block_tokens = 32, .hash_ids = {7, 8, 9, 10}};
  Request b = a;
  b.line = 5;
  b.input_tokens = 80;
  b.hash_ids = {7, 8, 11};
  std::string ta = PromptText(a), tb = PromptText(b);
  ASSERT_EQ(ta.size(), 400u);  // 4 bytes a word
  ASSERT_EQ(tb.size(), 320u);
  std::size_t common = 0;
  while (common < tb.size() && ta[common] == tb[common]) ++common;
  EXPECT_GE(common, 64u * 4);  // the two shared blocks
  EXPECT_LT(common, 64u * 4 + 4 * 4);  // and not much more (a chance word match at most)
  // Text past the ids belongs to its line.
  Request c{.line = 1, .input_tokens = 40, .block_tokens = 32, .hash_ids = {7}};
  Request d = c;
  d.line = 2;
  EXPECT_EQ(PromptText(c).substr(0, 128), PromptText(d).substr(0, 128));
  EXPECT_NE(PromptText(c).substr(128), PromptText(d).substr(128));
  // Golden: the words of id 0 (a replay is the same prompt text in every version of ib).
  EXPECT_EQ(PromptText({.input_tokens = 6, .block_tokens = 512, .hash_ids = {0}}), PromptText({.input_tokens = 6, .block_tokens = 6, .hash_ids = {0, 1}}));
  EXPECT_EQ(PromptText({.input_tokens = 6, .block_tokens = 512, .hash_ids = {0}}), " bad fit was eat cat all");
}

TEST(Trace, TheShippedSyntheticTraceAndTheRealHeadsReplayWhole) {
  for (auto [f, n] : {std::pair<const char*, int64_t>{"experiments/traces/synthetic-mooncake.jsonl", 240},
                       {"lib/trace/testdata/mooncake-conversation-head300.jsonl", 300},
                       {"lib/trace/testdata/mooncake-synthetic-head200.jsonl", 200}}) {
    Scan scan = ScanReplay({.file = f});
    EXPECT_EQ(scan.error, "") << f << ":" << scan.line;
    EXPECT_EQ(scan.requests, n) << f;
  }
}

TEST(Trace, OptionsAreChecked) {
  EXPECT_EQ(ValidateOptions({.file = "x"}), "");
  EXPECT_EQ(ValidateOptions({.file = "x", .format = "azure"}), "format must be 'mooncake' (got 'azure')");
  EXPECT_EQ(ValidateOptions({.file = "x", .speedup = 0}), "speedup must be > 0");
  EXPECT_EQ(ValidateOptions({.file = "x", .block_tokens = 0}), "block_tokens must be >= 1");
  EXPECT_EQ(ValidateOptions({.file = "x", .duration_s = 0}), "duration_s must be > 0");
  EXPECT_EQ(ValidateOptions({.file = "x", .length_scale = 0}), "length_scale must be > 0 (and at most 1000)");
}

}  // namespace
}  // namespace ib::trace
