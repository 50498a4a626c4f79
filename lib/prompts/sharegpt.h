// ShareGPT datasets: one JSON array of {"conversations": [{"from": "human"|"gpt", "value": ...}]}.
// The file is streamed (one entry in memory at a time), so a multi-GB dump is read in constant
// memory; every entry is checked for shape, only the first `count` usable ones are kept.
//
// Lengths are counted in words (whitespace-separated), the unit of ib's synthetic prompts, and
// filtered as vLLM's benchmark does: an entry is skipped when its prompt has fewer than 4 words or
// more than max_prompt_tokens, when prompt + answer exceed max_total_tokens, or (with
// output_len_from_dataset) when the answer has fewer than 4 words. Entries without a human turn
// (or, for conversations, with fewer human turns than asked) are skipped too.
//
//   prompts::ShareGptOptions o;
//   auto set = prompts::LoadShareGpt("data.json", 100, o, &error);   // error.line: dataset line
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::prompts {

// Words of a text: maximal runs of non-whitespace bytes.
int64_t CountWords(std::string_view text);

// True when the file's first non-whitespace byte is '[' (a JSON array: ShareGPT; JSONL lines are
// objects).
bool LooksLikeShareGpt(const std::string& path);

struct ShareGptOptions {
  int64_t max_prompt_tokens = 1024;
  int64_t max_total_tokens = 2048;
  bool output_len_from_dataset = false;
  int64_t turns = 0;  // 0: single prompts (first human turn); >= 1: conversations of this many turns
};

struct ShareGptEntry {
  nlohmann::json messages;              // [{"role":"user","content": first human turn}]
  std::optional<int64_t> max_tokens;    // the answer's words, with output_len_from_dataset
  std::vector<std::string> follow_ups;  // human turns 2..turns (conversations)
};

struct ShareGptSet {
  std::vector<ShareGptEntry> entries;  // the first `count` usable entries, in file order
  int64_t read = 0;                    // entries in the file
  int64_t usable = 0;                  // entries that passed the filters (all of them counted)
};

struct DatasetError {
  int64_t line = 0;  // 1-based line of the file where the problem is (0: the whole file)
  std::string message;
};

// Reads a stream (the reader behind LoadShareGpt; fuzzed). `name` names it in messages.
std::optional<ShareGptSet> ReadShareGpt(std::istream& in, const std::string& name, int64_t count,
                                        const ShareGptOptions& options, DatasetError* error);
// nullopt + *error when the file is missing, not a JSON array of entries of the right shape, or
// has no usable entry.
std::optional<ShareGptSet> LoadShareGpt(const std::string& path, int64_t count, const ShareGptOptions& options,
                                        DatasetError* error);

}  // namespace ib::prompts
