// Fuzz target: the Prometheus / OpenMetrics text parser never crashes, never reports more
// kept errors than its limit, and counts no more samples than lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/prom/text_parser.h"

namespace {
class CountingHandler : public ib::prom::SampleHandler {
 public:
  void OnSample(const ib::prom::SampleView& s) override {
    ++samples;
    for (const auto& l : s.labels) bytes += l.name.size() + l.value.size();
    bytes += s.name.size();
  }
  long samples = 0;
  std::size_t bytes = 0;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view page(reinterpret_cast<const char*>(data), size);
  for (bool openmetrics : {false, true}) {
    ib::prom::ParseOptions options;
    options.openmetrics = openmetrics;
    ib::prom::TextParser parser(options);
    CountingHandler handler;
    ib::prom::ParseReport report = parser.Parse(page, handler);
    if (report.errors.size() > options.max_errors) std::abort();
    if (report.samples != handler.samples || report.samples > report.lines) std::abort();
  }
  return 0;
}
