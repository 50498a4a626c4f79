#include "lib/load/schedule.h"

#include <cmath>
#include <random>

namespace ib::load {

std::string ValidateArrival(const ArrivalSpec& spec) {
  if (!(spec.rate > 0) || !std::isfinite(spec.rate)) return "request rate must be a positive number of requests/s";
  if (spec.arrival != "constant" && spec.arrival != "poisson" && spec.arrival != "gamma")
    return "arrival must be constant, poisson or gamma (got '" + spec.arrival + "')";
  if (!(spec.burstiness > 0) || !std::isfinite(spec.burstiness)) return "burstiness must be > 0";
  return "";
}

std::vector<double> ArrivalOffsets(const ArrivalSpec& spec, int64_t count, std::optional<double> duration_s) {
  std::vector<double> out;
  if (!ValidateArrival(spec).empty()) return out;
  if (count <= 0 && !duration_s) return out;
  std::mt19937_64 rng(static_cast<uint64_t>(spec.seed));
  std::exponential_distribution<double> exponential(spec.rate);
  double shape = spec.arrival == "gamma" ? spec.burstiness : 1.0;
  std::gamma_distribution<double> gamma(shape, 1.0 / (spec.rate * shape));
  const int64_t kCap = 10'000'000;  // a duration-only schedule at an absurd rate stays bounded
  double t = 0;
  while ((count <= 0 || static_cast<int64_t>(out.size()) < count) && static_cast<int64_t>(out.size()) < kCap) {
    if (duration_s && t >= *duration_s) break;
    out.push_back(t);
    if (spec.arrival == "constant") {
      t = static_cast<double>(out.size()) / spec.rate;  // no accumulated rounding drift
    } else if (spec.arrival == "poisson") {
      t += exponential(rng);
    } else {
      t += gamma(rng);
    }
  }
  return out;
}

}  // namespace ib::load
