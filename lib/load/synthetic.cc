#include "lib/load/synthetic.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

namespace ib::load {
namespace {

const char* const kWords[] = {"time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child",
                              "world", "school", "state", "family", "student", "group", "country", "problem",
                              "hand", "part", "place", "case", "week", "company", "system", "program",
                              "question", "work", "number", "night", "point", "home", "water", "room",
                              "mother", "area", "money", "story", "fact", "month", "lot", "right", "study",
                              "book", "eye", "job", "word", "business", "issue", "side", "kind", "head",
                              "house", "service", "friend", "father", "power", "hour", "game", "line"};

int64_t Draw(const LengthDistribution& d, std::mt19937_64& rng) {
  double v = d.mean;
  if (d.stddev > 0) v = std::normal_distribution<double>(d.mean, d.stddev)(rng);
  auto n = static_cast<int64_t>(std::llround(v));
  n = std::max<int64_t>(n, std::max<int64_t>(d.min, 1));
  if (d.max > 0) n = std::min(n, d.max);
  return n;
}

}  // namespace

std::string FamilyPrefix(int64_t family, int64_t words, int64_t seed) {
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(family) + 1);
  std::string text = "f" + std::to_string(family);
  for (int64_t k = 1; k < words; ++k) {
    text.push_back(' ');
    text += kWords[rng() % std::size(kWords)];
  }
  return text;
}

std::vector<int64_t> FamilyAssignment(int64_t count, const SharedPrefix& prefix, int64_t seed) {
  std::vector<int64_t> out(static_cast<std::size_t>(std::max<int64_t>(count, 0)));
  const uint64_t families = static_cast<uint64_t>(std::max<int64_t>(prefix.families, 1));
  std::mt19937_64 rng(static_cast<uint64_t>(seed) ^ 0x5eed5eed5eed5eedull);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<int64_t>(prefix.random ? rng() % families : i % families);
  return out;
}

std::vector<Prompt> SyntheticPrompts(int64_t count, const LengthDistribution& input,
                                     const LengthDistribution& output, int64_t seed, const SharedPrefix* prefix) {
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::uniform_int_distribution<std::size_t> word(0, std::size(kWords) - 1);
  std::vector<Prompt> prompts;
  prompts.reserve(static_cast<std::size_t>(std::max<int64_t>(count, 0)));
  std::vector<std::string> prefixes;
  std::vector<int64_t> family;
  if (prefix && prefix->prefix_words > 0) {
    for (int64_t f = 0; f < std::max<int64_t>(prefix->families, 1); ++f)
      prefixes.push_back(FamilyPrefix(f, prefix->prefix_words, seed) + " ");
    family = FamilyAssignment(count, *prefix, seed);
  }
  for (int64_t i = 0; i < count; ++i) {
    int64_t words = Draw(input, rng);
    std::string text = prefixes.empty() ? std::string() : prefixes[static_cast<std::size_t>(family[static_cast<std::size_t>(i)])];
    text += std::to_string(i);
    for (int64_t k = 1; k < words; ++k) {
      text.push_back(' ');
      text += kWords[word(rng)];
    }
    Prompt p;
    p.messages = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
    p.max_tokens = Draw(output, rng);
    prompts.push_back(std::move(p));
  }
  return prompts;
}

}  // namespace ib::load
