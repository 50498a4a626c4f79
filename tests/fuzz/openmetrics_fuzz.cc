// Fuzz target: the OpenMetrics / Prometheus text writer (lib/openmetrics). Arbitrary bytes as a
// run id and a model name (split at a point chosen by the first byte) go through LiveMetrics
// like ib-dash's events; both formats of the page must parse with no error in lib/prom's parser,
// be valid UTF-8, and give back exactly the label values (invalid UTF-8 as U+FFFD).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "lib/events/events.h"
#include "lib/openmetrics/run_metrics.h"
#include "lib/openmetrics/writer.h"
#include "lib/prom/text_parser.h"

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

  ib::openmetrics::LiveMetrics live;
  ib::events::Phase execution{run_id, ib::events::phase::kExecution, {{"metadata", {{"model", model}}}}};
  live.Add(execution);
  ib::events::RequestComplete r;
  r.run_id = run_id;
  r.ttft_ms = 12;
  r.e2e_latency_ms = 40;
  r.inter_token_latencies_ms = {1, 2};
  live.Add(r);

  for (auto format : {ib::openmetrics::Format::kOpenMetrics, ib::openmetrics::Format::kPrometheusText}) {
    std::string page = live.Page(format);
    if (ib::openmetrics::ValidUtf8(page) != page) std::abort();
    ib::prom::ParseOptions options;
    options.openmetrics = format == ib::openmetrics::Format::kOpenMetrics;
    ib::prom::TextParser parser(options);
    Check check(ib::openmetrics::ValidUtf8(run_id), ib::openmetrics::ValidUtf8(model));
    ib::prom::ParseReport report = parser.Parse(page, check);
    if (!report.ok() || check.samples < 100) std::abort();
  }
  return 0;
}
