// The load generator's network side: one thread, one epoll loop over libcurl's multi-socket
// interface, any number of concurrent streaming POSTs, no thread per request.
//
//   ib::load::StreamClient client({.url = "http://127.0.0.1:8000/v1/chat/completions"});
//   client.Start(std::move(request));            // timestamps the start, hands it to libcurl
//   std::vector<ib::load::Result> done;
//   while (client.in_flight() > 0) client.RunOnce(/*deadline_ns=*/-1, &done);
//
// Each response body is parsed incrementally (lib/sse) inside libcurl's write callback, and the
// CLOCK_MONOTONIC time is read there, once per batch of bytes, the moment they are handed over:
// arrival times are never taken after a queue hop. Send times come from a timerfd armed on the
// absolute CLOCK_MONOTONIC instant (nanosecond resolution), not from a millisecond poll timeout.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ib::load {

// CLOCK_MONOTONIC in nanoseconds.
int64_t NowNs();

// One HTTP request to stream.
struct Request {
  int64_t index = 0;  // request_index in the events
  bool warmup = false;
  std::optional<int> conversation_index;
  std::optional<int> turn_index;
  std::string body;                     // the JSON body, rendered once
  std::optional<int64_t> scheduled_ns;  // intended send instant (open-loop schedules)
  // The instant the request should have started (docs/metrics.md "coordinated omission"): open
  // loop its scheduled instant; closed loop the instant its slot freed; batch the batch start;
  // multi-turn the previous turn's end. Latencies from here include the client's hold-back.
  std::optional<int64_t> intended_ns;
  bool keep_content = false;            // collect the streamed text (multi-turn needs it)
};

// What the client saw of one request. Instants are CLOCK_MONOTONIC ns.
struct Observation {
  int64_t start_ns = 0;  // the request written to its connection (handed to libcurl, if it never was)
  int64_t end_ns = 0;    // transfer finished, failed or was abandoned
  std::vector<int64_t> choice_ns;          // arrival of every event with a non-empty "choices"
  // Per choice event: usage.completion_tokens it carried (continuous usage; -1 without) and
  // whether it had content (to count tokens per event for per-token ITL).
  std::vector<int64_t> choice_usage;
  std::vector<bool> choice_content;
  std::optional<int64_t> first_content_ns;  // first event with non-empty content
  int64_t content_events = 0;
  int64_t sse_events = 0;
  std::optional<int64_t> usage_prompt_tokens;
  std::optional<int64_t> usage_completion_tokens;
  bool saw_done = false;
  bool sse_error = false;
  std::string sse_error_message;
  int64_t malformed_events = 0;
  std::string first_malformed;  // its first bytes, for the error message
  long http_status = 0;         // 0 when no response arrived
  std::string error_body;       // body of a non-2xx response (first 64 KiB)
  int curl_code = 0;            // CURLcode
  std::string curl_error;       // libcurl's message for it
  bool connected = false;       // a TCP connection was established
  bool idle_timed_out = false;
  bool cancelled = false;
  bool degraded = false;  // the loop stalled (see Options::stall_ns) while this was in flight
  std::string content;    // the streamed text, when Request::keep_content
};

struct Result {
  Request request;
  Observation observation;
};

class StreamClient {
 public:
  struct Options {
    std::string url;  // the endpoint, e.g. http://127.0.0.1:8000/v1/chat/completions
    double timeout_s = 600;       // whole request
    double idle_timeout_s = 120;  // no bytes for this long (the wait for the first byte included)
    double connect_timeout_s = 10;
    int64_t max_connections = 1;  // keep-alive pool size (the concurrency)
    // A loop pass (epoll wake to the end of its callbacks) longer than this means arrival
    // stamps in that pass may be late by as much: every request in flight is marked degraded.
    int64_t stall_ns = 2'000'000;
  };
  explicit StreamClient(Options options);
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Empty when the client is usable; otherwise why not (epoll/timerfd/libcurl setup).
  const std::string& error() const { return error_; }

  // Stamps start_ns and hands the request to libcurl; bytes go out on the next RunOnce.
  void Start(Request request);
  // Waits for network activity, a libcurl timer, the wake fd, or deadline_ns (absolute
  // CLOCK_MONOTONIC; -1: no deadline), processes what happened, and appends finished requests.
  void RunOnce(int64_t deadline_ns, std::vector<Result>* done);
  // Abandons every request in flight (each becomes a Result with cancelled = true).
  void CancelAll(std::vector<Result>* done);
  std::size_t in_flight() const;

  // Writing a byte to this fd (from a signal handler, say) makes a blocked RunOnce return.
  int wake_fd() const;

  struct Stats {
    int64_t loop_passes = 0;
    int64_t stalls = 0;  // passes longer than Options::stall_ns
    int64_t max_pass_ns = 0;
    int64_t sse_events = 0;
    int64_t bytes = 0;
  };
  const Stats& stats() const { return stats_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string error_;
  Stats stats_;
};

}  // namespace ib::load
