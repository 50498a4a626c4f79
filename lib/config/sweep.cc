// workload.sweep: reading the axes and expanding them into iterations.
#include <algorithm>
#include <cmath>

#include "lib/config/sections.h"

namespace ib::config {
namespace internal {

namespace {
const std::vector<std::string> kSweepKeys = {"concurrency", "batch_size", "request_rate", "max_tokens",
                                             "temperature", "burstiness", "count", "warmup_requests",
                                             "duration_s"};
}  // namespace

void ReadSweep(const Node* wl, ExperimentConfig::Workload& w, Reader& r) {
  if (const Node* sweep = wl->Get("sweep"); r.IsMap(sweep, "workload.sweep")) {
    r.CheckKeys(sweep, "workload.sweep", kSweepKeys);
    for (const auto& [key, value] : sweep->map) {
      if (std::find(kSweepKeys.begin(), kSweepKeys.end(), key) == kSweepKeys.end()) continue;
      auto values = r.NumberList(&value, "workload.sweep." + key);
      if (!values || values->empty()) continue;  // an empty or null axis is no axis
      bool integral = key != "request_rate" && key != "temperature" && key != "burstiness" && key != "duration_s";
      for (double v : *values) {
        bool bad = integral ? (!IsExactInteger(v) || v < (key == "warmup_requests" ? 0 : 1))
                            : (key == "temperature" ? v < 0 : v <= 0);
        if (bad) {
          r.Error(&value, "", "workload.sweep." + key + " values must be " +
                                  (integral ? std::string(key == "warmup_requests" ? "integers >= 0" : "integers >= 1")
                                            : std::string(key == "temperature" ? ">= 0" : "> 0")) +
                                  ", got " + FormatNumber(v));
        }
      }
      w.sweep.emplace_back(key, *values);
    }
  }
}

}  // namespace internal

namespace {

using internal::FormatNumber;

// Sweep suffix letters: the original's c and b, plus ib's own.
std::string SweepAbbreviation(const std::string& key) {
  if (key == "concurrency") return "c";
  if (key == "batch_size") return "b";
  if (key == "request_rate") return "r";
  if (key == "max_tokens") return "mt";
  if (key == "temperature") return "t";
  if (key == "burstiness") return "burst";
  if (key == "count") return "n";
  if (key == "warmup_requests") return "w";
  if (key == "duration_s") return "d";
  return key;
}

void ApplySweepValue(ExperimentConfig& c, const std::string& key, double v) {
  auto& w = c.workload;
  int64_t as_int = internal::IsExactInteger(v) ? static_cast<int64_t>(v) : 0;  // integral axes are checked on reading
  if (key == "concurrency") {
    w.concurrency = as_int;
  } else if (key == "batch_size") {
    w.batch_size = as_int;
  } else if (key == "request_rate") {
    w.request_rate = v;
  } else if (key == "max_tokens") {
    w.parameters.max_tokens = as_int;
  } else if (key == "temperature") {
    w.parameters.temperature = v;
  } else if (key == "burstiness") {
    w.burstiness = v;
  } else if (key == "count") {
    w.requests.count = as_int;
  } else if (key == "warmup_requests") {
    w.warmup_requests = as_int;
  } else if (key == "duration_s") {
    w.duration_s = v;
  }
}


}  // namespace

std::vector<Iteration> ExpandSweep(const ExperimentConfig& config) {
  const auto& axes = config.workload.sweep;
  std::vector<Iteration> out;
  if (axes.empty()) {
    Iteration it;
    it.index = 1;
    it.total = 1;
    it.name = config.name;
    it.config = config;
    out.push_back(std::move(it));
    return out;
  }
  std::size_t total = 1;
  for (const auto& [key, values] : axes) total *= values.size();
  bool has_concurrency = false, has_batch = false, has_rate = false;
  for (const auto& [key, values] : axes) {
    has_concurrency |= key == "concurrency";
    has_batch |= key == "batch_size";
    has_rate |= key == "request_rate";
  }
  for (std::size_t n = 0; n < total; ++n) {
    Iteration it;
    it.index = static_cast<int>(n) + 1;
    it.total = static_cast<int>(total);
    it.config = config;
    // Cartesian product in axis order, the first axis varying slowest (the original's order).
    std::size_t rest = n;
    std::vector<std::size_t> picks(axes.size());
    for (std::size_t a = axes.size(); a-- > 0;) {
      picks[a] = rest % axes[a].second.size();
      rest /= axes[a].second.size();
    }
    std::string suffix;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const auto& [key, values] = axes[a];
      double v = values[picks[a]];
      ApplySweepValue(it.config, key, v);
      suffix += "-" + SweepAbbreviation(key) + FormatNumber(v);
      if (internal::IsExactInteger(v)) it.params[key] = static_cast<int64_t>(v);
      else it.params[key] = v;
    }
    auto& type = it.config.workload.type;
    if (type == "single") {
      if (has_concurrency) type = "concurrent";
      else if (has_batch) type = "batch";
      else if (has_rate) type = "rate";
    }
    it.name = config.name + suffix;
    it.config.name = it.name;
    out.push_back(std::move(it));
  }
  return out;
}

Iteration ProbeIteration(const ExperimentConfig& config, int index, double value) {
  const auto& search = *config.workload.search;
  Iteration it;
  it.index = index;
  it.total = static_cast<int>(search.max_probes);
  it.config = config;
  auto& w = it.config.workload;
  ApplySweepValue(it.config, search.over, value);
  if (search.probe.count) {
    w.requests.count = *search.probe.count;
    w.duration_s.reset();
  } else if (search.probe.duration_s) {
    w.duration_s = *search.probe.duration_s;
  }
  if (search.fresh_prompts && w.requests.synthetic) w.requests.synthetic->seed += index - 1;
  it.params[search.over] = internal::IsExactInteger(value) ? nlohmann::json(static_cast<int64_t>(value)) : nlohmann::json(value);
  it.params["probe"] = index;
  it.name = config.name + "-p" + std::to_string(index) + "-" + SweepAbbreviation(search.over) + FormatNumber(value);
  it.config.name = it.name;
  return it;
}

}  // namespace ib::config
