// For tests: every run of a finished sequence of events, as ib-aggregate would write them
// (runs that never ended are partial, stop_reason "end of stream before the run finished").
//
//   auto runs = ib::results::AllRunsOf(events);   // std::vector<RunRecord>
#pragma once

#include <vector>

#include "lib/events/events.h"
#include "lib/results/aggregator.h"

namespace ib::results {

inline std::vector<RunRecord> AllRunsOf(std::vector<events::Event> events,
                                        const AggregateOptions& options = {}) {
  StreamAggregator aggregator(options);
  std::vector<RunRecord> runs;
  for (auto& event : events)
    for (auto& run : aggregator.Add(std::move(event))) runs.push_back(std::move(run));
  for (auto& run : aggregator.Finish("end of stream before the run finished"))
    runs.push_back(std::move(run));
  return runs;
}

}  // namespace ib::results
