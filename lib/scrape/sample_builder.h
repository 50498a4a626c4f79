// Turns successive pages' metrics into gpu_sample events for one run.
//
// Gauges pass through (NaN or absent -> null). Counters are tracked per series: the first page
// that shows a counter is the run's baseline, and every later page adds each series' increase;
// a series whose value went down was reset (the server or an engine restarted), so its whole
// new value counts as the increase. Thus *_total = increase since the run's first sample, and
// *_per_s = this page's increase / seconds since the previous page that showed the counter
// (null on the first). A series that appears after the baseline started at 0 during the run.
//
// prefix_cache_hit_rate_frac: vLLM V1 counters -> Δhits / Δqueries over the run so far (null
// until a query happened); otherwise the server's own gauge (vLLM V0, SGLang).
// *_per_s: from the token counters; when a page has no counter, the server's throughput gauge.
//
//   ib::scrape::SampleBuilder builder("run-1");
//   ib::events::GpuSample s = builder.Build(extractor.metrics(), t_s, scrape_ms);
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/events/events.h"
#include "lib/scrape/page_metrics.h"

namespace ib::scrape {

class SampleBuilder {
 public:
  explicit SampleBuilder(std::string run_id) : run_id_(std::move(run_id)) {}
  events::GpuSample Build(const PageMetrics& page, double t_s, std::optional<double> scrape_ms);
  // Counter resets seen so far, and a description of those in the last Build ("" if none).
  int64_t resets() const { return resets_; }
  const std::string& last_resets() const { return last_resets_; }

 private:
  struct CounterRun {
    std::map<std::string, double, std::less<>> last;  // per series key
    double total = 0;       // increase since the baseline
    bool has_baseline = false;
    double last_t_s = 0;
  };
  struct CounterDelta {
    std::optional<double> total;  // null when the page does not carry the counter
    std::optional<double> per_s;
  };
  CounterDelta Advance(CounterRun& run, const CounterValue& counter, double t_s, const char* name);

  std::string run_id_;
  CounterRun prompt_, generation_, hits_, queries_, preemptions_;
  int64_t resets_ = 0;
  std::string last_resets_;
};

}  // namespace ib::scrape
