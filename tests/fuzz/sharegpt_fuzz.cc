// Fuzz target: the ShareGPT reader (lib/prompts/sharegpt.h). The first byte picks the options
// (conversation turns, dataset output lengths, a small prompt bound); the rest is the file. It must
// never crash, and its answer must be consistent: an error has a message and a line within the
// input, a set holds at most `count` entries, no more than the usable ones, each shaped as asked.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "lib/prompts/sharegpt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ib::prompts::ShareGptOptions o;
  o.turns = data[0] % 4;
  o.output_len_from_dataset = (data[0] & 4) != 0;
  if (data[0] & 8) o.max_prompt_tokens = 8;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::istringstream in(text);
  ib::prompts::DatasetError error;
  const int64_t count = 3;
  auto set = ib::prompts::ReadShareGpt(in, "fuzz.json", count, o, &error);
  if (!set) {
    int64_t lines = 1;
    for (char c : text) lines += c == '\n';
    if (error.message.empty() || error.line < 0 || error.line > lines) std::abort();
    return 0;
  }
  if (set->entries.size() > static_cast<std::size_t>(count) || set->usable > set->read || set->usable < 1) std::abort();
  if (static_cast<int64_t>(set->entries.size()) != std::min<int64_t>(count, set->usable)) std::abort();
  for (const auto& e : set->entries) {
    if (!e.messages.is_array() || e.messages.size() != 1) std::abort();
    const int64_t words = ib::prompts::CountWords(e.messages[0]["content"].get<std::string>());
    if (words < 4 || words > o.max_prompt_tokens) std::abort();
    if (o.output_len_from_dataset != e.max_tokens.has_value()) std::abort();
    if (e.follow_ups.size() != static_cast<std::size_t>(o.turns > 1 ? o.turns - 1 : 0)) std::abort();
  }
  return 0;
}
