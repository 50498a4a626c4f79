// ib-scrape: polls a vLLM or SGLang server's /metrics on a fixed period and emits gpu_sample
// events (NDJSON on stdout), or a compact live table when stdout is a terminal.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "lib/cli/exit_codes.h"
#include "lib/cli/flags.h"
#include "lib/runid/runid.h"
#include "lib/scrape/live_table.h"
#include "lib/scrape/scrape_loop.h"

namespace {

int UsageError(const std::string& message) {
  std::fprintf(stderr, "ib-scrape: error: %s\n", message.c_str());
  return ib::exit_code::kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  ib::cli::Flags flags("ib-scrape", "polls a server's Prometheus /metrics and emits gpu_sample events");
  std::string url, framework = "auto", model, run_id;
  int64_t interval_ms = 100, timeout_ms = 1000, t0_ns = -1, push_interval_ms = 0;
  double duration_s = 0;
  bool table = false, ndjson = false;
  flags.String("url", &url, "the server's metrics URL, e.g. http://127.0.0.1:8000/metrics", true);
  flags.String("framework", &framework, "vllm | sglang | auto (detected from the metric names)");
  flags.String("model", &model, "keep only series whose model_name is this (default: all, summed)");
  flags.Int("interval-ms", &interval_ms, "scrape period (a fixed cadence)");
  flags.Int("timeout-ms", &timeout_ms, "per-scrape timeout");
  flags.String("run-id", &run_id, "run id on every event (default scrape-YYYYMMDD-HHMMSS)");
  flags.Int("t0-ns", &t0_ns, "CLOCK_MONOTONIC ns origin of t_s (default: this tool's start)");
  flags.Double("duration-s", &duration_s, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  flags.Int("push-interval-ms", &push_interval_ms,
            "emit at most one sample per this period (0: every scrape); rates use every scrape");
  flags.Bool("table", &table, "print the live table even when stdout is not a terminal");
  flags.Bool("ndjson", &ndjson, "print NDJSON even when stdout is a terminal");
  flags.Epilog(
      "Examples:\n"
      "  ib-scrape --url http://127.0.0.1:8000/metrics                  # live table on a TTY\n"
      "  ib-scrape --url http://127.0.0.1:8000/metrics --framework vllm | ib-dash\n"
      "Exit codes: 0 done or stopped by SIGINT/SIGTERM, 1 stdout closed, 2 bad usage.\n"
      "See docs/ib-scrape.md.");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;

  ib::scrape::ScrapeOptions options;
  std::optional<ib::scrape::Framework> fw = ib::scrape::ParseFramework(framework);
  if (!fw) return UsageError("--framework must be vllm, sglang or auto, not '" + framework + "'");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return UsageError("--url must start with http:// or https:// (got '" + url + "')");
  }
  if (interval_ms < 1) return UsageError("--interval-ms must be at least 1");
  if (timeout_ms < 1) return UsageError("--timeout-ms must be at least 1");
  if (duration_s < 0) return UsageError("--duration-s cannot be negative");
  if (push_interval_ms < 0) return UsageError("--push-interval-ms cannot be negative");
  if (table && ndjson) return UsageError("--table and --ndjson exclude each other");
  options.url = url;
  options.framework = *fw;
  options.model = model;
  options.interval_ms = interval_ms;
  options.timeout_ms = timeout_ms;
  options.run_id = run_id.empty() ? ib::runid::Make("scrape", std::time(nullptr)) : run_id;
  if (t0_ns >= 0) options.t0_ns = t0_ns;
  options.duration_s = duration_s;
  options.push_interval_ms = push_interval_ms;

  ib::scrape::StopSignal::InstallHandlers();
  const bool as_table = table || (!ndjson && isatty(STDOUT_FILENO));
  if (as_table) {
    double interval_s = interval_ms / 1000.0;
    ib::scrape::LiveTable sink(STDOUT_FILENO, interval_s >= 1 ? 0 : 1.0 - interval_s / 2);
    return ib::scrape::ScrapeLoop(options, sink).Run();
  }
  ib::scrape::NdjsonSink sink(STDOUT_FILENO);
  return ib::scrape::ScrapeLoop(options, sink).Run();
}
