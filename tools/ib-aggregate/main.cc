// ib-aggregate: passes the event stream through and writes results/<run_id>.json per run.
#include <cstdlib>
#include <sstream>

#include "lib/cli/exit_codes.h"
#include "lib/cli/flags.h"
#include "lib/results/filter.h"
#include "lib/stats/slo_metrics.h"

namespace {

bool ParsePercentiles(const std::string& text, std::vector<double>* out) {
  out->clear();
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    double p = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(p >= 0 && p <= 100)) return false;
    out->push_back(p);
  }
  return !out->empty();
}

}  // namespace

int main(int argc, char** argv) {
  ib::cli::Flags flags("ib-aggregate",
                       "reads events on stdin, passes every line to stdout, and writes one results "
                       "file per run with a summary event");
  ib::results::FilterOptions options;
  std::string percentiles;
  double slo_ttft = 0, slo_tpot = 0, slo_e2e = 0;
  std::string slo_list;
  flags.String("output-dir", &options.output_dir,
               "where results files go (default: the run's metrics.output_dir, else results/)");
  flags.String("percentiles", &percentiles,
               "comma-separated percentiles when the stream carries no config (default 50,90,95,99)");
  flags.Double("slo-ttft-ms", &slo_ttft, "goodput SLO on TTFT when the stream carries no config");
  flags.Double("slo-tpot-ms", &slo_tpot, "goodput SLO on TPOT when the stream carries no config");
  flags.Double("slo-e2e-ms", &slo_e2e, "goodput SLO on E2E latency when the stream carries no config");
  flags.String("slo", &slo_list,
               "goodput SLOs on any per-request latency metric, e.g. ttft_intended_ms=500,e2e_ms=3000 "
               "(when the stream carries no config)");
  flags.Epilog(
      "Example:\n"
      "  ib-load --config experiments/examples/sim-smoke.yaml --server-url URL | ib-aggregate\n"
      "  ib-aggregate --output-dir /tmp/r < capture.ndjson > /dev/null\n"
      "Exit codes: 0 ok, 1 a results file or stdout could not be written, 2 bad usage,\n"
      "130 interrupted (open runs are still written, as partial).");
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (!percentiles.empty() && !ParsePercentiles(percentiles, &options.aggregate.percentiles)) {
    std::fprintf(stderr, "ib-aggregate: error: --percentiles wants numbers in 0..100, e.g. 50,95,99\n");
    return ib::exit_code::kUsage;
  }
  auto& limits = options.aggregate.slos.limits;
  if (slo_ttft > 0) limits.emplace_back("ttft_ms", slo_ttft);
  if (slo_tpot > 0) limits.emplace_back("tpot_ms", slo_tpot);
  if (slo_e2e > 0) limits.emplace_back("e2e_latency_ms", slo_e2e);
  if (std::string error; !ib::stats::ParseSloList(slo_list, &limits, &error)) {
    std::fprintf(stderr, "ib-aggregate: error: --slo: %s\n", error.c_str());
    return 2;
  }
  options.signal_fd = ib::results::BlockTerminationSignals();
  return ib::results::RunFilter(options);
}
