// Open-loop arrival schedules, computed up front from a seed (so a run can be repeated):
//   constant  every 1/rate s
//   poisson   exponential gaps with mean 1/rate
//   gamma     gamma gaps with shape = burstiness and mean 1/rate (vLLM's --burstiness:
//             1 is Poisson, < 1 burstier, > 1 more regular)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ib::load {

struct ArrivalSpec {
  double rate = 1;  // requests per second, > 0
  std::string arrival = "poisson";
  double burstiness = 1;
  int64_t seed = 1;
};

// Returns "" when the spec is usable, else what is wrong with it.
std::string ValidateArrival(const ArrivalSpec& spec);

// Send offsets in seconds from the start of the schedule, the first at 0. Stops after `count`
// arrivals (count > 0) or at the first one at or past duration_s, whichever comes first.
std::vector<double> ArrivalOffsets(const ArrivalSpec& spec, int64_t count, std::optional<double> duration_s);

}  // namespace ib::load
