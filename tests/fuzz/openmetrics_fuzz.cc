// Fuzz target: the OpenMetrics / Prometheus text writer (lib/openmetrics). Arbitrary bytes as a
// run id and a model name (split at a point chosen by the first byte), and as HELP text: both
// formats must parse with no error in lib/prom's parser, be valid UTF-8, and give back exactly
// the label values (invalid UTF-8 as U+FFFD). One input in 16 also goes through LiveMetrics.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "lib/events/events.h"
#include "lib/openmetrics/run_metrics.h"
#include "lib/openmetrics/writer.h"
#include "lib/prom/text_parser.h"
#include "lib/utf8/utf8.h"

namespace {
class Check : public ib::prom::SampleHandler {
 public:
  Check(std::string run_id, std::string model) : run_id_(std::move(run_id)), model_(std::move(model)) {}
  void OnSample(const ib::prom::SampleView& s) override {
    ++samples;
    if (s.LabelValue("run_id") != std::string_view(run_id_)) std::abort();
    auto model = s.LabelValue("model");
    if (model_.empty() ? model.has_value() : model != std::string_view(model_)) std::abort();
  }
  long samples = 0;

 private:
  std::string run_id_, model_;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t split = 1 + data[0] % bytes.size();  // the run id is never empty
  std::string run_id = bytes.substr(0, split), model = bytes.substr(split);
  ib::openmetrics::Labels labels = {{"run_id", run_id}, {"model", model}};
  static const std::vector<double> kBounds = {0.01, 0.1, 1};
  ib::openmetrics::Histogram h(&kBounds);
  h.Observe(0.05);

  // Writer-level (fast, so the fuzzer reaches many inputs): a histogram and a counter, with the
  // bytes in the help text too, at a timestamp.
  for (auto format : {ib::openmetrics::Format::kOpenMetrics, ib::openmetrics::Format::kPrometheusText}) {
    ib::openmetrics::Writer w(format);
    w.Family("ib_ttft_seconds", ib::openmetrics::Type::kHistogram, bytes, "seconds");
    w.HistogramPoint("ib_ttft_seconds", labels, h, 1700000000.25);
    w.Family("ib_requests", ib::openmetrics::Type::kCounter, bytes);
    w.Sample("ib_requests_total", labels, 1, 1700000000.25);
    std::string page = std::move(w).Finish();
    if (ib::utf8::ValidUtf8(page) != page) std::abort();
    ib::prom::ParseOptions options;
    options.openmetrics = format == ib::openmetrics::Format::kOpenMetrics;
    ib::prom::TextParser parser(options);
    Check check(ib::utf8::ValidUtf8(run_id), ib::utf8::ValidUtf8(model));
    ib::prom::ParseReport report = parser.Parse(page, check);
    if (!report.ok() || check.samples != 7) std::abort();
  }

  // Through LiveMetrics as ib-dash feeds it, for one input in 16 (a whole page is slow).
  if (data[0] % 16 == 0) {
    ib::openmetrics::LiveMetrics live;
    live.Add(ib::events::Phase{run_id, ib::events::phase::kExecution, {{"metadata", {{"model", model}}}}});
    std::string page = live.Page(ib::openmetrics::Format::kOpenMetrics);
    ib::prom::ParseOptions options;
    options.openmetrics = true;
    ib::prom::TextParser parser(options);
    Check check(ib::utf8::ValidUtf8(run_id), ib::utf8::ValidUtf8(model));
    if (!parser.Parse(page, check).ok() || check.samples < 100) std::abort();
  }
  return 0;
}
