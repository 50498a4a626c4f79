#include "lib/orchestrate/search.h"

#include "lib/events/events.h"

#include <cmath>
#include <cstdio>

#include "lib/stats/slo_metrics.h"

namespace ib::orchestrate {
namespace {

using nlohmann::json;

std::string Ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f" : "%.3g", v);
  return buf;
}

double Number(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}

// Two decimals are plenty for a request rate and keep probe names readable.
double RoundRate(double v) { return std::round(v * 100) / 100; }

}  // namespace

const char* Probe::KindName(Kind k) {
  switch (k) {
    case kLowest: return "lowest";
    case kHighest: return "highest";
    case kSaturation: return "saturation";
    case kBisect: return "bisect";
    case kGrow: return "grow";
  }
  return "bisect";
}

Verdict Judge(const config::ExperimentConfig::Workload::Search& search, const json& summary) {
  Verdict v;
  events::SummaryData counts;  // lib/events/payloads.h: the summary's typed figures
  std::string error;
  events::FromJson(summary.is_object() ? summary : json::object(), &counts, &error);
  const double total = static_cast<double>(counts.total_requests.value_or(0));
  const double ok = static_cast<double>(counts.successful_requests.value_or(0));
  const double failed = static_cast<double>(counts.failed_requests.value_or(0));
  v.passed = true;
  if (total <= 0 || ok <= 0) {
    v.passed = false;
    v.all_failed = total > 0;
    v.detail = total > 0 ? "every request failed" : "no request finished";
    v.first_figure = v.detail;
    return v;
  }
  for (const auto& b : search.slo) {
    const stats::SloMetric* m = stats::FindSloMetric(b.metric);
    std::string name = std::string(m ? m->label : b.metric) + " " + b.percentile;
    const json* block = nullptr;
    if (m && summary.contains(std::string(m->summary_block))) block = &summary[std::string(m->summary_block)];
    std::string figure;
    bool met = false;
    if (block && block->is_object() && block->contains(b.percentile) && (*block)[b.percentile].is_number()) {
      double got = (*block)[b.percentile].get<double>();
      met = got <= b.bound_ms;
      figure = name + " " + Ms(got) + " ms";
    } else {
      figure = name + " n/a";  // e.g. TPOT of one-token answers: nothing to hold against the bound
      met = !block || block->is_null();
    }
    if (v.first_figure.empty()) v.first_figure = figure;
    v.detail += (v.detail.empty() ? "" : "  ") + figure + (met ? " ✓" : " ✗");
    v.passed = v.passed && met;
  }
  if (search.goodput_frac) {
    double frac = summary.contains("goodput") ? Number(summary["goodput"], "fraction") : 0;
    bool met = frac >= *search.goodput_frac;
    char buf[64];
    std::snprintf(buf, sizeof buf, "goodput %.1f%%", frac * 100);
    if (v.first_figure.empty()) v.first_figure = buf;
    v.detail += (v.detail.empty() ? "" : "  ") + std::string(buf) + (met ? " ✓" : " ✗");
    v.passed = v.passed && met;
  }
  if (failed > 0.01 * total) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f of %.0f requests failed ✗", failed, total);
    v.detail += (v.detail.empty() ? "" : "  ") + std::string(buf);
    v.passed = false;
  }
  return v;
}

SearchPlan::SearchPlan(const config::ExperimentConfig::Workload::Search& search) : s_(search) {
  if (s_.max) upper_ = *s_.max;
}

double SearchPlan::Min() const { return s_.min.value_or(Integral() ? 1 : 0.5); }

std::optional<double> SearchPlan::BracketPct() const {
  if (!lo_ || !hi_ || *hi_ <= 0) return std::nullopt;
  // Relative to the failing end: the true boundary b lies in [lo, hi), and (b - lo) / b grows
  // with b, so this bounds how far the answer can be from b, in % of b.
  return (*hi_ - *lo_) / *hi_ * 100;
}

std::optional<Probe> SearchPlan::Next() const {
  if (!lowest_done_) return Probe{Probe::kLowest, Min()};
  if (lowest_failed_ || server_broken_ || highest_passed_) return std::nullopt;
  if (probes_ >= s_.max_probes) return std::nullopt;
  if (!hi_) {
    if (!upper_ && !Integral() && !saturation_done_) return Probe{Probe::kSaturation, kSaturationRate};
    if (upper_ && !upper_done_ && *upper_ > *lo_) return Probe{Probe::kHighest, *upper_};
    // No upper end (concurrency without max, or a saturation figure at or below a passing
    // value): double until a probe fails.
    return Probe{Probe::kGrow, *lo_ * 2};
  }
  if (Integral()) {
    if (*hi_ - *lo_ <= 1) return std::nullopt;
  } else if (*BracketPct() <= s_.precision_pct) {
    return std::nullopt;
  }
  double mid = (*lo_ + *hi_) / 2;
  mid = Integral() ? std::floor(mid) : RoundRate(mid);
  if (mid <= *lo_ || mid >= *hi_) return std::nullopt;  // cannot split any finer
  return Probe{Probe::kBisect, mid};
}

void SearchPlan::Record(const Probe& probe, const Verdict& verdict) {
  ++probes_;
  switch (probe.kind) {
    case Probe::kLowest:
      lowest_done_ = true;
      server_broken_ = verdict.all_failed;
      lowest_failed_ = !verdict.passed;
      break;
    case Probe::kHighest:
      upper_done_ = true;
      // A saturation burst can underestimate what the server sustains: then grow past it.
      highest_passed_ = verdict.passed && !upper_measured_;
      break;
    default:
      break;
  }
  if (probe.kind == Probe::kSaturation) return;
  if (verdict.passed) {
    if (!lo_ || probe.value > *lo_) lo_ = probe.value;
  } else if (probe.kind != Probe::kLowest) {
    if (!hi_ || probe.value < *hi_) hi_ = probe.value;
  }
}

void SearchPlan::RecordSaturation(double achieved_rps) {
  ++probes_;
  saturation_done_ = true;
  if (achieved_rps > 0) {
    upper_ = RoundRate(achieved_rps);
    upper_measured_ = true;
  }
}

std::string SearchPlan::EndReason() const {
  if (server_broken_) return "server_failed";
  if (lowest_failed_) return "lowest_failed";
  if (highest_passed_) return "highest_passed";
  if (Next()) return probes_ >= s_.max_probes ? "max_probes" : "running";
  return probes_ >= s_.max_probes && (!BracketPct() || *BracketPct() > s_.precision_pct) ? "max_probes" : "precision";
}

}  // namespace ib::orchestrate
