#include "lib/load/schedule.h"

#include <cmath>
#include <cstdlib>
#include <random>

namespace ib::load {
namespace {

constexpr int64_t kCap = 10'000'000;  // a duration-only schedule at an absurd rate stays bounded

// The instant t at which RampIntegral(ramp, t) == u.
double RampInverse(const RateRamp& r, double u) {
  if (u <= 0) return 0;
  const double a = r.from, b = r.to, T = r.over_s;
  const double at_end = RampIntegral(r, T);
  if (u >= at_end) return T + (u - at_end) / b;
  if (a == b) return u / a;
  if (r.shape == "exponential") {
    const double k = std::log(b / a) / T;
    return std::log1p(u * k / a) / k;
  }
  // a t + (b - a) t^2 / (2T) = u, in the form that stays exact as b - a goes to 0.
  return 2 * u / (a + std::sqrt(a * a + 2 * (b - a) * u / T));
}

class Rate : public ArrivalSchedule {
 public:
  Rate(const ArrivalSpec& spec, int64_t count, std::optional<double> duration_s)
      : spec_(spec), count_(count), duration_s_(duration_s), rng_(static_cast<uint64_t>(spec.seed)) {
    // With a ramp the process runs at rate 1 in u and is mapped to t.
    const double rate = spec.ramp ? 1.0 : spec.rate;
    rate_ = rate;
    exponential_ = std::exponential_distribution<double>(rate);
    const double shape = spec.arrival == "gamma" ? spec.burstiness : 1.0;
    gamma_ = std::gamma_distribution<double>(shape, 1.0 / (rate * shape));
    ok_ = ValidateArrival(spec).empty() && (count > 0 || duration_s);
  }
  bool Next(Arrival* out) override {
    if (!ok_ || (count_ > 0 && index_ >= count_) || index_ >= kCap) return false;
    const double t = spec_.ramp ? RampInverse(*spec_.ramp, u_) : u_;
    if (duration_s_ && t >= *duration_s_) return ok_ = false;
    out->index = index_++;
    out->offset_s = t;
    out->request.reset();
    if (spec_.arrival == "constant") {
      u_ = static_cast<double>(index_) / rate_;  // no accumulated rounding drift
    } else if (spec_.arrival == "poisson") {
      u_ += exponential_(rng_);
    } else {
      u_ += gamma_(rng_);
    }
    return true;
  }

 private:
  ArrivalSpec spec_;
  int64_t count_;
  std::optional<double> duration_s_;
  std::mt19937_64 rng_;
  std::exponential_distribution<double> exponential_;
  std::gamma_distribution<double> gamma_;
  double rate_ = 1;
  double u_ = 0;
  int64_t index_ = 0;
  bool ok_ = true;
};

class Trace : public ArrivalSchedule {
 public:
  explicit Trace(const trace::Options& options) : file_(options.file), replay_(options) {}
  bool Next(Arrival* out) override {
    trace::Request r;
    if (!replay_.Next(&r)) return false;
    out->index = r.index;
    out->offset_s = r.offset_s;
    out->request = std::move(r);
    return true;
  }
  std::string error() const override {
    return replay_.error().empty() ? "" : file_ + ":" + std::to_string(replay_.line()) + ": " + replay_.error();
  }

 private:
  std::string file_;
  trace::Replay replay_;
};

}  // namespace

std::string ValidateRamp(const RateRamp& r) {
  if (r.shape != "linear" && r.shape != "exponential")
    return "rate_ramp.shape must be linear or exponential (got '" + r.shape + "')";
  if (!(r.over_s > 0) || !std::isfinite(r.over_s)) return "rate_ramp.over_s must be > 0";
  if (!(r.to > 0) || !std::isfinite(r.to)) return "rate_ramp.to must be > 0 requests/s";
  if (r.shape == "exponential" ? !(r.from > 0) : !(r.from >= 0))
    return r.shape == "exponential" ? "rate_ramp.from must be > 0 requests/s for an exponential ramp"
                                    : "rate_ramp.from must be >= 0 requests/s";
  if (!std::isfinite(r.from)) return "rate_ramp.from must be a finite number";
  return "";
}

std::string ValidateArrival(const ArrivalSpec& spec) {
  if (spec.ramp) {
    std::string e = ValidateRamp(*spec.ramp);
    if (!e.empty()) return e;
  } else if (!(spec.rate > 0) || !std::isfinite(spec.rate)) {
    return "request rate must be a positive number of requests/s";
  }
  if (spec.arrival != "constant" && spec.arrival != "poisson" && spec.arrival != "gamma")
    return "arrival must be constant, poisson or gamma (got '" + spec.arrival + "')";
  if (!(spec.burstiness > 0) || !std::isfinite(spec.burstiness)) return "burstiness must be > 0";
  return "";
}

double RampRate(const RateRamp& r, double t) {
  if (t >= r.over_s) return r.to;
  if (t <= 0) return r.from;
  if (r.shape == "exponential") return r.from * std::pow(r.to / r.from, t / r.over_s);
  return r.from + (r.to - r.from) * t / r.over_s;
}

double RampIntegral(const RateRamp& r, double t) {
  if (t <= 0) return 0;
  const double a = r.from, b = r.to, T = r.over_s;
  const double s = std::min(t, T);
  double v;
  if (a == b) {
    v = a * s;
  } else if (r.shape == "exponential") {
    const double k = std::log(b / a) / T;
    v = a / k * std::expm1(k * s);
  } else {
    v = a * s + (b - a) * s * s / (2 * T);
  }
  return t > T ? v + b * (t - T) : v;
}

std::unique_ptr<ArrivalSchedule> RateSchedule(const ArrivalSpec& spec, int64_t count, std::optional<double> duration_s) {
  return std::make_unique<Rate>(spec, count, duration_s);
}

std::unique_ptr<ArrivalSchedule> TraceSchedule(const trace::Options& options) { return std::make_unique<Trace>(options); }

std::vector<double> ArrivalOffsets(const ArrivalSpec& spec, int64_t count, std::optional<double> duration_s) {
  std::vector<double> out;
  auto s = RateSchedule(spec, count, duration_s);
  for (Arrival a; s->Next(&a);) out.push_back(a.offset_s);
  return out;
}

std::string ValidateConcurrencyRamp(const ConcurrencyRamp& r) {
  if (r.from < 1) return "concurrency_ramp.from must be >= 1";
  if (r.to < 1) return "concurrency_ramp.to must be >= 1";
  if (!(r.over_s > 0) || !std::isfinite(r.over_s)) return "concurrency_ramp.over_s must be > 0";
  return "";
}

double ConcurrencyStepAt(const ConcurrencyRamp& r, int64_t k) {
  const int64_t steps = std::llabs(r.to - r.from);
  return steps == 0 ? 0 : r.over_s * static_cast<double>(k) / static_cast<double>(steps);
}

}  // namespace ib::load
