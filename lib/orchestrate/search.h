// The capacity search's decisions, apart from running anything: which value to probe next,
// whether a probe's summary meets the SLO, and the answer. ib-run runs each probe as an
// ordinary iteration (docs/ib-run.md "Capacity search").
//
//   SearchPlan plan(search, /*saturation_first=*/true);
//   while (auto next = plan.Next()) {
//     ... run the probe at next->value, read its summary ...
//     plan.Record(*next, Judge(search, summary));
//   }
//   plan.Answer();
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/config/config.h"

namespace ib::orchestrate {

// The rate a saturation probe offers: every request at once, so what the server completes per
// second is its throughput ceiling.
inline constexpr double kSaturationRate = 1e6;

struct Verdict {
  bool passed = false;
  bool all_failed = false;  // no request succeeded: the server is broken, not slow
  std::string detail;       // "TTFT p99 420 ms ✓ TPOT p99 61 ms ✗"
  std::string first_figure;  // "TTFT p99 420 ms": the first SLO's figure, for the progress line
};

// A probe passes when every SLO bound holds on its summary, goodput_frac (if set) is reached,
// and at most 1 % of its requests failed.
Verdict Judge(const config::ExperimentConfig::Workload::Search& search, const nlohmann::json& summary);

struct Probe {
  enum Kind { kLowest, kHighest, kSaturation, kBisect, kGrow } kind = kBisect;
  double value = 0;  // for kSaturation, kSaturationRate
  static const char* KindName(Kind k);
};

class SearchPlan {
 public:
  // saturation_first: without a max, a rate search offers everything at once first and takes
  // the throughput it measured as its upper end; a concurrency search doubles instead.
  explicit SearchPlan(const config::ExperimentConfig::Workload::Search& search);

  // The next probe, or nullopt when the bracket is within precision_pct, the probes are spent,
  // or the lowest value failed.
  std::optional<Probe> Next() const;
  void Record(const Probe& probe, const Verdict& verdict);
  // After a saturation probe: the requests per second the server completed.
  void RecordSaturation(double achieved_rps);

  int probes() const { return probes_; }
  std::optional<double> passing() const { return lo_; }
  std::optional<double> failing() const { return hi_; }
  bool lowest_failed() const { return lowest_failed_; }
  bool server_broken() const { return server_broken_; }
  // Why the search ended: "precision", "max_probes", "lowest_failed", "server_failed",
  // "highest_passed".
  std::string EndReason() const;
  // (hi - lo) / hi in %: the most the answer can be below the true boundary, in % of it;
  // nullopt while not bracketed.
  std::optional<double> BracketPct() const;

 private:
  bool Integral() const { return s_.over == "concurrency"; }
  double Min() const;

  config::ExperimentConfig::Workload::Search s_;
  int probes_ = 0;
  bool lowest_done_ = false;
  bool lowest_failed_ = false;
  bool server_broken_ = false;
  bool saturation_done_ = false;
  std::optional<double> upper_;  // max, or the saturation throughput
  bool upper_done_ = false;
  bool upper_measured_ = false;  // the upper end came from a saturation probe, not from max
  bool highest_passed_ = false;
  std::optional<double> lo_;  // largest passing value
  std::optional<double> hi_;  // smallest failing value
};

}  // namespace ib::orchestrate
