#include "lib/scrape/scrape_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "lib/cli/exit_codes.h"
#include "lib/events/stream.h"

namespace ib::scrape {
namespace {

constexpr const char* kSource = "ib-scrape";
constexpr int64_t kReminderNs = 10'000'000'000;  // still-failing reminder period

std::atomic<bool> g_stop{false};
int g_pipe[2] = {-1, -1};

void OpenPipeOnce() {
  static bool opened = [] {
    if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
    return true;
  }();
  (void)opened;
}

void OnSignal(int) {
  g_stop.store(true);
  if (g_pipe[1] >= 0) {
    char c = 1;
    ssize_t n = write(g_pipe[1], &c, 1);  // async-signal-safe; a full pipe is fine
    (void)n;
  }
}

std::string Seconds(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", ns / 1e9);
  return buf;
}

}  // namespace

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// ---- StopSignal ----

void StopSignal::InstallHandlers() {
  OpenPipeOnce();
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void StopSignal::Request() { OnSignal(0); }
bool StopSignal::Requested() { return g_stop.load(); }
int StopSignal::wait_fd() {
  OpenPipeOnce();
  return g_pipe[0];
}
void StopSignal::Reset() {
  OpenPipeOnce();
  g_stop.store(false);
  char buf[64];
  while (g_pipe[0] >= 0 && read(g_pipe[0], buf, sizeof buf) > 0) {
  }
}

// ---- NdjsonSink ----

NdjsonSink::NdjsonSink(int fd) : fd_(fd) {}
bool NdjsonSink::OnSample(const events::GpuSample& s) { return events::EventWriter(fd_).Write(s); }
bool NdjsonSink::OnLog(const events::Log& l) { return events::EventWriter(fd_).Write(l); }
bool NdjsonSink::OnError(const events::Error& e) { return events::EventWriter(fd_).Write(e); }

// ---- ScrapeLoop ----

ScrapeLoop::ScrapeLoop(ScrapeOptions options, SampleSink& sink)
    : options_(std::move(options)),
      sink_(sink),
      extractor_(options_.framework, options_.model),
      builder_(options_.run_id) {
  if (options_.interval_ms < 1) options_.interval_ms = 1;
}

bool ScrapeLoop::Log(const std::string& level, const std::string& message) {
  return sink_.OnLog(events::MakeLog(options_.run_id, level, message, kSource));
}

int ScrapeLoop::Run() {
  const int64_t start = MonotonicNowNs();
  origin_ns_ = options_.t0_ns.value_or(start);
  const int64_t interval = options_.interval_ms * 1'000'000;
  const int64_t end = options_.duration_s > 0
                          ? start + static_cast<int64_t>(options_.duration_s * 1e9)
                          : INT64_MAX;
  int64_t slot = 0;
  bool sink_ok = true;
  while (!StopSignal::Requested()) {
    const int64_t due = start + slot * interval;
    if (due >= end) break;
    int64_t now = MonotonicNowNs();
    if (due > now) {
      // Sleep until the slot, waking at once on a stop request.
      pollfd pfd = {StopSignal::wait_fd(), POLLIN, 0};
      timespec wait = {static_cast<time_t>((due - now) / 1'000'000'000),
                       static_cast<long>((due - now) % 1'000'000'000)};
      ppoll(pfd.fd >= 0 ? &pfd : nullptr, pfd.fd >= 0 ? 1 : 0, &wait, nullptr);
      if (StopSignal::Requested()) break;
      if (MonotonicNowNs() < due) continue;  // woken early (EINTR): wait again
    }
    if (!(sink_ok = ScrapeOnce())) break;
    now = MonotonicNowNs();
    int64_t next = (now - start) / interval + 1;  // the first slot still ahead
    if (next > slot + 1) {
      stats_.skipped_slots += next - slot - 1;
      if (!warned_slow_) {
        warned_slow_ = true;
        sink_ok = Log("warning", "a scrape took longer than --interval-ms " +
                                     std::to_string(options_.interval_ms) +
                                     ": the slots it overran are skipped (see the final count)");
        if (!sink_ok) break;
      }
    }
    slot = next;
  }
  // Stopped by ib-run after the load ended: one last sample, so the run's counter deltas (last
  // minus first) include what the server did since the previous slot (the last requests'
  // prompt tokens and prefix hits otherwise fall outside the run when it ends between slots).
  // At the end of --duration-s too when the server has latency histograms, so the last sample
  // with server_histograms holds the whole run.
  if (sink_ok && (StopSignal::Requested() || !histograms_.empty())) {
    final_scrape_ = true;
    sink_ok = ScrapeOnce();
  }
  if (!sink_ok) {
    std::fprintf(stderr, "ib-scrape: error: cannot write to stdout (reader gone?); stopping\n");
    return exit_code::kFailed;
  }
  events::ScrapeStats counts{stats_.scrapes, stats_.failed, stats_.counter_resets,
                            stats_.skipped_slots};
  return sink_.OnLog(events::ScrapeStopLog(
             options_.run_id, counts,
             !failing_           ? ""
             : last_unreachable_ ? "; the server was still unreachable: " + last_failure_
                                 : "; the server answered, but not with metrics: " + last_failure_))
             ? exit_code::kOk
             : exit_code::kFailed;
}

bool ScrapeLoop::Fail(const std::string& message, int64_t now_ns) {
  ++stats_.failed;
  ++streak_failures_;
  if (!failing_) {
    failing_ = true;
    streak_start_ns_ = now_ns;
    last_reminder_ns_ = now_ns;
    last_failure_ = message;
    return sink_.OnError(events::MakeError(options_.run_id, "scrape failed: " + message, kSource));
  }
  if (message != last_failure_ || now_ns - last_reminder_ns_ >= kReminderNs) {
    last_reminder_ns_ = now_ns;
    last_failure_ = message;
    return Log("warning", "still failing after " + Seconds(now_ns - streak_start_ns_) + " (" +
                              std::to_string(streak_failures_) + " failed scrapes): " + message);
  }
  return true;
}

bool ScrapeLoop::ScrapeOnce() {
  const int64_t sent_ns = MonotonicNowNs();
  ++stats_.scrapes;
  response_ = session_.Get(options_.url, static_cast<long>(options_.timeout_ms),
                           {{"Accept", "text/plain;version=0.0.4"}}, std::move(response_));
  last_unreachable_ = !response_.error.empty();
  if (!response_.error.empty()) return Fail(response_.error + " (" + options_.url + ")", sent_ns);
  if (response_.status < 200 || response_.status >= 300) {
    // A 404's likely cause depends on the server: only SGLang hides /metrics behind a flag.
    std::string hint;
    if (response_.status == 404) {
      hint = options_.framework == Framework::kSglang
                 ? " (SGLang serves /metrics only with --enable-metrics)"
             : options_.framework == Framework::kVllm
                 ? " (vLLM serves /metrics on its API port: check the URL)"
                 : " (check the URL; vLLM serves /metrics by default, SGLang only with "
                   "--enable-metrics)";
    }
    return Fail("HTTP " + std::to_string(response_.status) + " from " + options_.url + hint, sent_ns);
  }
  extractor_.Reset();
  prom::ParseReport report = parser_.Parse(response_.body, extractor_);
  if (report.samples == 0) {
    if (report.error_count == 0) return Fail("empty page from " + options_.url, sent_ns);
    return Fail("not a Prometheus page: " + options_.url + ":" +
                    std::to_string(report.errors[0].line) + ": " + report.errors[0].message,
                sent_ns);
  }
  if (extractor_.framework() == Framework::kAuto) {
    std::optional<Framework> detected = DetectFramework(extractor_.metrics());
    if (!detected) {
      return Fail("cannot tell the framework: no vllm: or sglang: metrics on " + options_.url +
                      " (pass --framework)",
                  sent_ns);
    }
    extractor_.set_framework(*detected);
    if (!Log("info", "framework detected: " + std::string(FrameworkName(*detected)))) return false;
    extractor_.Reset();
    parser_.Parse(response_.body, extractor_);
  }
  const PageMetrics& metrics = extractor_.metrics();
  if (failing_) {
    failing_ = false;
    std::string gone = Seconds(sent_ns - streak_start_ns_);
    if (!Log("info", "server is back: " + options_.url + " answered again after " + gone + " (" +
                         std::to_string(streak_failures_) + " failed scrapes)")) {
      return false;
    }
    streak_failures_ = 0;
  }
  if (report.error_count > 0 && !warned_parse_) {
    warned_parse_ = true;
    if (!Log("warning", std::to_string(report.error_count) + " bad lines skipped, the first at " +
                            options_.url + ":" + std::to_string(report.errors[0].line) + ": " +
                            report.errors[0].message)) {
      return false;
    }
  }
  if (metrics.mapped_samples == 0 && !warned_unmapped_) {
    warned_unmapped_ = true;
    if (!Log("warning", "none of the " + std::string(FrameworkName(extractor_.framework())) +
                            " metrics ib-scrape maps are on " + options_.url +
                            (options_.model.empty() ? "" : " for model " + options_.model) +
                            " (wrong --framework or --model?)")) {
      return false;
    }
  }
  if (metrics.models.size() > 1 && options_.model.empty() && !warned_models_) {
    warned_models_ = true;
    std::string names;
    for (const std::string& m : metrics.models) names += (names.empty() ? "" : ", ") + m;
    if (!Log("warning", "the server reports several models (" + names +
                            "); their series are added up. Pass --model to follow one")) {
      return false;
    }
  }
  const double t_s = SecondsSinceOrigin(sent_ns);
  events::GpuSample sample = builder_.Build(metrics, t_s, response_.elapsed_ms);
  if (!builder_.last_resets().empty()) {
    stats_.counter_resets = builder_.resets();
    if (!Log("warning", "counter reset (server restarted?): " + builder_.last_resets())) return false;
  }
  histograms_.Update(metrics.histograms);
  bool send_histograms = false;
  if (!histograms_.empty()) {
    auto snapshot = histograms_.Snapshot();
    const bool changed = !last_histograms_t_s_ || snapshot != last_histograms_;
    if (changed && (final_scrape_ || !last_histograms_t_s_ || t_s - *last_histograms_t_s_ >= 1.0)) {
      send_histograms = true;
      last_histograms_ = snapshot;
      last_histograms_t_s_ = t_s;
      sample.server_histograms = std::move(snapshot);
    }
  }
  // Downsampling for the browser: rates and totals are computed at full rate either way.
  if (!send_histograms && options_.push_interval_ms > 0 && last_emitted_t_s_ &&
      (t_s - *last_emitted_t_s_) * 1000 < options_.push_interval_ms - options_.interval_ms / 2.0) {
    return true;
  }
  last_emitted_t_s_ = t_s;
  ++stats_.samples_emitted;
  return sink_.OnSample(sample);
}

}  // namespace ib::scrape
