// ib-run --dry-run: what a run would do, without starting anything.
#include <sstream>

#include <ctime>

#include "lib/cli/exit_codes.h"
#include "lib/config/config.h"
#include "lib/pricing/estimate.h"
#include "lib/pricing/pricing.h"
#include "lib/orchestrate/run.h"

namespace ib::orchestrate {
namespace {

void Row(std::ostream& out, const std::string& name, const std::string& value) {
  out << "  " << name << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ') << value << "\n";
}

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string Params(const nlohmann::json& params) {
  std::string out;
  for (const auto& [k, v] : params.items()) out += (out.empty() ? "" : ", ") + k + "=" + v.dump();
  return out;
}

int64_t Warmup(const config::ExperimentConfig& c) { return c.workload.warmup_requests; }

void Describe(const config::ExperimentConfig& c, const RunOptions& o, std::ostream& out) {
  const auto& w = c.workload;
  out << "Experiment: " << c.name << "\n";
  Row(out, "Config", c.source_file);
  if (c.description) Row(out, "Description", *c.description);
  Row(out, "Model", c.model.name);
  if (c.model.quantization) Row(out, "Quantization", *c.model.quantization);
  Row(out, "Framework", c.framework);
  const auto& infra = c.infrastructure;
  if (!o.server_url.empty()) {
    Row(out, "Server", o.server_url + " (no provisioning)");
  } else if (infra.provider == "local") {
    Row(out, "Provider", "local: ib-sim preset " + infra.sim.preset + ", speed " +
                             Num(infra.sim.speed) + "x, load " + Num(infra.sim.load_time_s) + " s");
  } else {
    Row(out, "Provider", "runpod (" + infra.cloud_type + ")");
  }
  Row(out, "GPU", infra.gpu_type + " x" + std::to_string(infra.gpu_count));
  Row(out, "Workload", w.type);
  if (w.type == "multi_turn" && w.conversation) {
    Row(out, "Conversations", std::to_string(w.requests.count));
    Row(out, "Turns", std::to_string(w.conversation->turns));
  }
  Row(out, "Requests", std::to_string(c.TotalRequests()) + " per iteration" +
                           (Warmup(c) > 0 ? " (+" + std::to_string(Warmup(c)) + " warmup)" : ""));
  // A swept field shows the values its iterations use, never the base value none of them uses.
  auto swept = [&](const std::string& field) -> std::string {
    for (const auto& [name, values] : w.sweep) {
      if (name != field && name != "workload." + field) continue;
      std::string list;
      for (double v : values) list += (list.empty() ? "" : ", ") + Num(v);
      return list + " (swept)";
    }
    return "";
  };
  auto row = [&](const std::string& label, const std::string& field, const std::string& base) {
    std::string s = swept(field);
    Row(out, label, s.empty() ? base : s);
  };
  if (w.batch_size || !swept("batch_size").empty())
    row("Batch size", "batch_size", w.batch_size ? std::to_string(*w.batch_size) : "");
  if (w.concurrency || !swept("concurrency").empty())
    row("Concurrency", "concurrency", w.concurrency ? std::to_string(*w.concurrency) : "");
  if (w.request_rate || !swept("request_rate").empty())
    row("Request rate", "request_rate",
        w.request_rate ? Num(*w.request_rate) + "/s (" + w.arrival + ")" : "");
  if (w.duration_s || !swept("duration_s").empty())
    row("Duration", "duration_s", w.duration_s ? Num(*w.duration_s) + " s" : "");
  if (!w.sweep.empty()) {
    std::string axes;
    std::size_t n = 1;
    for (const auto& [field, values] : w.sweep) {
      std::string list;
      for (double v : values) list += (list.empty() ? "" : ", ") + Num(v);
      axes += (axes.empty() ? "" : ", ") + field + "=[" + list + "]";
      n *= values.size();
    }
    Row(out, "Sweep", std::to_string(n) + " iterations (" + axes + ")");
  }
  Row(out, "Prompts", w.requests.source.empty() ? "synthetic" : w.requests.source);
  Row(out, "Output dir", o.output_dir.empty() ? c.metrics.output_dir : o.output_dir);
}

}  // namespace

int DryRun(const RunOptions& o, std::ostream& out, std::ostream& err) {
  auto loaded = config::LoadExperiment(o.config_path);
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) err << d.Format("ib-run") << "\n";
    return exit_code::kUsage;
  }
  config::ExperimentConfig c = *loaded.config;
  if (!o.name.empty()) c.name = o.name;
  if (!o.emit.empty()) {
    if (std::string e = CheckEmit(o, c); !e.empty()) {
      err << "ib-run: error: " << e << "\n";
      return exit_code::kUsage;
    }
  }
  Describe(c, o, out);
  std::vector<config::Iteration> iterations;
  if (const auto& search = c.workload.search) {
    // The probes' values are chosen as the search goes: list them at the lowest value, the
    // longest case, as the cost estimate does.
    double lowest = search->min.value_or(search->over == "concurrency" ? 1 : 0.5);
    out << "Capacity search over " << search->over << ": SLO "
        << config::ToJson(c)["workload"]["search"]["slo"].dump() << ", from " << lowest << " to "
        << (search->max ? std::to_string(*search->max) : std::string("a saturation probe's figure"))
        << ", precision " << search->precision_pct << " %, at most " << search->max_probes << " probes\n";
    for (int k = 1; k <= search->max_probes; ++k) iterations.push_back(config::ProbeIteration(c, k, lowest));
  } else {
    iterations = config::ExpandSweep(c);
  }
  int64_t total = 0, warmup = 0;
  out << "Iterations: " << (c.workload.search ? "up to " : "") << iterations.size() << "\n";
  for (const auto& it : iterations) {
    int64_t n = it.config.TotalRequests();
    total += n;
    warmup += Warmup(it.config);
    std::string params = Params(it.params);
    out << "  " << it.index << "/" << it.total << "  " << it.name
        << (params.empty() ? "" : "  (" + params + ")") << "  " << n << " requests\n";
  }
  if (!o.resume_run_id.empty()) {
    std::string error;
    std::string resume = DescribeResume(o, c, &error);
    if (!error.empty()) {
      err << "ib-run: error: " << error << "\n";
      return exit_code::kUsage;
    }
    out << resume;
  }
  out << "Total requests: " << total << (warmup > 0 ? " (+" + std::to_string(warmup) + " warmup)" : "")
      << "\n";
  if (o.server_url.empty() && c.infrastructure.provider == "runpod") {
    std::string error;
    auto table = pricing::LoadPricing(&error);
    if (!table) {
      err << "ib-run: warning: " << error << "\n";
    } else {
      std::string stale = pricing::StalenessWarning(*table, std::time(nullptr));
      if (!stale.empty()) err << "ib-run: warning: " << stale << "\n";
      auto estimate = pricing::EstimateCost(c, *table);
      out << "Est. cost: " << estimate.Describe() << "\n";
      if (estimate.needs_confirmation) {
        out << "  (at or above $" << pricing::kConfirmThresholdUsd
            << ": a real run asks before provisioning unless --confirm)\n";
      }
    }
  } else {
    out << "Est. cost: $0 (" << (o.server_url.empty() ? "local simulated server" : "existing server") << ")\n";
  }
  out << "Resolved config:\n" << config::ToJson(c).dump(2) << "\n";
  out << "Config is valid. Dry run complete.\n";
  return exit_code::kOk;
}

}  // namespace ib::orchestrate
