// Synthetic prompts: input and output lengths drawn from (truncated) normal distributions with
// a seed, for runs that need controlled lengths rather than the original's prompt files.
// Lengths are in words of a fixed vocabulary of short common words (about one token each for
// the usual BPE tokenizers; the server's usage.prompt_tokens reports the exact count). Each
// prompt begins with its own number so no two share a prefix-cache block by accident, unless
// they are put in prompt families that share a prefix on purpose (SharedPrefix).
//
//   auto prompts = ib::load::SyntheticPrompts(100, {.mean = 512, .stddev = 64}, {.mean = 128}, seed);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/load/workload.h"

namespace ib::load {

struct LengthDistribution {
  double mean = 128;
  double stddev = 0;
  int64_t min = 1;
  int64_t max = 0;  // 0: no upper bound
};

// Prompt families (vLLM's prefix_repetition, SGLang's generated-shared-prefix): every prompt
// starts with its family's prefix of prefix_words words, then a space and the prompt it would
// have had without families (its number first, so no two share more than the prefix).
struct SharedPrefix {
  int64_t families = 1;
  int64_t prefix_words = 0;
  bool random = false;  // false: prompt i is in family i % families; true: seeded uniform draw
};

// Each prompt gets max_tokens drawn from `output` (use with ignore_eos for exact lengths).
// With `prefix`, `input` is the length of the part after the prefix.
std::vector<Prompt> SyntheticPrompts(int64_t count, const LengthDistribution& input,
                                     const LengthDistribution& output, int64_t seed,
                                     const SharedPrefix* prefix = nullptr);

// Family f's prefix text for this seed: "f<f>" and then words - 1 words of the vocabulary, picked
// by a generator whose output the C++ standard fixes (std::mt19937_64 taken modulo), so the text is
// the same on every platform and version.
std::string FamilyPrefix(int64_t family, int64_t words, int64_t seed);
// The family of each of `count` prompts.
std::vector<int64_t> FamilyAssignment(int64_t count, const SharedPrefix& prefix, int64_t seed);

}  // namespace ib::load
