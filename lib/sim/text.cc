#include "lib/sim/text.h"

#include <array>
#include <cstdio>

namespace ib::sim {

int64_t CountTokens(std::string_view rendered) {
  int64_t n = (static_cast<int64_t>(rendered.size()) + kBytesPerToken - 1) / kBytesPerToken;
  return n < 1 ? 1 : n;
}

namespace {
// FNV-1a 64, seeded with the previous block's hash so equal blocks at different prefixes differ.
uint64_t Fnv(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace

std::vector<uint64_t> BlockHashes(std::string_view rendered) {
  constexpr std::size_t kBlockBytes = kBlockTokens * kBytesPerToken;
  std::vector<uint64_t> out;
  uint64_t h = 14695981039346656037ull;
  for (std::size_t off = 0; off + kBlockBytes <= rendered.size(); off += kBlockBytes) {
    h = Fnv(h, rendered.substr(off, kBlockBytes));
    out.push_back(h);
  }
  return out;
}

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

std::string_view TokenText(Rng& rng, int64_t index) {
  static constexpr std::array<std::string_view, 48> kWords = {
      "the",     "model",  "server", "token",   "stream",  "batch",   "cache",  "prefix",
      "latency", "of",     "and",    "to",      "a",       "is",      "in",     "that",
      "request", "GPU",    "memory", "quickly", "each",    "decode",  "prefill", "block",
      "queue",   "runs",   "with",   "for",     "it",      "sends",   "bytes",  "over",
      "time",    "first",  "next",   "value",   "simple",  "answer",  "here",   "are",
      "some",    "words",  "from",   "seeded",  "text",    "again",   "fast",   "slow"};
  static const auto kSpaced = [] {
    std::array<std::string, 48> s;
    for (std::size_t i = 0; i < kWords.size(); ++i) s[i] = " " + std::string(kWords[i]);
    return s;
  }();
  std::size_t w = rng.Next() % kWords.size();
  if (index == 0) return kWords[w];
  return kSpaced[w];
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string HexId(Rng& rng) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng.Next()),
                static_cast<unsigned long long>(rng.Next()));
  return buf;
}

}  // namespace ib::sim
