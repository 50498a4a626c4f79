// Turns what the client observed of one request into its request_complete event, with the
// metric definitions of vLLM's serving benchmark (docs/ib-load.md has the formulas):
//   ttft  = first event with a non-empty "choices" array - start
//   ttfc  = first event with non-empty content - start
//   itl   = every gap between consecutive events with a non-empty "choices" array
//   e2e   = last such event - start (the usage-only chunk and [DONE] excluded)
//   tpot  = (e2e - ttft) / (completion_tokens - 1)
// and every failure classified into one error_kind of lib/events/events.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/events/events.h"
#include "lib/load/stream_client.h"

namespace ib::load {

struct MeasureContext {
  std::string run_id;
  int iteration = 0;
  int64_t t0_ns = 0;          // the run clock origin (CLOCK_MONOTONIC)
  double idle_timeout_s = 0;  // for the idle_timeout message
  double timeout_s = 0;       // for the timeout message
  std::optional<int> shard;   // set only when sharded (request_complete.shard)
};

events::RequestComplete Measure(const Request& request, const Observation& obs, const MeasureContext& ctx);

// A synthetic failed result for a request that was never sent (a multi-turn conversation's
// remaining turns after a failed one): error_kind "skipped".
events::RequestComplete Skipped(const Request& request, int64_t now_ns, const std::string& reason,
                                const MeasureContext& ctx);

// UTC ISO-8601 wall-clock time of a CLOCK_MONOTONIC instant (for started_at).
std::string WallClockIso(int64_t monotonic_ns);

}  // namespace ib::load
