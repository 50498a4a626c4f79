#include "lib/scrape/server_histograms.h"

#include <algorithm>
#include <cmath>

namespace ib::scrape {

void HistogramTracker::Update(const std::vector<HistogramValue>& page) {
  bool any = false;
  for (const HistogramValue& h : page) {
    if (h.series.empty()) continue;
    any = true;
    Run& run = runs_[h.name];
    if (run.metric != h.metric) {
      // A different family now feeds this name (the server changed version): start over.
      run = Run{h.metric, {}, {}};
    }
    for (const HistogramSeries& s : h.series) {
      std::vector<std::pair<double, double>> buckets = s.buckets;
      std::sort(buckets.begin(), buckets.end());
      if (buckets.empty() || !std::isinf(buckets.back().first)) continue;  // no +Inf: malformed
      std::vector<double> le, cum;
      for (const auto& [bound, c] : buckets) {
        le.push_back(bound);
        cum.push_back(c);
      }
      if (run.le.empty()) run.le = le;
      if (le != run.le) {
        ++skipped_series_;
        continue;
      }
      auto it = run.series.find(s.key);
      if (it == run.series.end()) {
        SeriesRun fresh;
        // On the baseline page a series is where the run starts; later, it started at 0.
        fresh.last = has_baseline_ ? std::vector<double>(le.size(), 0.0) : cum;
        fresh.last_count = has_baseline_ ? 0 : s.count;
        fresh.last_sum = has_baseline_ ? 0 : s.sum;
        fresh.delta.assign(le.size(), 0.0);
        it = run.series.emplace(s.key, std::move(fresh)).first;
      }
      SeriesRun& r = it->second;
      bool reset = s.count < r.last_count;
      for (std::size_t i = 0; i < cum.size() && !reset; ++i) reset = cum[i] < r.last[i];
      if (reset) ++resets_;
      for (std::size_t i = 0; i < cum.size(); ++i) r.delta[i] += reset ? cum[i] : cum[i] - r.last[i];
      r.delta_count += reset ? s.count : s.count - r.last_count;
      r.delta_sum += reset ? s.sum : s.sum - r.last_sum;
      r.last = std::move(cum);
      r.last_count = s.count;
      r.last_sum = s.sum;
    }
  }
  if (any) has_baseline_ = true;
}

std::map<std::string, events::ServerHistogram> HistogramTracker::Snapshot() const {
  std::map<std::string, events::ServerHistogram> out;
  for (const auto& [name, run] : runs_) {
    if (run.series.empty()) continue;
    events::ServerHistogram h;
    h.metric = run.metric;
    std::vector<double> cum(run.le.size(), 0.0);
    for (const auto& [key, s] : run.series) {
      for (std::size_t i = 0; i < cum.size(); ++i) cum[i] += s.delta[i];
      h.count += s.delta_count;
      h.sum_ms += s.delta_sum * 1000.0;
    }
    for (std::size_t i = 0; i + 1 < run.le.size(); ++i) h.le_ms.push_back(run.le[i] * 1000.0);
    double before = 0;
    for (double c : cum) {
      h.counts.push_back(std::max(0.0, c - before));
      before = std::max(before, c);
    }
    out.emplace(name, std::move(h));
  }
  return out;
}

}  // namespace ib::scrape
