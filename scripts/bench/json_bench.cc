// simdjson 3.0.1 (Debian's libsimdjson-dev) against ib's hand-written JSON readers, on the inputs
// that motivated them (issue 15): decoding request_complete lines into a RequestComplete
// (nlohmann ParseEvent; the hand-written TryParseRequestCompleteFast; simdjson On-Demand driven by
// the same field list, lib/events/request_fields.h) and validating a large results file (the
// hand-written CheckJson; simdjson's DOM parser; nlohmann's accept). Prints figures, asserts
// nothing; checks that every decoder produced the same RequestComplete for every line.
//   bazel run -c opt //scripts/bench:json_bench -- [--lines N] [--file-mb M]
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "lib/dash/json_check.h"
#include "lib/events/events.h"
#include "lib/events/fast_parse.h"
#include "nlohmann/json.hpp"

#define IB_STR2(x) #x
#define IB_STR(x) IB_STR2(x)

namespace {

using ib::events::RequestComplete;
namespace od = simdjson::ondemand;

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One decoder per C++ type of the field list; false on a type the line does not match.
bool Read(od::value v, int64_t* out) { return v.get_int64().get(*out) == simdjson::SUCCESS; }
bool Read(od::value v, int* out) {
  int64_t x;
  if (v.get_int64().get(x) != simdjson::SUCCESS) return false;
  *out = static_cast<int>(x);
  return true;
}
bool Read(od::value v, double* out) { return v.get_double().get(*out) == simdjson::SUCCESS; }
bool Read(od::value v, bool* out) { return v.get_bool().get(*out) == simdjson::SUCCESS; }
bool Read(od::value v, std::string* out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  out->assign(s);
  return true;
}
bool Read(od::value v, std::vector<double>* out) {
  od::array a;
  if (v.get_array().get(a) != simdjson::SUCCESS) return false;
  out->clear();
  for (auto x : a) {
    double d;
    if (x.get_double().get(d) != simdjson::SUCCESS) return false;
    out->push_back(d);
  }
  return true;
}
template <typename T>
bool Read(od::value v, std::optional<T>* out) {
  bool is_null = false;
  if (v.is_null().get(is_null) != simdjson::SUCCESS) return false;
  if (is_null) {
    out->reset();
    return true;
  }
  T x{};
  if (!Read(v, &x)) return false;
  *out = std::move(x);
  return true;
}

// A request_complete line into a RequestComplete: the On-Demand counterpart of fast_parse.cc.
bool DecodeSimdjson(od::parser& parser, const simdjson::padded_string_view line, RequestComplete* r) {
  od::document doc;
  if (parser.iterate(line).get(doc) != simdjson::SUCCESS) return false;
  od::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return false;
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value v = field.value();
    if (key == "v") {
      int64_t ver;
      if (!Read(v, &ver) || ver != 2) return false;
    } else if (key == "type") {
      std::string_view t;
      if (v.get_string().get(t) != simdjson::SUCCESS || t != "request_complete") return false;
    } else if (key == "run_id") {
      if (!Read(v, &r->run_id)) return false;
    } else if (key == "data") {
      od::object data;
      if (v.get_object().get(data) != simdjson::SUCCESS) return false;
      for (auto f : data) {
        std::string_view k;
        if (f.unescaped_key().get(k) != simdjson::SUCCESS) return false;
        bool ok = false;
#define IB_FIELD_CASE(type, name, v1_key, flags, doc) \
  if (k == #name) ok = Read(f.value(), &r->name);     \
  else
        IB_REQUEST_COMPLETE_FIELDS(IB_FIELD_CASE)
#undef IB_FIELD_CASE
        ok = false;
        if (!ok) return false;
      }
    } else {
      return false;
    }
  }
  return true;  // On-Demand reads what it is asked for; what follows the object is not checked
}

std::vector<std::string> MakeLines(int n) {
  std::vector<std::string> lines;
  lines.reserve(n);
  for (int i = 0; i < n; ++i) {
    RequestComplete r;
    r.run_id = "bench-c64-20261128-030000";
    r.request_index = i;
    r.start_ms = i * 0.731;
    r.ttft_ms = 40.0 + (i * 37 % 1000) / 10.0;
    r.ttfc_ms = *r.ttft_ms + 0.4;
    for (int k = 0; k < 4; ++k) r.inter_token_latencies_ms.push_back(9.5 + (k % 7) * 0.25);
    r.e2e_latency_ms = *r.ttft_ms + 50.0 + i % 13;
    r.end_ms = r.start_ms + *r.e2e_latency_ms;
    r.tpot_ms = (*r.e2e_latency_ms - *r.ttft_ms) / 5;
    r.prompt_tokens = 120 + i % 50;
    r.completion_tokens = 6;
    r.token_count_source = "usage";
    r.http_status = 200;
    r.started_at = "2026-11-28T03:00:00.123Z";
    r.intended_ms = r.start_ms;
    r.client_queue_ms = 0.0;
    lines.push_back(ib::events::Serialize(ib::events::Event{r}));
  }
  return lines;
}

bool Same(const RequestComplete& a, const RequestComplete& b) {
  return ib::events::Serialize(ib::events::Event{a}) == ib::events::Serialize(ib::events::Event{b});
}

}  // namespace

int main(int argc, char** argv) {
  int n = 1000000;
  int file_mb = 70;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--lines") n = std::atoi(argv[i + 1]);
    if (f == "--file-mb") file_mb = std::atoi(argv[i + 1]);
  }
  auto lines = MakeLines(n);
  std::size_t bytes = 0;
  for (auto& l : lines) bytes += l.size() + 1;
  std::printf("json_bench: %d request_complete lines, %.1f MB (simdjson 3.0.1; DOM kernel %s, On-Demand kernel %s)\n",
              n, bytes / 1e6, simdjson::get_active_implementation()->name().c_str(),
              IB_STR(SIMDJSON_BUILTIN_IMPLEMENTATION));

  // Decoders, each over every line; the hand-written fast path is the reference result.
  std::vector<RequestComplete> ref(lines.size());
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto r = ib::events::TryParseRequestCompleteFast(lines[i]);
    if (!r) {
      std::printf("json_bench: the fast path refused line %zu\n", i);
      return 1;
    }
    ref[i] = std::move(*r);
  }
  double fast_s = Seconds(t0);

  od::parser parser;
  // As a stream reader can hold them at no cost: each line in its buffer with padding after it
  // (made before the clock starts, so the copy is not counted against simdjson).
  std::vector<std::string> padded_lines(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i)
    padded_lines[i] = lines[i] + std::string(simdjson::SIMDJSON_PADDING, ' ');
  std::vector<RequestComplete> simd(lines.size());
  int simd_refused = 0;
  t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!DecodeSimdjson(parser, simdjson::padded_string_view(padded_lines[i].data(), lines[i].size(),
                                                             padded_lines[i].size()),
                        &simd[i]))
      ++simd_refused;
  }
  double simd_s = Seconds(t0);
  int simd_mismatch = simd_refused;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (!Same(simd[i], ref[i])) ++simd_mismatch;

  int nl_mismatch = 0;
  std::size_t nl_n = lines.size() / 10;  // nlohmann is slow: a tenth of the lines, scaled
  t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < nl_n; ++i) {
    auto p = ib::events::ParseEvent(lines[i]);
    if (!p.event || !Same(std::get<RequestComplete>(*p.event), ref[i])) ++nl_mismatch;
  }
  double nl_s = Seconds(t0) * (static_cast<double>(lines.size()) / nl_n);

  auto row = [&](const char* what, double s) {
    std::printf("  %-44s %7.3f s  %6.2f M lines/s  %7.1f MB/s  %5.2fx the hand-written\n", what, s, n / s / 1e6,
                bytes / s / 1e6, s / fast_s);
  };
  std::printf("decode request_complete -> RequestComplete:\n");
  row("hand-written (fast_parse.cc)", fast_s);
  row("simdjson On-Demand (same field list)", simd_s);
  row("nlohmann ParseEvent (10% sample, scaled)", nl_s);
  std::printf("  results equal the hand-written's: simdjson %s (%d of %d differ), nlohmann %s\n",
              simd_mismatch ? "NO" : "yes", simd_mismatch, n, nl_mismatch ? "NO" : "yes");

  // A results file of about file_mb MB: {"run_id":…,"requests":[data objects…]}.
  std::string file = "{\"run_id\":\"bench\",\"requests\":[";
  for (std::size_t i = 0; file.size() < static_cast<std::size_t>(file_mb) * 1000000; ++i) {
    if (i) file += ',';
    file += nlohmann::json::parse(lines[i % lines.size()])["data"].dump();
  }
  file += "]}";
  // Best of three each: the first pass also pays for page faults and simdjson's allocation.
  // Returns the best; *first gets the first pass (cold: what ib-dash pays for a file it serves once).
  auto best_of_3 = [](double* first, auto&& f) {
    double best = 1e9;
    for (int k = 0; k < 3; ++k) {
      auto t = std::chrono::steady_clock::now();
      f();
      double s = Seconds(t);
      if (k == 0) *first = s;
      best = std::min(best, s);
    }
    return best;
  };
  double check_first = 0, dom_first = 0, accept_first = 0;
  ib::dash::JsonCheck check;
  double check_s = best_of_3(&check_first, [&] { check = ib::dash::CheckJson(file); });
  simdjson::dom::parser dom;
  simdjson::padded_string padded(file);
  simdjson::error_code dom_err = simdjson::SUCCESS;
  double dom_s = best_of_3(&dom_first, [&] { dom_err = dom.parse(padded).error(); });
  bool nl_ok = false;
  double accept_s = best_of_3(&accept_first, [&] { nl_ok = nlohmann::json::accept(file); });
  std::printf("validate a %.1f MB results file:\n", file.size() / 1e6);
  auto frow = [&](const char* what, double first, double s, bool ok) {
    std::printf("  %-44s first %6.3f s, best of 3 %6.3f s (%7.1f MB/s, %5.2fx the hand-written)  %s\n", what, first,
                s, file.size() / s / 1e6, s / check_s, ok ? "valid" : "INVALID");
  };
  frow("hand-written CheckJson (json_check.cc)", check_first, check_s, check.error.empty() && check.has_run_id);
  frow("simdjson DOM parse (validates UTF-8 too)", dom_first, dom_s, dom_err == simdjson::SUCCESS);
  frow("nlohmann accept", accept_first, accept_s, nl_ok);
  return 0;
}
