// The one definition of the payloads of the `execution` and `iteration_done` phases and of the
// `summary` event. Each payload is a list of fields (an X-macro, like request_fields.h); the
// struct, its reader FromJson, its writer ToJson and the schema ib-dash serves at /api/schema
// (PayloadSchemas()) are generated from that list, in lib/events/events.cc.
//
//   ib::events::IterationDone done;  done.completed = true;  done.reason = "finished";
//   out.Write(ib::events::Phase{run_id, ib::events::phase::kIterationDone, ib::events::ToJson(done)});
//   ...
//   ib::events::IterationDone d = ib::events::IterationDoneOf(phase);   // reader side
//   if (d.reason) use(*d.reason);
//
// Columns: C++ type, member name = JSON key, flags (field::kOmitNull: an unset value leaves the
// key out; field::kNone: written as null), one line of documentation (docs/events.md has the long
// form; events_test checks every field is there). Every field is optional: a key that is absent
// stays absent when the payload is written again. Keys a list does not name (older streams, the
// original tool's files, the latency blocks of a summary) are kept in `rest` as they came and
// written back unchanged. ParseEvent checks these payloads, so a payload of the wrong shape is an
// error event ("phase execution: data.total_requests must be an integer or null"), never a
// crash in a reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/request_fields.h"

namespace ib::events {

// iteration_done's `completed`: ib-load writes true/false (the workload ran to its end); the
// dashboard plan's v1 streams wrote the count of finished requests.
using BoolOrCount = std::variant<bool, int64_t>;

}  // namespace ib::events

// clang-format off
// execution.data.shard: which shard of --shard K/N sent it (ib-collect forwards one execution
// for the run and replaces it with `shards`).
#define IB_SHARD_POSITION_FIELDS(X)                                                               \
  X(std::optional<int>, k, ::ib::events::field::kOmitNull, "this shard, 0-based")                  \
  X(std::optional<int>, n, ::ib::events::field::kOmitNull, "shards in the run")

#define IB_EXECUTION_FIELDS(X)                                                                    \
  X(std::optional<nlohmann::json>, experiment, ::ib::events::field::kOmitNull,                    \
    "the experiment as run: lib/config's ToJson of its sections (object)")                        \
  X(std::optional<nlohmann::json>, metadata, ::ib::events::field::kOmitNull,                      \
    "server_url, framework, model and every --meta key=value (object)")                           \
  X(std::optional<int64_t>, total_requests, ::ib::events::field::kNone,                            \
    "planned measured requests of the whole run (also on a shard); null when unknown")           \
  X(std::optional<std::string>, workload_type, ::ib::events::field::kOmitNull,                    \
    "workload.type: concurrent | rate | batch | multi_turn | trace ...")                          \
  X(std::optional<int>, iteration, ::ib::events::field::kOmitNull, "sweep iteration, 1-based")    \
  X(std::optional<int>, total, ::ib::events::field::kOmitNull, "iterations in the sweep")         \
  X(std::optional<nlohmann::json>, params, ::ib::events::field::kOmitNull,                        \
    "this iteration's swept values {field: value} (object)")                                      \
  X(std::optional<int64_t>, warmup_requests, ::ib::events::field::kOmitNull,                       \
    "warmup requests sent before the measured ones")                                              \
  X(std::optional<std::string>, server_url, ::ib::events::field::kOmitNull, "the server's URL")   \
  X(std::optional<std::string>, model, ::ib::events::field::kOmitNull, "model name")              \
  X(std::optional<std::string>, framework, ::ib::events::field::kOmitNull, "vllm | sglang | ...") \
  X(std::optional<::ib::events::ShardPosition>, shard, ::ib::events::field::kOmitNull,           \
    "sharded ib-load only: {k, n}")                                                               \
  X(std::optional<int>, shards, ::ib::events::field::kOmitNull,                                   \
    "ib-collect's merged stream: how many shards")

// iteration_done.data.requests
#define IB_REQUEST_COUNTS_FIELDS(X)                                                               \
  X(std::optional<int64_t>, sent, ::ib::events::field::kOmitNull, "measured requests sent")       \
  X(std::optional<int64_t>, succeeded, ::ib::events::field::kOmitNull, "of those, succeeded")     \
  X(std::optional<int64_t>, failed, ::ib::events::field::kOmitNull, "of those, failed")

// iteration_done.data.client: one load process's own figures (docs/ib-load.md "Client figures").
#define IB_PROCESS_FIGURES_FIELDS(X)                                                              \
  X(std::optional<double>, cpu_s, ::ib::events::field::kOmitNull, "CPU seconds the iteration used") \
  X(std::optional<double>, max_rss_mb, ::ib::events::field::kOmitNull, "peak resident memory, MB") \
  X(std::optional<int64_t>, sse_events, ::ib::events::field::kOmitNull, "SSE events parsed")       \
  X(std::optional<int64_t>, bytes, ::ib::events::field::kOmitNull, "response bytes read")          \
  X(std::optional<double>, cpu_us_per_sse_event, ::ib::events::field::kOmitNull,                  \
    "cpu_s per SSE event, microseconds")                                                          \
  X(std::optional<int64_t>, loop_passes, ::ib::events::field::kOmitNull, "event-loop passes")      \
  X(std::optional<int64_t>, loop_stalls, ::ib::events::field::kOmitNull,                           \
    "event-loop passes longer than the stall threshold")                                          \
  X(std::optional<double>, max_loop_pass_ms, ::ib::events::field::kOmitNull,                      \
    "longest event-loop pass, ms")

// One shard in ib-collect's merged iteration_done (client.shards[]).
#define IB_SHARD_FIGURES_FIELDS(X)                                                                \
  X(std::optional<int>, shard, ::ib::events::field::kOmitNull, "the shard K")                     \
  X(std::optional<double>, clock_offset_ms, ::ib::events::field::kOmitNull,                       \
    "its clock minus the collector's, ms")                                                         \
  X(std::optional<double>, round_trip_ms, ::ib::events::field::kOmitNull,                         \
    "round trip of the clock handshake, ms")                                                       \
  X(std::optional<std::string>, lost, ::ib::events::field::kOmitNull,                              \
    "why the shard was lost (lost shards only)")                                                   \
  X(std::optional<::ib::events::ProcessFigures>, client, ::ib::events::field::kOmitNull,          \
    "that shard's client figures")                                                                 \
  X(std::optional<double>, cpu_share, ::ib::events::field::kOmitNull,                              \
    "client.cpu_s / elapsed_s: the share of a core its event loop used")

// iteration_done.data.client: a process's figures, and in ib-collect's merged one the sums and
// maxima over the shards plus the per-shard list.
#define IB_CLIENT_FIGURES_FIELDS(X)                                                               \
  IB_PROCESS_FIGURES_FIELDS(X)                                                                    \
  X(std::optional<std::vector<int>>, bottleneck_shards, ::ib::events::field::kOmitNull,           \
    "merged only: shards whose event loop used most of a core")                                   \
  X(std::optional<std::vector<::ib::events::ShardFigures>>, shards, ::ib::events::field::kOmitNull, \
    "merged only: each shard's figures")

#define IB_ITERATION_DONE_FIELDS(X)                                                               \
  X(std::optional<::ib::events::BoolOrCount>, completed, ::ib::events::field::kOmitNull,          \
    "true when the workload ran to its end (v1 streams: the count of finished requests)")         \
  X(std::optional<std::string>, reason, ::ib::events::field::kOmitNull,                            \
    "finished | interrupted | circuit breaker: ... | output closed | ...")                        \
  X(std::optional<int>, iteration, ::ib::events::field::kOmitNull, "sweep iteration, 1-based")    \
  X(std::optional<int>, total, ::ib::events::field::kOmitNull, "iterations in the sweep")         \
  X(std::optional<double>, elapsed_s, ::ib::events::field::kOmitNull,                              \
    "the iteration's measured window, seconds")                                                    \
  X(std::optional<double>, duration_s, ::ib::events::field::kOmitNull,                             \
    "other producers' name for elapsed_s (preferred when present)")                               \
  X(std::optional<::ib::events::RequestCounts>, requests, ::ib::events::field::kOmitNull,         \
    "{sent, succeeded, failed} of the measured requests")                                         \
  X(std::optional<::ib::events::ClientFigures>, client, ::ib::events::field::kOmitNull,           \
    "the load client's own figures")                                                               \
  X(std::optional<int>, shard, ::ib::events::field::kOmitNull, "sharded ib-load only: its K")     \
  X(std::optional<int>, shards, ::ib::events::field::kOmitNull, "ib-collect's merge: shards")     \
  X(std::optional<std::vector<int>>, lost_shards, ::ib::events::field::kOmitNull,                 \
    "ib-collect's merge: shards lost")                                                             \
  X(std::optional<double>, clock_offset_max_ms, ::ib::events::field::kOmitNull,                    \
    "ib-collect's merge: the worst shard clock offset, ms")

// summary.data: what ib-aggregate (and ib-dash when it saves a run) adds, and the top-level
// counts of the results file's summary (docs/results-format.md). Its latency blocks (ttft, e2e,
// itl, ...), goodput, client, gpu_summary and server view stay in `rest`, as lib/results made them.
#define IB_SUMMARY_FIELDS(X)                                                                      \
  X(std::optional<std::string>, result_path, ::ib::events::field::kOmitNull,                       \
    "the results file written")                                                                    \
  X(std::optional<std::string>, results_run_id, ::ib::events::field::kOmitNull,                    \
    "the run id inside that file (differs when the file name was taken)")                         \
  X(std::optional<std::string>, status, ::ib::events::field::kOmitNull,                            \
    "completed | partial | failed")                                                                \
  X(std::optional<std::string>, stop_reason, ::ib::events::field::kNone,                           \
    "why a partial or failed run stopped; null otherwise")                                                         \
  X(std::optional<int64_t>, total_requests, ::ib::events::field::kOmitNull,                        \
    "measured requests that finished")                                                             \
  X(std::optional<int64_t>, successful_requests, ::ib::events::field::kOmitNull, "of those, ok")  \
  X(std::optional<int64_t>, failed_requests, ::ib::events::field::kOmitNull, "of those, failed")  \
  X(std::optional<int64_t>, warmup_requests, ::ib::events::field::kOmitNull,                       \
    "warmup requests (not in the figures)")                                                        \
  X(std::optional<double>, total_duration_s, ::ib::events::field::kOmitNull,                       \
    "the measured window, seconds")                                                                \
  X(std::optional<double>, requests_per_second, ::ib::events::field::kOmitNull,                    \
    "successful requests per second")                                                              \
  X(std::optional<int64_t>, total_prompt_tokens, ::ib::events::field::kOmitNull,                   \
    "prompt tokens of the successful requests")                                                    \
  X(std::optional<int64_t>, total_completion_tokens, ::ib::events::field::kOmitNull,               \
    "completion tokens of the successful requests")                                                \
  X(std::optional<double>, tokens_per_second, ::ib::events::field::kOmitNull,                      \
    "output tokens per second")                                                                    \
  X(std::optional<double>, total_tokens_per_second, ::ib::events::field::kOmitNull,                \
    "prompt + output tokens per second")
// clang-format on

namespace ib::events {

#define IB_PAYLOAD_MEMBER(type, name, flags, doc) type name{};
#define IB_PAYLOAD_STRUCT(Name, FIELDS)                                                 \
  struct Name {                                                                         \
    FIELDS(IB_PAYLOAD_MEMBER)                                                           \
    /* keys the list does not name, as they came; written back unchanged */            \
    nlohmann::json rest = nlohmann::json::object();                                     \
  };                                                                                    \
  /* Reads a JSON object; false (and *error names the key) when a field has the wrong type. */ \
  bool FromJson(const nlohmann::json& json, Name* out, std::string* error);            \
  nlohmann::json ToJson(const Name& value);

IB_PAYLOAD_STRUCT(ShardPosition, IB_SHARD_POSITION_FIELDS)
IB_PAYLOAD_STRUCT(Execution, IB_EXECUTION_FIELDS)
IB_PAYLOAD_STRUCT(RequestCounts, IB_REQUEST_COUNTS_FIELDS)
IB_PAYLOAD_STRUCT(ProcessFigures, IB_PROCESS_FIGURES_FIELDS)
IB_PAYLOAD_STRUCT(ShardFigures, IB_SHARD_FIGURES_FIELDS)
IB_PAYLOAD_STRUCT(ClientFigures, IB_CLIENT_FIGURES_FIELDS)
IB_PAYLOAD_STRUCT(IterationDone, IB_ITERATION_DONE_FIELDS)
IB_PAYLOAD_STRUCT(SummaryData, IB_SUMMARY_FIELDS)

#undef IB_PAYLOAD_STRUCT
#undef IB_PAYLOAD_MEMBER

// The payload lists as data, for the page and docs/events.md (ib-dash serves it at /api/schema):
// {"execution":[{name,type,nullable,doc}...], "iteration_done":[...], "summary":[...],
//  "execution.shard":[...], "iteration_done.requests":[...], "iteration_done.client":[...],
//  "iteration_done.client.shards[]":[...]}.
nlohmann::json PayloadSchemas();

}  // namespace ib::events
