// The simulated tokenizer and text generator. A "token" of a prompt is 4 bytes of the rendered
// prompt (chat messages rendered through a fixed template), so counts are exact and repeatable,
// and 16-token prefix-cache blocks are 64-byte slices hashed in a chain (each block's hash covers
// everything before it, as vLLM's block hashes do).
//
//   int64_t prompt_tokens = ib::sim::CountTokens(rendered);   // 4 bytes a token
//   ib::sim::Rng rng(seed);
//   std::string_view word = ib::sim::TokenText(rng, /*index=*/0);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ib::sim {

constexpr int kBlockTokens = 16;
constexpr int kBytesPerToken = 4;

// Prompt tokens of a rendered prompt: ceil(bytes / 4), at least 1.
int64_t CountTokens(std::string_view rendered);
// Chained hashes of the prompt's full 16-token blocks.
std::vector<uint64_t> BlockHashes(std::string_view rendered);

// splitmix64: small, fast, and good enough to pick words and faults.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  double Uniform();  // [0, 1)
 private:
  uint64_t state_;
};

// Token text for token i of a response: a word from a fixed list (the first without a leading
// space). Plain ASCII, so it needs no JSON escaping.
std::string_view TokenText(Rng& rng, int64_t index);

// JSON string escaping for text we did not generate (model names).
std::string JsonEscape(std::string_view s);
// 32 lowercase hex characters.
std::string HexId(Rng& rng);

}  // namespace ib::sim
