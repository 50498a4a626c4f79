// Synthetic prompts: input and output lengths drawn from (truncated) normal distributions with
// a seed, for runs that need controlled lengths rather than the original's prompt files.
// Lengths are in words of a fixed vocabulary of short common words (about one token each for
// the usual BPE tokenizers; the server's usage.prompt_tokens reports the exact count). Each
// prompt begins with its own number so no two share a prefix-cache block by accident.
//
//   auto prompts = ib::load::SyntheticPrompts(100, {.mean = 512, .stddev = 64}, {.mean = 128}, seed);
#pragma once

#include <cstdint>
#include <vector>

#include "lib/load/workload.h"

namespace ib::load {

struct LengthDistribution {
  double mean = 128;
  double stddev = 0;
  int64_t min = 1;
  int64_t max = 0;  // 0: no upper bound
};

// Each prompt gets max_tokens drawn from `output` (use with ignore_eos for exact lengths).
std::vector<Prompt> SyntheticPrompts(int64_t count, const LengthDistribution& input,
                                     const LengthDistribution& output, int64_t seed);

}  // namespace ib::load
