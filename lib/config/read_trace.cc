// workload.trace (type trace) and the ramps: workload.rate_ramp (type rate) and
// workload.concurrency_ramp (type concurrent). The trace file itself is read in config.cc
// (CheckTrace), after everything else is valid.
#include "lib/config/sections.h"
#include "lib/config/suggest.h"

namespace ib::config::internal {
namespace {

const std::vector<std::string> kTraceKeys = {"file", "format", "speedup", "block_tokens", "max_requests",
                                             "start_s", "duration_s", "length_scale"};
const std::vector<std::string> kRateRampKeys = {"from", "to", "over_s", "shape"};
const std::vector<std::string> kConcurrencyRampKeys = {"from", "to", "over_s"};

void ReadTrace(const Node* t, ExperimentConfig::Workload& w, Reader& r) {
  const std::string p = "workload.trace";
  r.CheckKeys(t, p, kTraceKeys);
  trace::Options o;
  if (r.Require(t, "file", p + ".file", t)) {
    if (auto v = r.String(t->Get("file"), p + ".file")) o.file = ResolveFrom(t->Get("file")->file, *v);
  }
  if (auto v = r.String(t->Get("format"), p + ".format")) {
    o.format = *v;
    if (*v != "mooncake") r.Error(t->Get("format"), "", p + ".format must be 'mooncake', got '" + *v + "'" + DidYouMean(*v, {"mooncake"}));
  }
  auto positive = [&](const char* key, double* out) {
    if (auto v = r.Number(t->Get(key), p + "." + key)) {
      *out = *v;
      if (*v <= 0) r.Error(t->Get(key), "", p + "." + key + " must be > 0, got " + FormatNumber(*v));
    }
  };
  positive("speedup", &o.speedup);
  positive("length_scale", &o.length_scale);
  if (o.length_scale > 1000) r.Error(t->Get("length_scale"), "", p + ".length_scale must be at most 1000, got " + FormatNumber(o.length_scale));
  if (auto v = r.Int(t->Get("block_tokens"), p + ".block_tokens")) {
    o.block_tokens = *v;
    if (*v < 1) r.Error(t->Get("block_tokens"), "", p + ".block_tokens must be >= 1, got " + std::to_string(*v));
  }
  if (auto v = r.Int(t->Get("max_requests"), p + ".max_requests")) {
    o.max_requests = *v;
    if (*v < 1) r.Error(t->Get("max_requests"), "", p + ".max_requests must be >= 1, got " + std::to_string(*v));
  }
  if (auto v = r.Number(t->Get("start_s"), p + ".start_s")) {
    o.start_s = *v;
    if (*v < 0) r.Error(t->Get("start_s"), "", p + ".start_s must be >= 0, got " + FormatNumber(*v));
  }
  if (auto v = r.Number(t->Get("duration_s"), p + ".duration_s")) {
    o.duration_s = *v;
    if (*v <= 0) r.Error(t->Get("duration_s"), "", p + ".duration_s must be > 0, got " + FormatNumber(*v));
  }
  w.trace = o;
}

}  // namespace

void ReadTraceAndRamps(const Node* wl, ExperimentConfig::Workload& w, Reader& r) {
  if (const Node* t = wl->Get("trace"); r.IsMap(t, "workload.trace")) ReadTrace(t, w, r);

  if (const Node* ramp = wl->Get("rate_ramp"); r.IsMap(ramp, "workload.rate_ramp")) {
    const std::string p = "workload.rate_ramp";
    r.CheckKeys(ramp, p, kRateRampKeys);
    ExperimentConfig::Workload::RateRamp rr;
    for (const char* key : {"from", "to", "over_s"}) r.Require(ramp, key, p + "." + key, ramp);
    if (auto v = r.String(ramp->Get("shape"), p + ".shape")) {
      rr.shape = *v;
      if (*v != "linear" && *v != "exponential")
        r.Error(ramp->Get("shape"), "", p + ".shape must be 'linear' or 'exponential', got '" + *v + "'" +
                                            DidYouMean(*v, {"linear", "exponential"}));
    }
    if (auto v = r.Number(ramp->Get("from"), p + ".from")) {
      rr.from = *v;
      if (rr.shape == "exponential" ? *v <= 0 : *v < 0)
        r.Error(ramp->Get("from"), "", p + ".from must be " + (rr.shape == "exponential" ? "> 0 for an exponential ramp" : ">= 0") +
                                           " (requests/s), got " + FormatNumber(*v));
    }
    if (auto v = r.Number(ramp->Get("to"), p + ".to")) {
      rr.to = *v;
      if (*v <= 0) r.Error(ramp->Get("to"), "", p + ".to must be > 0 (requests/s), got " + FormatNumber(*v));
    }
    if (auto v = r.Number(ramp->Get("over_s"), p + ".over_s")) {
      rr.over_s = *v;
      if (*v <= 0) r.Error(ramp->Get("over_s"), "", p + ".over_s must be > 0, got " + FormatNumber(*v));
    }
    w.rate_ramp = rr;
  }

  if (const Node* ramp = wl->Get("concurrency_ramp"); r.IsMap(ramp, "workload.concurrency_ramp")) {
    const std::string p = "workload.concurrency_ramp";
    r.CheckKeys(ramp, p, kConcurrencyRampKeys);
    ExperimentConfig::Workload::ConcurrencyRamp cr;
    for (const char* key : {"from", "to", "over_s"}) r.Require(ramp, key, p + "." + key, ramp);
    for (auto [key, out] : {std::pair<const char*, int64_t*>{"from", &cr.from}, {"to", &cr.to}}) {
      if (auto v = r.Int(ramp->Get(key), p + "." + key)) {
        *out = *v;
        if (*v < 1) r.Error(ramp->Get(key), "", p + "." + key + " must be >= 1, got " + std::to_string(*v));
      }
    }
    if (auto v = r.Number(ramp->Get("over_s"), p + ".over_s")) {
      cr.over_s = *v;
      if (*v <= 0) r.Error(ramp->Get("over_s"), "", p + ".over_s must be > 0, got " + FormatNumber(*v));
    }
    w.concurrency_ramp = cr;
  }
}

}  // namespace ib::config::internal
