// The per-run increase of the server's own latency histograms (vLLM's / SGLang's TTFT, ITL,
// TPOT, E2E, queue time...), from successive /metrics pages.
//
//   ib::scrape::HistogramTracker tracker;
//   tracker.Update(extractor.metrics().histograms);     // every page
//   sample.server_histograms = tracker.Snapshot();       // the run's delta so far
//
// Each series (label set without le) is tracked on its own, like SampleBuilder's counters: the
// first page that shows histograms is the run's baseline; a series first seen later started at
// 0 during the run; a series whose _count or any bucket went down was reset (server or engine
// restarted), so its whole new content counts as the increase. Series of one histogram are
// added up bucket by bucket (engines / DP ranks serve their own requests); a series whose
// bucket bounds differ from the first one's cannot be added and is left out (counted in
// skipped_series()).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/events/events.h"
#include "lib/scrape/page_metrics.h"

namespace ib::scrape {

class HistogramTracker {
 public:
  void Update(const std::vector<HistogramValue>& page);
  // The run's delta so far, by neutral name; empty when the server exposes none.
  std::map<std::string, events::ServerHistogram> Snapshot() const;
  bool empty() const { return runs_.empty(); }
  int64_t resets() const { return resets_; }
  int64_t skipped_series() const { return skipped_series_; }

 private:
  struct SeriesRun {
    std::vector<double> last;  // cumulative bucket counts on the last page
    double last_count = 0, last_sum = 0;
    std::vector<double> delta;  // cumulative bucket counts' increase over the run
    double delta_count = 0, delta_sum = 0;
  };
  struct Run {
    std::string metric;
    std::vector<double> le;  // seconds, ascending, +Inf last
    std::map<std::string, SeriesRun> series;
  };
  std::map<std::string, Run> runs_;
  bool has_baseline_ = false;
  int64_t resets_ = 0;
  int64_t skipped_series_ = 0;
};

}  // namespace ib::scrape
