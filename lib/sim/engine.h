// The model of an inference engine behind ib-sim: continuous batching with at most max_num_seqs
// running sequences and a FIFO waiting queue; a KV cache of fixed 16-token blocks that holds each
// running sequence's prompt and output (the youngest sequence is preempted and recomputed when
// it runs out); a prefix cache of hashed full prompt blocks that outlive their sequence until
// evicted (LRU); and a step clock: every step takes base + per_seq * batch + prefill_per_token *
// uncached prompt tokens admitted in it, and yields one token for every running sequence.
// Deterministic mode replaces all of it with token i at arrival + ttft + i * itl.
//
// Pure logic on a caller-supplied CLOCK_MONOTONIC nanosecond clock, single-threaded (the server
// calls it under one mutex), so tests drive it with made-up times.
//   Engine e(config);
//   e.Submit(&seq, now);
//   std::vector<Emission> out; e.Advance(now, &out);   // tokens due by now
//   sleep until e.NextEventNs();
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <queue>
#include <unordered_map>
#include <vector>

namespace ib::sim {

struct EngineConfig {
  bool deterministic = false;
  int64_t ttft_ns = 0;
  int64_t itl_ns = 0;
  int64_t step_base_ns = 6'000'000;
  int64_t step_per_seq_ns = 50'000;
  double prefill_ns_per_token = 30'000;
  int64_t max_num_seqs = 256;
  int64_t kv_blocks = 7000;
  bool prefix_caching = true;
};

struct Seq {
  // Set by the caller before Submit.
  int64_t prompt_tokens = 1;
  std::vector<uint64_t> block_hashes;  // full prompt blocks
  int64_t output_tokens = 1;           // tokens to produce (>= 1)
  int64_t stall_at = -1;               // pause before this token index (-1: never)
  int64_t stall_ns = 0;
  int64_t arrival_ns = 0;              // 0: the time of Submit
  void* owner = nullptr;               // the caller's request object

  // Engine state, readable by the caller.
  int64_t generated = 0;
  int64_t cached_tokens = 0;  // prefix-cache hits at first admission
  int64_t admitted_ns = -1;   // first admission (end of queueing)
  bool finished = false;

  // Engine internals.
  bool prefilled = false;
  bool cancelled = false;
  bool stall_started = false;
  int64_t stall_until = 0;
  int64_t next_ns = 0;  // deterministic schedule
  std::vector<int32_t> blocks;
};

struct Emission {
  Seq* seq;
  int64_t index;         // token index within the response
  int64_t scheduled_ns;  // when the model says it is produced
  bool last;
};

struct EngineStats {
  int64_t running = 0, waiting = 0;
  int64_t used_blocks = 0, total_blocks = 0;
  int64_t prefix_queries = 0, prefix_hits = 0;  // in tokens
  int64_t preemptions = 0;
  int64_t prompt_tokens = 0, generation_tokens = 0;
};

class Engine {
 public:
  explicit Engine(const EngineConfig& config);

  // Whether a sequence of this total length could ever hold its KV blocks.
  bool Fits(int64_t total_tokens) const;
  void Submit(Seq* seq, int64_t now_ns);
  // Removes a sequence whose client went away; frees its blocks.
  void Cancel(Seq* seq);
  // Runs the model up to now_ns and appends the tokens produced, in order.
  void Advance(int64_t now_ns, std::vector<Emission>* out);
  // When Advance next has something to do; INT64_MAX when idle.
  int64_t NextEventNs() const;
  EngineStats Stats() const;

 private:
  struct Block {
    uint64_t hash = 0;
    bool hashed = false;
    int32_t refs = 0;
    bool in_lru = false;
    std::list<int32_t>::iterator lru_it;
  };
  static int64_t BlocksFor(int64_t tokens);
  bool AllocBlock(int32_t* out);
  void ReleaseBlocks(Seq* s);
  void Preempt(Seq* s);
  void StartStep(int64_t start_ns);
  void CompleteStep(std::vector<Emission>* out);
  void Finish(Seq* s);

  EngineConfig config_;
  // Batching state.
  std::deque<Seq*> waiting_;
  std::vector<Seq*> running_;
  bool step_active_ = false;
  int64_t step_end_ns_ = 0;
  int64_t last_step_end_ns_ = 0;
  // KV cache.
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;       // blocks holding nothing
  std::list<int32_t> lru_;          // unreferenced blocks still holding a cached prefix
  std::unordered_map<uint64_t, int32_t> by_hash_;
  int64_t used_blocks_ = 0;
  // Deterministic schedule: min-heap on next_ns.
  struct Later {
    bool operator()(const Seq* a, const Seq* b) const { return a->next_ns > b->next_ns; }
  };
  std::priority_queue<Seq*, std::vector<Seq*>, Later> schedule_;
  int64_t det_running_ = 0;
  EngineStats counters_;
};

}  // namespace ib::sim
