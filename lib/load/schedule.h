// Open-loop arrival schedules. A schedule is a pure function of its spec (and seed): it yields
// arrivals in index order, each {index, offset_s, request}, streamed one at a time (a trace
// file is never loaded whole, a rate schedule is drawn as it goes), so any part of a run can
// recompute the same arrivals and keep a subset of them (e.g. every index i with i % N == K).
//
//   rate (ArrivalSpec)
//     constant  every 1/rate s
//     poisson   exponential gaps with mean 1/rate
//     gamma     gamma gaps with shape = burstiness and mean 1/rate (vLLM's --burstiness:
//               1 is Poisson, < 1 burstier, > 1 more regular)
//     with a ramp, the rate goes from `from` to `to` over over_s (linear or exponential in
//     time) and stays at `to`: the process above is drawn at rate 1 and its instants u mapped to
//     t with Λ(t) = u, Λ the integral of the ramp's rate (so the expected arrivals by t are Λ(t)).
//   trace (lib/trace): the trace's requests at timestamp / speedup, each carrying its own
//     lengths and prefix blocks.
//
//   auto s = ib::load::RateSchedule({.rate = 10}, /*count=*/100, std::nullopt);
//   for (ib::load::Arrival a; s->Next(&a);) send_at(a.offset_s, a.index);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/trace/trace.h"

namespace ib::load {

struct RateRamp {
  double from = 0;  // requests/s at the start (> 0 for exponential)
  double to = 1;    // requests/s from over_s on
  double over_s = 1;
  std::string shape = "linear";  // linear | exponential
};

struct ArrivalSpec {
  double rate = 1;  // requests per second, > 0 (unused with a ramp)
  std::string arrival = "poisson";
  double burstiness = 1;
  int64_t seed = 1;
  std::optional<RateRamp> ramp;
};

// Returns "" when the spec is usable, else what is wrong with it.
std::string ValidateArrival(const ArrivalSpec& spec);
std::string ValidateRamp(const RateRamp& ramp);
// The ramp's rate at t seconds, and its integral from 0 to t (the expected arrivals by t).
double RampRate(const RateRamp& ramp, double t);
double RampIntegral(const RateRamp& ramp, double t);

struct Arrival {
  int64_t index = 0;    // 0-based position in the whole schedule: the request's request_index
  double offset_s = 0;  // when to send it, seconds after the schedule starts
  // Trace schedules: the request's own lengths and blocks. Rate schedules: unset (the
  // workload's prompt index % n).
  std::optional<trace::Request> request;
};

class ArrivalSchedule {
 public:
  virtual ~ArrivalSchedule() = default;
  // The next arrival; false when the schedule has ended (or, for a trace, at a bad line).
  virtual bool Next(Arrival* out) = 0;
  // "" unless the schedule stopped at a bad trace line; then "FILE:LINE: problem".
  virtual std::string error() const { return ""; }
};

// Stops after `count` arrivals (count > 0) or at the first one at or past duration_s, whichever
// comes first (and after 10 million in any case).
std::unique_ptr<ArrivalSchedule> RateSchedule(const ArrivalSpec& spec, int64_t count, std::optional<double> duration_s);
std::unique_ptr<ArrivalSchedule> TraceSchedule(const trace::Options& options);

// The offsets of RateSchedule, all at once.
std::vector<double> ArrivalOffsets(const ArrivalSpec& spec, int64_t count, std::optional<double> duration_s);

// Closed-loop concurrency ramp (type concurrent): the limit moves from `from` to `to` in
// |to - from| equal steps over over_s, step k at over_s * k / |to - from|.
struct ConcurrencyRamp {
  int64_t from = 1;
  int64_t to = 1;
  double over_s = 1;
};
std::string ValidateConcurrencyRamp(const ConcurrencyRamp& ramp);
// Seconds after the start at which step k (1-based) of the ramp takes effect.
double ConcurrencyStepAt(const ConcurrencyRamp& ramp, int64_t k);

}  // namespace ib::load
