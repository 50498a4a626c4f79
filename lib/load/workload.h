// Runs one workload against a server and emits one request_complete per request:
//   single      one at a time                          breaker: 5 consecutive failures
//   batch       batches of batch_size, all at once,     breakers: 3 consecutive all-failed
//               the next when the slowest is done       batches; failures >= half the requests
//   concurrent  `concurrency` in flight (closed loop)   breaker: failures >= half the requests
//   rate        open-loop arrivals on a schedule        breaker: failures >= half the requests
//               (schedule.h, optionally ramped), capped at `concurrency` in flight when set
//   trace       open-loop: a trace's requests at their  breaker: failures >= half the requests
//               timestamps (lib/trace), same schedule   (or the trace file turned bad mid-run)
//               and cap as rate
//   multi_turn  conversations that carry the growing   breaker: 3 consecutive failed
//               context, `concurrency` of them at once  conversations; after a failed turn the
//               (1, as the original, by default)        rest of the conversation is "skipped"
// The breakers are the original tool's (docs/ib-load.md): a tripped breaker stops sending,
// lets what is in flight finish, and ends the run with completed=false.
// Warmup requests run first (closed loop at the workload's concurrency) and are flagged.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"
#include "lib/load/schedule.h"
#include "lib/load/shard.h"
#include "lib/load/stream_client.h"
#include "lib/trace/trace.h"

namespace ib::load {

struct Prompt {
  nlohmann::json messages;             // a JSON array of {role, content}
  std::optional<int64_t> max_tokens;   // overrides Workload::max_tokens (synthetic prompts)
};

struct ConversationScript {
  nlohmann::json initial;               // messages of turn 1
  std::vector<std::string> follow_ups;  // user messages of turns 2..T
};

struct Workload {
  std::string type = "single";  // single | batch | concurrent | rate | multi_turn | trace
  // Requests to send (multi_turn: conversations). 0 with duration_s: until the duration ends.
  int64_t count = 1;
  int64_t concurrency = 0;  // 0: unset (single and multi_turn use 1; rate is uncapped)
  int64_t batch_size = 0;
  double request_rate = 0;
  std::string arrival = "poisson";
  double burstiness = 1;
  int64_t seed = 1;
  std::optional<RateRamp> rate_ramp;                // rate: replaces request_rate
  std::optional<ConcurrencyRamp> concurrency_ramp;  // concurrent: replaces concurrency
  std::optional<trace::Options> trace;              // trace: the requests and their instants
  std::optional<double> duration_s;  // stop sending this long after the first request
  int64_t warmup_requests = 0;
  double timeout_s = 600;
  double idle_timeout_s = 120;
  double drain_timeout_s = 2;  // after an interrupt, how long in-flight requests may finish

  std::string model;
  // "chat": messages to /v1/chat/completions; "completions": PromptText(messages) as the
  // "prompt" string (the URL is the caller's: RunContext::url).
  std::string endpoint = "chat";
  int64_t max_tokens = 256;
  double temperature = 0.7;
  bool ignore_eos = false;
  std::vector<Prompt> prompts;                     // cycled: request i gets prompt i % n (trace: warmup only)
  std::vector<ConversationScript> conversations;  // multi_turn, cycled
  int64_t turns = 1;
  // Non-empty: the measured phase sends only these request numbers, in this order, and `count`
  // is their number. Request number i keeps request_index i and prompt i % n, so a resumed run
  // sends exactly the requests an interrupted one did not finish (ib-run --resume).
  // Not for multi_turn.
  std::vector<int64_t> request_numbers;
  // Shard K of N (lib/load/shard.h): this process runs its part of the schedule; n == 1: all.
  // Sharded multi-turn numbers requests conversation * turns + turn (unique across shards).
  Shard shard;
};

// "" when the workload can run, else the first problem found.
std::string ValidateWorkload(const Workload& workload);
// Requests the measured phase sends (conversations x turns for multi_turn); nullopt when only a
// duration bounds it.
std::optional<int64_t> TotalRequests(const Workload& workload);

struct RunContext {
  std::string url;  // full endpoint URL
  std::string run_id;
  int iteration = 0;
  int64_t t0_ns = 0;
  // CLOCK_MONOTONIC instant the measured phase starts (--start-at: all shards together); -1:
  // as soon as the warmup is done.
  int64_t start_ns = -1;
};

struct Outcome {
  bool completed = false;
  std::string reason;  // "finished", "interrupted", "circuit breaker: ...", "output closed", ...
  bool interrupted = false;
  bool breaker = false;
  int64_t sent = 0, succeeded = 0, failed = 0;  // measured phase (warmup excluded)
  StreamClient::Stats stats;
};

// Receives every event in order. Returns false when the output went away (the run stops).
using Emit = std::function<bool(const events::Event&)>;

// Runs warmup then the workload. Interrupts() (lib/load/interrupt.h) are honoured.
Outcome RunWorkload(const Workload& workload, const RunContext& context, const Emit& emit);

}  // namespace ib::load
