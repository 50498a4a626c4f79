#include "lib/results/repeats.h"

#include <cmath>

#include "lib/stats/stats.h"

namespace ib::results {
namespace {

using nlohmann::json;

json Fold(const std::vector<const json*>& docs, json* stats, const std::set<std::string>& skip) {
  const json& first = *docs.front();
  if (first.is_object()) {
    json out = json::object();
    json st = json::object();
    for (auto it = first.begin(); it != first.end(); ++it) {
      if (skip.count(it.key())) {
        out[it.key()] = it.value();
        continue;
      }
      std::vector<const json*> children;
      for (const json* d : docs) {
        if (d->is_object()) {
          auto f = d->find(it.key());
          if (f != d->end()) children.push_back(&*f);
        }
      }
      json child_stats = nullptr;
      out[it.key()] = Fold(children, &child_stats, skip);
      if (!child_stats.is_null()) st[it.key()] = std::move(child_stats);
    }
    if (!st.empty()) *stats = std::move(st);
    return out;
  }
  if (first.is_number()) {
    std::vector<double> values;
    for (const json* d : docs) {
      if (d->is_number()) values.push_back(d->get<double>());
    }
    auto m = stats::MeanWithCi95(values);
    if (!m) return first;
    json half = m->half_width ? json(*m->half_width) : json(nullptr);
    *stats = {{"n", m->n},
              {"mean", m->mean},
              {"stddev", m->stddev ? json(*m->stddev) : json(nullptr)},
              {"ci95_low", m->half_width ? json(m->mean - *m->half_width) : json(nullptr)},
              {"ci95_high", m->half_width ? json(m->mean + *m->half_width) : json(nullptr)}};
    return m->mean;
  }
  return first;
}

}  // namespace

json MeanOf(const std::vector<json>& docs, json* stats, const std::set<std::string>& skip) {
  if (docs.empty()) return nullptr;
  std::vector<const json*> ptrs;
  for (const auto& d : docs) ptrs.push_back(&d);
  json st = nullptr;
  json out = Fold(ptrs, &st, skip);
  if (stats != nullptr) *stats = st.is_null() ? json::object() : std::move(st);
  return out;
}

json MeanResults(const std::vector<json>& runs) {
  if (runs.size() < 2) return runs.empty() ? json(nullptr) : runs.front();
  std::vector<json> summaries;
  json ids = json::array();
  for (const auto& r : runs) {
    summaries.push_back(r.value("summary", json::object()));
    ids.push_back(r.value("run_id", json(nullptr)));
  }
  json out = runs.front();
  json stats;
  out["summary"] = MeanOf(summaries, &stats);
  out["repeat_stats"] = std::move(stats);
  out["repeat_run_ids"] = std::move(ids);
  return out;
}

}  // namespace ib::results
