// The one event schema of ib. Every line on every pipe, and every WebSocket message ib-dash
// forwards, is one JSON object described here. Producers build these structs and call
// Serialize(); consumers call ParseEvent() (or EventReader) and get the same structs back.
//
// Stream version 2 (kStreamVersion) writes "v":2 on every line and puts units in field names.
// Version 1 is the dashboard plan's original protocol (no "v"); ParseEvent upgrades v1 lines
// (gpu_sample's timestamp/active_requests/queued_requests/..., request_complete's tbt_ms) so
// old captures still load. docs/events.md lists every field.
//
//   ib::events::RequestComplete r;  r.run_id = "sim-smoke-20261204-120000";  r.request_index = 0;
//   std::string line = ib::events::Serialize(ib::events::Event{r});   // one NDJSON line
//   ib::events::ParseResult p = ib::events::ParseEvent(line);
//   if (!p.event) fail(p.error);                                     // "line 1: ..." for humans
//   if (auto* rc = std::get_if<ib::events::RequestComplete>(&*p.event)) use(rc->ttft_ms);
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/payloads.h"
#include "lib/events/request_fields.h"

namespace ib::events {

inline constexpr int kStreamVersion = 2;
// A line longer than this is reported as an error event and skipped (it is not buffered whole).
inline constexpr std::size_t kMaxLineBytes = 8u << 20;

// Phase names, in the order a run goes through them.
namespace phase {
inline constexpr const char* kProvisioning = "provisioning";
inline constexpr const char* kProvisioningDone = "provisioning_done";
inline constexpr const char* kProvisioningSkipped = "provisioning_skipped";
inline constexpr const char* kModelLoading = "model_loading";
inline constexpr const char* kModelLoadingDone = "model_loading_done";
inline constexpr const char* kExecution = "execution";
inline constexpr const char* kSweepIteration = "sweep_iteration";
inline constexpr const char* kIterationDone = "iteration_done";
// ib-run stopped a search probe early (data.early_stop: docs/results-format.md metadata).
inline constexpr const char* kEarlyStop = "early_stop";
inline constexpr const char* kCleanup = "cleanup";
inline constexpr const char* kDone = "done";
inline constexpr const char* kFailed = "failed";
}  // namespace phase

bool IsKnownPhase(std::string_view name);

// {"v":2,"type":"phase","run_id":R,"phase":P,"data":{...}}
// execution's and iteration_done's data are typed payloads (payloads.h: Execution, IterationDone;
// write them with ToJson, read them with ExecutionOf / IterationDoneOf). The other phases' data
// keys (all optional): elapsed_s, gpu_type, gpu_count, pod_id, server_url, model, framework,
// iteration (1-based), total (iterations), params {swept field: value}, result_paths, reason.
struct Phase {
  std::string run_id;
  std::string phase;
  nlohmann::json data = nlohmann::json::object();
};

// One of the server's own latency histograms (vLLM's or SGLang's /metrics), as its increase over
// the run so far: bucket counts now minus at the run's first scrape, counter resets handled
// (lib/scrape/server_histograms.h). Bounds and sums are in ms (the server's are in seconds).
struct ServerHistogram {
  std::string metric;          // the server's family name, e.g. "vllm:time_to_first_token_seconds"
  std::vector<double> le_ms;   // finite upper bounds, ascending; the +Inf bucket is implicit
  std::vector<double> counts;  // per bucket, NOT cumulative: le_ms.size() + 1 entries (+Inf last)
  double count = 0;            // observations (= the sum of counts)
  double sum_ms = 0;           // sum of the observed values
  bool operator==(const ServerHistogram&) const = default;
};

// One scrape of the server's /metrics, mapped to framework-neutral fields.
// Gauges are as scraped; *_per_s are rates between this sample and the previous one;
// *_total are deltas since the first sample of the run (the server's counters are cumulative
// since it started). Missing or NaN values are nullopt and serialize as null.
struct GpuSample {
  std::string run_id;
  double t_s = 0;  // seconds since the run's clock started (same origin as request start_ms)
  std::optional<double> kv_cache_usage_frac;         // 0..1
  std::optional<double> running_requests;
  std::optional<double> waiting_requests;
  std::optional<double> prefix_cache_hit_rate_frac;  // 0..1 over the run so far
  std::optional<double> generation_tokens_per_s;
  std::optional<double> prompt_tokens_per_s;
  std::optional<double> prompt_tokens_total;
  std::optional<double> generation_tokens_total;
  std::optional<double> prefix_cache_hits_total;
  std::optional<double> prefix_cache_queries_total;
  std::optional<double> preemptions_total;
  std::optional<double> scrape_ms;  // how long the GET /metrics took
  // The server's latency histograms over the run so far, keyed by ib's neutral name (ttft_ms,
  // itl_ms, tpot_ms, e2e_ms, queue_ms, prefill_ms, decode_ms, inference_ms). Only on some
  // samples (at most one a second, when they changed, and the last of the run): each carrying
  // sample holds the whole run's delta, so a reader keeps the latest.
  std::optional<std::map<std::string, ServerHistogram>> server_histograms;
};

// One finished request (successful or not). Offsets are milliseconds since the run's clock
// started, on CLOCK_MONOTONIC. Latency definitions follow vLLM's serving benchmark
// (docs/metrics.md): ttft_ms = first chunk with a non-empty choices array;
// ttfc_ms = first chunk with non-empty content; e2e_latency_ms = last token-bearing chunk;
// tpot_ms = (e2e - ttft) / (completion_tokens - 1). The fields are defined once, in
// lib/events/request_fields.h; every reader and writer is generated from that list.
struct RequestComplete {
  std::string run_id;
#define IB_DECLARE_FIELD(type, name, v1_key, flags, doc) type name{};
  IB_REQUEST_COMPLETE_FIELDS(IB_DECLARE_FIELD)
#undef IB_DECLARE_FIELD
};

// The request_complete fields as data, for the page (ib-dash serves it at /api/schema):
// [{"name","type":"integer|number|boolean|string|number[]","nullable","unit","doc"}...].
nlohmann::json RequestCompleteSchema();

// ib-scrape's counts at the end of a run, carried by its closing log line as a field so that
// nothing has to parse them back out of the message.
struct ScrapeStats {
  int64_t scrapes = 0;
  int64_t failed = 0;
  int64_t counter_resets = 0;
  int64_t skipped_slots = 0;
};

// {"v":2,"type":"log","run_id":R,"level":L,"message":M,"timestamp":ISO,"source":tool}
// (+ "scrape_stats":{scrapes,failed,counter_resets,skipped_slots} on ib-scrape's last line)
struct Log {
  std::string run_id;
  std::string level = "info";  // debug | info | warning | error
  std::string message;
  std::string timestamp;  // UTC ISO-8601
  std::string source;     // the tool that wrote it
  std::optional<ScrapeStats> scrape_stats;
};

// {"v":2,"type":"summary","run_id":R,"data":{aggregates...,"result_path":P}}: data is the typed
// payload SummaryData (payloads.h; ToJson to write, SummaryOf to read).
struct Summary {
  std::string run_id;
  nlohmann::json data = nlohmann::json::object();
};

// The typed payloads (payloads.h) of an execution or iteration_done phase and of a summary.
// ParseEvent has checked them; a payload built by hand that does not fit gives what could be read.
Execution ExecutionOf(const Phase& phase);
IterationDone IterationDoneOf(const Phase& phase);
SummaryData SummaryOf(const Summary& summary);

// {"v":2,"type":"error","run_id":R,"message":M,"data":{"line":N,"source":S}}
struct Error {
  std::string run_id;
  std::string message;
  std::optional<int64_t> line;  // line number in the input stream that caused it
  std::string source;
};

using Event = std::variant<Phase, GpuSample, RequestComplete, Log, Summary, Error>;

// "phase", "gpu_sample", ... for an event; run_id of any event.
std::string_view TypeName(const Event& event);
const std::string& RunId(const Event& event);

// ---- Client -> server commands (WebSocket, ib-dash) ----
struct StartExperiment {
  std::string config_path;                // relative to the project, under experiments/
  std::optional<std::string> server_url;  // skip provisioning
  bool confirm = false;                   // skip the cost prompt
  std::optional<std::string> name;
};
struct StopExperiment {
  std::string run_id;  // empty: the current run
};
struct ListConfigs {};
struct ListResults {};
struct LoadResult {
  std::string run_id;
};
struct CancelQueued {
  std::string queue_id;
};
using Command =
    std::variant<StartExperiment, StopExperiment, ListConfigs, ListResults, LoadResult, CancelQueued>;

// ---- Parsing and serialization ----
struct ParseResult {
  std::optional<Event> event;  // set on success
  std::string error;           // set on failure: what was wrong, for humans
};

// Parses one NDJSON line (without its newline). Accepts stream version 1 and 2.
ParseResult ParseEvent(std::string_view line);
// Validates and converts an already-parsed JSON object.
ParseResult EventFromJson(const nlohmann::json& json);

struct CommandParseResult {
  std::optional<Command> command;
  std::string error;
};
CommandParseResult ParseCommand(std::string_view text);

nlohmann::json ToJson(const Event& event);
nlohmann::json ToJson(const Command& command);
// One line of JSON without the trailing newline. NaN and infinities become null.
std::string Serialize(const Event& event);
std::string Serialize(const Command& command);

// Replaces every NaN or infinite number in a JSON tree with null (JSON has no NaN).
void ScrubNonFinite(nlohmann::json& json);

// Helpers for producers.
std::string NowIso8601();
Log MakeLog(std::string run_id, std::string level, std::string message, std::string source);
Error MakeError(std::string run_id, std::string message, std::string source,
                std::optional<int64_t> line = std::nullopt);

// ib-scrape's last log line: "stopped after N scrapes (F failed, R counter resets, S slots
// skipped)" for humans, with the same counts in scrape_stats for lib/results.
Log ScrapeStopLog(std::string run_id, const ScrapeStats& stats, const std::string& suffix = "");

// The level of a tool's stderr line, from its fixed prefix "<tool>: <level>: ..." or
// "<tool>: <level> (at FILE:LINE): ..." (every ib tool writes its problems so; see
// docs/pipeline.md). Anything else is "info": a word such as "error" elsewhere in the line (a
// path, a quoted server message) says nothing about the line's level.
std::string StderrLevel(std::string_view line);

}  // namespace ib::events
