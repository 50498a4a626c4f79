// The scrape loop of ib-scrape: GET /metrics on a fixed period, parse, map, and hand gpu_sample,
// log and error events to a sink.
//
//   ib::scrape::ScrapeOptions o;
//   o.url = "http://127.0.0.1:8000/metrics";
//   o.framework = ib::scrape::Framework::kAuto;
//   ib::scrape::NdjsonSink sink(STDOUT_FILENO);
//   ib::scrape::StopSignal::InstallHandlers();   // SIGINT/SIGTERM end the loop after this scrape
//   int rc = ib::scrape::ScrapeLoop(o, sink).Run();
//
// Schedule: scrape k starts at start + k * interval (a fixed cadence, not interval + latency).
// A scrape that overruns its slot makes the loop skip the slots it missed rather than burst.
// t_s is taken when the request is sent, on CLOCK_MONOTONIC, relative to --t0-ns (or the loop's
// start). A failed scrape (connection refused, timeout, HTTP error, a page that is not
// Prometheus text) emits nothing for that slot: the series has a gap. The first failure of a
// streak is an `error` event, a still-failing reminder is a `log` warning at most every 10 s,
// and the first success after it is a `log` saying the server is back and for how long it was
// gone. Counter deltas continue across the gap (a restarted server is a counter reset).
// The server's latency histograms (HistogramTracker) ride on a sample as `server_histograms`
// at most once a second when they changed; when the loop ends (stop or duration) one last
// scrape (a sample like any other) sends them once more if they changed since, so the run's last sample with them holds
// the whole run. Such samples are never dropped by --push-interval-ms.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "lib/events/events.h"
#include "lib/http/session.h"
#include "lib/prom/text_parser.h"
#include "lib/scrape/page_metrics.h"
#include "lib/scrape/sample_builder.h"
#include "lib/scrape/server_histograms.h"

namespace ib::scrape {

struct ScrapeOptions {
  std::string url;
  Framework framework = Framework::kAuto;
  std::string model;              // keep only series with this model_name (empty: all)
  int64_t interval_ms = 100;
  int64_t timeout_ms = 1000;      // per scrape
  std::string run_id;
  std::optional<int64_t> t0_ns;   // CLOCK_MONOTONIC origin of t_s; default: the loop's start
  double duration_s = 0;          // 0: until stopped
  int64_t push_interval_ms = 0;   // emit at most one sample per this many ms (0: every sample)
};

// Where events go. Each returns false when the output is gone (the loop then stops, exit 1).
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  virtual bool OnSample(const events::GpuSample& sample) = 0;
  virtual bool OnLog(const events::Log& log) = 0;
  virtual bool OnError(const events::Error& error) = 0;
};

// One NDJSON line per event on fd.
class NdjsonSink : public SampleSink {
 public:
  explicit NdjsonSink(int fd);
  bool OnSample(const events::GpuSample& sample) override;
  bool OnLog(const events::Log& log) override;
  bool OnError(const events::Error& error) override;

 private:
  int fd_;
};

// SIGINT/SIGTERM (or Request() from another thread) ask the loop to stop after the current
// scrape. A self-pipe wakes the loop's wait at once.
class StopSignal {
 public:
  static void InstallHandlers();  // also ignores SIGPIPE, so a closed stdout is an EPIPE error
  static void Request();
  static bool Requested();
  static void Reset();            // tests: clear a previous request
  static int wait_fd();           // readable once stop was requested
};

struct ScrapeStats {
  int64_t scrapes = 0;
  int64_t failed = 0;
  int64_t samples_emitted = 0;
  int64_t skipped_slots = 0;  // slots missed because a scrape overran
  int64_t counter_resets = 0;
};

int64_t MonotonicNowNs();

class ScrapeLoop {
 public:
  ScrapeLoop(ScrapeOptions options, SampleSink& sink);
  // Runs until the duration ends or a stop is requested. Returns the exit code: 0, or 1 if the
  // sink's output went away.
  int Run();
  const ScrapeStats& stats() const { return stats_; }

 private:
  bool ScrapeOnce();  // false: the sink is gone
  bool Fail(const std::string& message, int64_t now_ns);
  bool Log(const std::string& level, const std::string& message);
  double SecondsSinceOrigin(int64_t ns) const { return (ns - origin_ns_) / 1e9; }

  ScrapeOptions options_;
  SampleSink& sink_;
  http::Session session_;
  http::Response response_;
  prom::TextParser parser_;
  PageExtractor extractor_;
  SampleBuilder builder_;
  HistogramTracker histograms_;
  std::map<std::string, events::ServerHistogram> last_histograms_;  // as last sent
  std::optional<double> last_histograms_t_s_;
  bool final_scrape_ = false;  // the closing scrape: histograms go out whenever they changed
  ScrapeStats stats_;
  int64_t origin_ns_ = 0;
  // Failure streak bookkeeping.
  bool last_unreachable_ = false;  // the last failure was no answer at all (not a bad page)
  bool failing_ = false;
  int64_t streak_start_ns_ = 0;
  int64_t streak_failures_ = 0;
  int64_t last_reminder_ns_ = 0;
  std::string last_failure_;
  // One-time warnings.
  bool warned_parse_ = false, warned_unmapped_ = false, warned_models_ = false, warned_slow_ = false;
  std::optional<double> last_emitted_t_s_;
};

}  // namespace ib::scrape
