#include "lib/load/measure.h"

#include <curl/curl.h>
#include <time.h>

#include <algorithm>
#include <cstdio>

namespace ib::load {
namespace {

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string Trim(std::string s, std::size_t max) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// Fills error and error_kind; returns false when the request succeeded.
bool Classify(const Observation& obs, const MeasureContext& ctx, events::RequestComplete* r) {
  auto fail = [&](const char* kind, std::string message) {
    r->error_kind = kind;
    r->error = std::move(message);
    return true;
  };
  if (obs.cancelled) return fail("cancelled", "cancelled: ib-load was interrupted");
  if (obs.idle_timed_out)
    return fail("idle_timeout", "idle timeout: no bytes for " + Seconds(ctx.idle_timeout_s) + " s");
  bool http_error = obs.http_status != 0 && (obs.http_status < 200 || obs.http_status >= 300);
  if (http_error && (obs.curl_code == CURLE_OK || !obs.error_body.empty()))
    return fail("http_status", "HTTP " + std::to_string(obs.http_status) + ": " + Trim(obs.error_body, 4096));
  switch (obs.curl_code) {
    case CURLE_OK:
      break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return fail("connect", "connect error: " + obs.curl_error);
    case CURLE_OPERATION_TIMEDOUT:
      if (!obs.connected) return fail("connect", "connect error: " + obs.curl_error);
      return fail("timeout", "timeout: request took longer than " + Seconds(ctx.timeout_s) + " s (" +
                                 obs.curl_error + ")");
    default:
      return fail("reset", "connection lost: " + obs.curl_error);
  }
  if (http_error)
    return fail("http_status", "HTTP " + std::to_string(obs.http_status) + ": " + Trim(obs.error_body, 4096));
  if (obs.sse_error) return fail("sse_error", "SSE error event: " + obs.sse_error_message);
  // vLLM's benchmark fails a request whose chunk does not parse; so do we.
  if (obs.malformed_events > 0)
    return fail("sse_error", "malformed SSE data (" + std::to_string(obs.malformed_events) +
                                 " event(s)): " + obs.first_malformed);
  if (!obs.saw_done) return fail("truncated", "stream ended without [DONE]");
  return false;
}

// Tokens carried by the later event of each inter-token gap (docs/metrics.md "Per-token ITL"):
// from the running usage.completion_tokens when every event carries it (vLLM's
// continuous_usage_stats), else one per content event, spread evenly over them when the final
// usage total says there were more ("estimated"). The first token-bearing event's tokens belong
// to TTFT, so gaps up to it count 0.
void PerTokenCounts(const Observation& obs, events::RequestComplete* r) {
  const std::size_t n = obs.choice_ns.size();
  if (n < 2 || obs.choice_usage.size() != n || obs.choice_content.size() != n) return;
  std::vector<double> tokens(n, 0);
  bool continuous = true;
  for (int64_t u : obs.choice_usage) continuous = continuous && u >= 0;
  if (continuous) {
    int64_t prev = 0;
    for (std::size_t i = 0; i < n; ++i) {
      tokens[i] = static_cast<double>(std::max<int64_t>(0, obs.choice_usage[i] - prev));
      prev = std::max(prev, obs.choice_usage[i]);
    }
    r->itl_token_source = "usage";
  } else {
    double events = 0;
    for (std::size_t i = 0; i < n; ++i) events += tokens[i] = obs.choice_content[i] ? 1 : 0;
    r->itl_token_source = "chunks";
    if (obs.usage_completion_tokens && events > 0 && static_cast<double>(*obs.usage_completion_tokens) > events) {
      const double per_event = static_cast<double>(*obs.usage_completion_tokens) / events;
      for (double& t : tokens) t *= per_event;
      r->itl_token_source = "estimated";
    }
  }
  std::vector<double> counts(n - 1, 0);
  bool seen_first = tokens[0] > 0;
  for (std::size_t i = 1; i < n; ++i) {
    if (seen_first) counts[i - 1] = tokens[i];
    seen_first = seen_first || tokens[i] > 0;
  }
  r->itl_tokens = std::move(counts);
}

}  // namespace

std::string WallClockIso(int64_t monotonic_ns) {
  timespec real, mono;
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  int64_t real_ns = static_cast<int64_t>(real.tv_sec) * 1'000'000'000 + real.tv_nsec;
  int64_t mono_ns = static_cast<int64_t>(mono.tv_sec) * 1'000'000'000 + mono.tv_nsec;
  int64_t at = real_ns - (mono_ns - monotonic_ns);
  time_t secs = static_cast<time_t>(at / 1'000'000'000);
  int micros = static_cast<int>((at % 1'000'000'000) / 1000);
  tm utc;
  gmtime_r(&secs, &utc);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros);
  return buf;
}

events::RequestComplete Measure(const Request& request, const Observation& obs, const MeasureContext& ctx) {
  events::RequestComplete r;
  r.run_id = ctx.run_id;
  r.request_index = request.index;
  r.iteration = ctx.iteration;
  r.conversation_index = request.conversation_index;
  r.turn_index = request.turn_index;
  r.warmup = request.warmup;
  r.shard = ctx.shard;
  r.start_ms = Ms(obs.start_ns - ctx.t0_ns);
  r.end_ms = Ms(obs.end_ns - ctx.t0_ns);
  if (request.scheduled_ns) {
    r.scheduled_ms = Ms(*request.scheduled_ns - ctx.t0_ns);
    r.send_lag_ms = Ms(obs.start_ns - *request.scheduled_ns);
  }
  if (request.intended_ns) {
    r.intended_ms = Ms(*request.intended_ns - ctx.t0_ns);
    r.client_queue_ms = Ms(obs.start_ns - *request.intended_ns);
  }
  r.started_at = WallClockIso(obs.start_ns);
  r.client_degraded = obs.degraded;
  if (obs.http_status != 0) r.http_status = static_cast<int>(obs.http_status);
  if (Classify(obs, ctx, &r)) return r;  // failures carry no latency figures (as the original)

  if (!obs.choice_ns.empty()) {
    r.ttft_ms = Ms(obs.choice_ns.front() - obs.start_ns);
    r.e2e_latency_ms = Ms(obs.choice_ns.back() - obs.start_ns);
    r.inter_token_latencies_ms.reserve(obs.choice_ns.size() - 1);
    for (std::size_t i = 1; i < obs.choice_ns.size(); ++i)
      r.inter_token_latencies_ms.push_back(Ms(obs.choice_ns[i] - obs.choice_ns[i - 1]));
  } else {
    r.e2e_latency_ms = Ms(obs.end_ns - obs.start_ns);  // nothing token-bearing arrived
  }
  if (obs.first_content_ns) r.ttfc_ms = Ms(*obs.first_content_ns - obs.start_ns);
  r.prompt_tokens = obs.usage_prompt_tokens;
  if (obs.usage_completion_tokens) {
    r.completion_tokens = obs.usage_completion_tokens;
    r.token_count_source = "usage";
  } else {
    r.completion_tokens = obs.content_events;
    r.token_count_source = "chunks";
  }
  PerTokenCounts(obs, &r);
  if (r.ttft_ms && r.completion_tokens && *r.completion_tokens > 1)
    r.tpot_ms = (*r.e2e_latency_ms - *r.ttft_ms) / static_cast<double>(*r.completion_tokens - 1);
  return r;
}

events::RequestComplete Skipped(const Request& request, int64_t now_ns, const std::string& reason,
                                const MeasureContext& ctx) {
  events::RequestComplete r;
  r.run_id = ctx.run_id;
  r.request_index = request.index;
  r.iteration = ctx.iteration;
  r.conversation_index = request.conversation_index;
  r.turn_index = request.turn_index;
  r.warmup = request.warmup;
  r.shard = ctx.shard;
  r.start_ms = r.end_ms = Ms(now_ns - ctx.t0_ns);
  r.error = "skipped: " + reason;
  r.error_kind = "skipped";
  return r;
}

}  // namespace ib::load
