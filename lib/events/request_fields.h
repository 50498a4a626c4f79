// The one definition of request_complete's fields. Everything that spells them out is generated
// from this list: the RequestComplete struct (events.h), ParseEvent and Serialize (events.cc),
// the fast parser (fast_parse.cc), the results file's requests[] writer (lib/results/file.cc),
// and the schema ib-dash serves to the page at /api/schema (RequestCompleteSchema()).
//
//   #define NAME(type, name, v1_key, flags, doc) ... name ...
//   IB_REQUEST_COMPLETE_FIELDS(NAME)
//
// Columns: C++ type (drives how each path reads and writes it), member name = JSON key,
// stream-v1 key (nullptr: not in v1 lines), flags (kRequired / kOmitNull, below), one line of
// documentation (docs/events.md has the long form; events_test checks every field is there).
// Order = the order of a results file's requests[] items (the event's keys are sorted by
// nlohmann). A new field goes at the end with kOmitNull unless every results file and golden
// stream should change.
#pragma once

namespace ib::events::field {
inline constexpr int kNone = 0;
inline constexpr int kRequired = 1;  // a line without it is an error (request_index)
inline constexpr int kOmitNull = 2;  // unset: the key is left out (older files stay identical)
}  // namespace ib::events::field

// clang-format off
#define IB_REQUEST_COMPLETE_FIELDS(X)                                                              \
  X(int64_t, request_index, "request_index", ::ib::events::field::kRequired,                       \
    "0-based index of the request in the run")                                                     \
  X(std::optional<double>, ttft_ms, "ttft_ms", ::ib::events::field::kNone,                         \
    "write to first chunk with a non-empty choices array")                                         \
  X(std::optional<double>, e2e_latency_ms, "e2e_latency_ms", ::ib::events::field::kNone,           \
    "write to last token-bearing chunk")                                                           \
  X(std::vector<double>, inter_token_latencies_ms, nullptr, ::ib::events::field::kNone,            \
    "every gap between token-bearing chunks (per event)")                                          \
  X(std::optional<int64_t>, prompt_tokens, "prompt_tokens", ::ib::events::field::kNone,            \
    "prompt tokens (server usage)")                                                                \
  X(std::optional<int64_t>, completion_tokens, "completion_tokens", ::ib::events::field::kNone,    \
    "completion tokens (usage, else chunk count)")                                                 \
  X(std::optional<std::string>, error, "error", ::ib::events::field::kNone,                        \
    "null on success; a human-readable reason otherwise")                                          \
  X(std::optional<std::string>, started_at, nullptr, ::ib::events::field::kNone,                   \
    "UTC ISO-8601 wall clock of the write, for humans")                                            \
  X(std::optional<int>, turn_index, nullptr, ::ib::events::field::kNone,                           \
    "multi_turn: 0-based turn in its conversation")                                                \
  X(std::optional<int>, conversation_index, nullptr, ::ib::events::field::kNone,                   \
    "multi_turn: 0-based conversation")                                                            \
  X(int, iteration, nullptr, ::ib::events::field::kNone,                                           \
    "sweep iteration, 1-based; 0 without a sweep")                                                 \
  X(bool, warmup, nullptr, ::ib::events::field::kNone, "a warmup request (not in the summary)")    \
  X(double, start_ms, nullptr, ::ib::events::field::kNone,                                         \
    "run clock: first byte handed to the socket layer")                                            \
  X(double, end_ms, nullptr, ::ib::events::field::kNone,                                           \
    "run clock: last byte received or failure observed")                                           \
  X(std::optional<double>, scheduled_ms, nullptr, ::ib::events::field::kNone,                      \
    "run clock: open-loop scheduled send instant")                                                 \
  X(std::optional<double>, send_lag_ms, nullptr, ::ib::events::field::kNone,                       \
    "start_ms - scheduled_ms")                                                                     \
  X(std::optional<double>, ttfc_ms, nullptr, ::ib::events::field::kNone,                           \
    "write to first chunk with non-empty content")                                                 \
  X(std::optional<double>, tpot_ms, "tbt_ms", ::ib::events::field::kNone,                          \
    "(e2e - ttft) / (completion_tokens - 1)")                                                      \
  X(std::string, token_count_source, nullptr, ::ib::events::field::kNone,                          \
    "usage | chunks | empty (unknown)")                                                            \
  X(std::optional<std::string>, error_kind, nullptr, ::ib::events::field::kNone,                   \
    "http_status | sse_error | timeout | idle_timeout | connect | reset | truncated | cancelled "   \
    "| skipped")                                                                                   \
  X(std::optional<int>, http_status, nullptr, ::ib::events::field::kNone,                          \
    "HTTP status when the server answered")                                                        \
  X(bool, client_degraded, nullptr, ::ib::events::field::kNone,                                    \
    "the client fell behind while measuring this one")                                             \
  X(std::optional<double>, intended_ms, nullptr, ::ib::events::field::kOmitNull,                   \
    "run clock: the instant the request should have started (docs/metrics.md)")                    \
  X(std::optional<double>, client_queue_ms, nullptr, ::ib::events::field::kOmitNull,               \
    "start_ms - intended_ms: how long the client held it back")                                    \
  X(std::optional<std::vector<double>>, itl_tokens, nullptr, ::ib::events::field::kOmitNull,       \
    "tokens the later event of each inter_token_latencies_ms gap carried (0: none or the first)")  \
  X(std::optional<std::string>, itl_token_source, nullptr, ::ib::events::field::kOmitNull,         \
    "usage (continuous usage) | estimated (final usage spread over events) | chunks")             \
  X(std::optional<int>, shard, nullptr, ::ib::events::field::kOmitNull,                            \
    "sharded runs only: the shard K (of --shard K/N) that sent it")
// clang-format on
