#include "lib/sim/engine.h"

#include <algorithm>
#include <climits>

#include "lib/sim/text.h"

namespace ib::sim {

Engine::Engine(const EngineConfig& config) : config_(config) {
  blocks_.resize(static_cast<std::size_t>(config_.kv_blocks));
  free_.reserve(blocks_.size());
  for (int64_t i = config_.kv_blocks - 1; i >= 0; --i) free_.push_back(static_cast<int32_t>(i));
}

int64_t Engine::BlocksFor(int64_t tokens) { return (tokens + kBlockTokens - 1) / kBlockTokens; }

bool Engine::Fits(int64_t total_tokens) const {
  return config_.deterministic || BlocksFor(total_tokens) <= config_.kv_blocks;
}

void Engine::Submit(Seq* s, int64_t now_ns) {
  if (s->arrival_ns == 0) s->arrival_ns = now_ns;
  if (config_.deterministic) {
    s->admitted_ns = s->arrival_ns;
    s->next_ns = s->arrival_ns + config_.ttft_ns;
    if (s->stall_at == 0) s->next_ns += s->stall_ns;
    schedule_.push(s);
    ++det_running_;
    counters_.prompt_tokens += s->prompt_tokens;
    return;
  }
  waiting_.push_back(s);
}

void Engine::Cancel(Seq* s) {
  if (s->finished || s->cancelled) return;
  s->cancelled = true;
  if (config_.deterministic) {
    --det_running_;
    // Rebuild the heap without it: the caller frees the Seq once it is cancelled.
    std::vector<Seq*> keep;
    while (!schedule_.empty()) {
      if (schedule_.top() != s) keep.push_back(schedule_.top());
      schedule_.pop();
    }
    for (Seq* k : keep) schedule_.push(k);
    return;
  }
  if (auto it = std::find(waiting_.begin(), waiting_.end(), s); it != waiting_.end()) {
    waiting_.erase(it);
    ReleaseBlocks(s);
    return;
  }
  if (auto it = std::find(running_.begin(), running_.end(), s); it != running_.end()) {
    running_.erase(it);
    ReleaseBlocks(s);
  }
}

bool Engine::AllocBlock(int32_t* out) {
  if (!free_.empty()) {
    *out = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    *out = lru_.front();  // evict the least recently used cached prefix block
    lru_.pop_front();
    Block& b = blocks_[static_cast<std::size_t>(*out)];
    b.in_lru = false;
    if (b.hashed) by_hash_.erase(b.hash);
    b.hashed = false;
  } else {
    return false;
  }
  blocks_[static_cast<std::size_t>(*out)].refs = 1;
  ++used_blocks_;
  return true;
}

void Engine::ReleaseBlocks(Seq* s) {
  for (int32_t id : s->blocks) {
    Block& b = blocks_[static_cast<std::size_t>(id)];
    if (--b.refs > 0) continue;
    --used_blocks_;
    if (b.hashed) {
      b.in_lru = true;
      b.lru_it = lru_.insert(lru_.end(), id);
    } else {
      free_.push_back(id);
    }
  }
  s->blocks.clear();
}

void Engine::Preempt(Seq* s) {
  running_.erase(std::find(running_.begin(), running_.end(), s));
  ReleaseBlocks(s);
  s->prefilled = false;
  waiting_.push_front(s);
  ++counters_.preemptions;
}

void Engine::Finish(Seq* s) {
  s->finished = true;
  ReleaseBlocks(s);
}

void Engine::StartStep(int64_t start_ns) {
  // Room for the token each decoding sequence is about to produce; preempt the youngest
  // sequence (vLLM's recompute policy) until it fits.
  for (std::size_t i = 0; i < running_.size(); ++i) {
    Seq* s = running_[i];
    int64_t need = BlocksFor(s->prompt_tokens + s->generated + 1);
    bool preempted_self = false;
    while (static_cast<int64_t>(s->blocks.size()) < need) {
      int32_t id;
      if (AllocBlock(&id)) {
        s->blocks.push_back(id);
        continue;
      }
      Seq* victim = running_.back();
      Preempt(victim);
      if (victim == s) {
        preempted_self = true;
        break;
      }
    }
    if (preempted_self) break;  // s was the youngest; nothing after it remains
  }

  int64_t prefill_tokens = 0;
  while (!waiting_.empty() && static_cast<int64_t>(running_.size()) < config_.max_num_seqs) {
    Seq* s = waiting_.front();
    int64_t compute = s->prompt_tokens + s->generated;
    // Prefix-cache lookup over full prompt blocks; at least one token is always computed.
    int64_t hits = 0;
    int64_t evictable_hits = 0;
    if (config_.prefix_caching) {
      int64_t max_hits = (s->prompt_tokens - 1) / kBlockTokens;
      for (uint64_t h : s->block_hashes) {
        if (hits >= max_hits) break;
        auto it = by_hash_.find(h);
        if (it == by_hash_.end()) break;
        if (blocks_[static_cast<std::size_t>(it->second)].refs == 0) ++evictable_hits;
        ++hits;
      }
    }
    int64_t need = BlocksFor(compute + 1);
    int64_t available = static_cast<int64_t>(free_.size() + lru_.size()) - evictable_hits;
    if (need - hits > available) break;  // head of line waits for blocks
    for (int64_t i = 0; i < hits; ++i) {
      int32_t id = by_hash_[s->block_hashes[static_cast<std::size_t>(i)]];
      Block& b = blocks_[static_cast<std::size_t>(id)];
      if (b.refs++ == 0) {
        lru_.erase(b.lru_it);
        b.in_lru = false;
        ++used_blocks_;
      }
      s->blocks.push_back(id);
    }
    while (static_cast<int64_t>(s->blocks.size()) < need) {
      int32_t id;
      AllocBlock(&id);  // cannot fail: counted above
      s->blocks.push_back(id);
    }
    if (s->admitted_ns < 0) {
      s->admitted_ns = start_ns;
      s->cached_tokens = hits * kBlockTokens;
      counters_.prefix_queries += s->prompt_tokens;
      counters_.prefix_hits += hits * kBlockTokens;
      counters_.prompt_tokens += s->prompt_tokens;
    }
    prefill_tokens += compute - hits * kBlockTokens;
    waiting_.pop_front();
    running_.push_back(s);
  }

  double ns = static_cast<double>(config_.step_base_ns) +
              static_cast<double>(config_.step_per_seq_ns) * static_cast<double>(running_.size()) +
              config_.prefill_ns_per_token * static_cast<double>(prefill_tokens);
  step_end_ns_ = start_ns + std::max<int64_t>(static_cast<int64_t>(ns), 1000);
  step_active_ = true;
}

void Engine::CompleteStep(std::vector<Emission>* out) {
  std::vector<Seq*> done;
  for (Seq* s : running_) {
    if (!s->prefilled) {
      s->prefilled = true;
      // Publish this prompt's full blocks to the prefix cache.
      for (std::size_t i = 0; i < s->block_hashes.size() && i < s->blocks.size(); ++i) {
        Block& b = blocks_[static_cast<std::size_t>(s->blocks[i])];
        if (b.hashed || by_hash_.count(s->block_hashes[i])) continue;
        b.hashed = true;
        b.hash = s->block_hashes[i];
        by_hash_[b.hash] = s->blocks[i];
      }
    }
    if (s->generated == s->stall_at && !s->stall_started) {
      s->stall_started = true;
      s->stall_until = step_end_ns_ + s->stall_ns;
    }
    if (s->stall_started && step_end_ns_ < s->stall_until) continue;
    bool last = s->generated + 1 >= s->output_tokens;
    out->push_back({s, s->generated, step_end_ns_, last});
    ++s->generated;
    ++counters_.generation_tokens;
    if (last) done.push_back(s);
  }
  for (Seq* s : done) {
    running_.erase(std::find(running_.begin(), running_.end(), s));
    Finish(s);
  }
}

void Engine::Advance(int64_t now_ns, std::vector<Emission>* out) {
  if (config_.deterministic) {
    while (!schedule_.empty() && schedule_.top()->next_ns <= now_ns) {
      Seq* s = schedule_.top();
      schedule_.pop();
      if (s->cancelled) continue;
      bool last = s->generated + 1 >= s->output_tokens;
      out->push_back({s, s->generated, s->next_ns, last});
      ++s->generated;
      ++counters_.generation_tokens;
      if (last) {
        s->finished = true;
        --det_running_;
        continue;
      }
      s->next_ns += config_.itl_ns;
      if (s->generated == s->stall_at) s->next_ns += s->stall_ns;
      schedule_.push(s);
    }
    return;
  }
  for (;;) {
    if (step_active_) {
      if (step_end_ns_ > now_ns) return;
      CompleteStep(out);
      step_active_ = false;
      last_step_end_ns_ = step_end_ns_;
    }
    if (running_.empty() && waiting_.empty()) return;
    StartStep(std::max(last_step_end_ns_, now_ns));
  }
}

int64_t Engine::NextEventNs() const {
  if (config_.deterministic) return schedule_.empty() ? INT64_MAX : schedule_.top()->next_ns;
  if (step_active_) return step_end_ns_;
  // Work submitted but no step started yet: due now.
  return running_.empty() && waiting_.empty() ? INT64_MAX : last_step_end_ns_;
}

EngineStats Engine::Stats() const {
  EngineStats s = counters_;
  if (config_.deterministic) {
    s.running = det_running_;
  } else {
    s.running = static_cast<int64_t>(running_.size());
    s.waiting = static_cast<int64_t>(waiting_.size());
    s.used_blocks = used_blocks_;
  }
  s.total_blocks = config_.kv_blocks;
  return s;
}

}  // namespace ib::sim
