// The shard contract (docs/ib-load.md "Sharding"): shard K of N runs the part of the one
// schedule that is its own, so the N shards together send exactly what one process would.
//
//   ib::load::Shard s;
//   if (!ib::load::ParseShard("1/4", &s, &error)) ...;       // K=1, N=4
//   offsets = ib::load::TakeShard(ArrivalOffsets(...), s);    // arrivals 1, 5, 9, ...
//   int64_t slots = ib::load::ShareOf(concurrency, s);        // floor(C/N) + (K < C mod N)
//   int64_t index = ib::load::GlobalNumber(local, s);         // K + local * N
//
// Open loop: every shard computes the whole schedule and keeps arrivals i = K (mod N), so the
// merged arrivals are the single-process schedule whatever its shape (Poisson, gamma, ramps,
// traces); splitting the rate into N independent processes would preserve Poisson only.
// Closed loop: ShareOf(C) slots and requests i = K (mod N). Multi-turn: conversations
// c = K (mod N). request_index stays the global index, so the merged run has each once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ib::load {

struct Shard {
  int64_t k = 0;
  int64_t n = 1;
  bool on() const { return n > 1; }
};

// "K/N" with 0 <= K < N.
bool ParseShard(const std::string& text, Shard* out, std::string* error);

// This shard's part of `total` things dealt round-robin: floor(total/N) + (K < total mod N).
int64_t ShareOf(int64_t total, const Shard& s);

// The global number of this shard's local-th thing: K + local * N.
inline int64_t GlobalNumber(int64_t local, const Shard& s) { return s.k + local * s.n; }

// The entries i = K (mod N) of a whole schedule, in order.
template <typename T>
std::vector<T> TakeShard(const std::vector<T>& all, const Shard& s) {
  if (!s.on()) return all;
  std::vector<T> mine;
  mine.reserve(all.size() / static_cast<std::size_t>(s.n) + 1);
  for (std::size_t i = static_cast<std::size_t>(s.k); i < all.size(); i += static_cast<std::size_t>(s.n))
    mine.push_back(all[i]);
  return mine;
}

// CLOCK_REALTIME now, ns (for --start-at).
int64_t RealtimeNs();
// The CLOCK_MONOTONIC instant of a CLOCK_REALTIME instant, read through this machine's clocks.
int64_t MonotonicOfRealtime(int64_t realtime_ns);

}  // namespace ib::load
