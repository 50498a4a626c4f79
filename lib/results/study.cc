#include "lib/results/study.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/results/repeats.h"

namespace ib::results {
namespace {

using nlohmann::json;

std::string Num(const json& v, const char* fmt);

json Pick(const json& block, std::initializer_list<const char*> keys) {
  if (!block.is_object()) return nullptr;
  json out = json::object();
  for (const char* k : keys) out[k] = block.contains(k) ? block[k] : json(nullptr);
  return out;
}

json At(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? json(nullptr) : *it;
}

}  // namespace

Study::Study(std::string study_id, std::string kind, const config::ExperimentConfig& config)
    : id_(std::move(study_id)), kind_(std::move(kind)), config_(config::ToJson(config)) {
  if (config.workload.search) {
    over_ = config.workload.search->over;
  } else if (!config.workload.sweep.empty()) {
    over_ = config.workload.sweep.front().first;
  }
  repeats_ = config.workload.search ? config.workload.search->probe.repeats.value_or(config.workload.repeats)
                                    : config.workload.repeats;
}

json Study::CurvePoint(const StudyIteration& it, const json& summary) {
  if (!summary.is_object()) return nullptr;
  const json gpu = At(summary, "gpu_summary");
  const json deltas = At(gpu, "server_counter_deltas");
  const json client = At(summary, "client");
  auto lat = [&](const char* block) { return Pick(At(summary, block), {"p50", "p90", "p99", "mean"}); };
  json point = {
      {"run_id", it.run_id},
      {"value", it.value},
      {"params", it.params},
      // Offered load: the rate or concurrency asked for (a saturation probe offers everything
      // at once: null). Achieved: what the server completed.
      {"offered", it.probe == "saturation" ? json(nullptr) : json(it.value)},
      {"achieved_rps", At(summary, "requests_per_second")},
      {"output_tok_s", At(summary, "tokens_per_second")},
      {"successful_requests", At(summary, "successful_requests")},
      {"failed_requests", At(summary, "failed_requests")},
      {"duration_s", At(summary, "total_duration_s")},
      {"ttft_ms", lat("ttft")},
      {"tpot_ms", lat("tpot")},
      {"itl_ms", lat("itl")},
      {"e2e_ms", lat("e2e_latency")},
      {"goodput_frac", At(At(summary, "goodput"), "fraction")},
      {"kv_cache_peak", At(gpu, "kv_cache_usage_peak")},
      {"preemptions", At(deltas, "preemptions")},
      {"client_degraded", At(client, "degraded_requests")},
  };
  if (it.passed.has_value()) point["passed"] = *it.passed;
  return point;
}

json Study::RepeatsPoint(const std::vector<StudyIteration>& its, const std::vector<json>& summaries) {
  std::vector<json> points;
  json run_ids = json::array();
  for (std::size_t i = 0; i < its.size(); ++i) {
    json p = CurvePoint(its[i], summaries[i]);
    if (p.is_null()) continue;
    run_ids.push_back(its[i].run_id);
    points.push_back(std::move(p));
  }
  if (points.empty()) return nullptr;
  json stats;
  // The point's identity is the first repeat's; only its figures are averaged.
  json point = MeanOf(points, &stats, {"run_id", "value", "params", "offered", "passed"});
  point["repeats"] = points.size();
  point["run_ids"] = std::move(run_ids);
  point["stats"] = std::move(stats);
  return point;
}

void Study::RebuildCurve() {
  curve_ = json::array();
  for (std::size_t i = 0; i < iterations_.size();) {
    std::size_t j = i + 1;
    if (iterations_[i].repeat > 0) {
      while (j < iterations_.size() && iterations_[j].repeat > 0 && iterations_[j].index == iterations_[i].index) ++j;
      json point = RepeatsPoint({iterations_.begin() + i, iterations_.begin() + j},
                                {summaries_.begin() + i, summaries_.begin() + j});
      if (!point.is_null()) curve_.push_back(std::move(point));
    } else {
      json point = CurvePoint(iterations_[i], summaries_[i]);
      if (!point.is_null()) curve_.push_back(std::move(point));
    }
    i = j;
  }
}

void Study::AddIteration(const StudyIteration& it, const json& summary) {
  iterations_.push_back(it);
  summaries_.push_back(summary);
  if (it.repeat > 0) {
    RebuildCurve();
  } else {
    json point = CurvePoint(it, summary);
    if (!point.is_null()) curve_.push_back(std::move(point));
  }
}

void Study::SetCost(double hourly, const std::string& source, double elapsed_s) {
  hourly_ = hourly;
  price_source_ = source;
  elapsed_s_ = elapsed_s;
}

json Study::ToJson() const {
  json iterations = json::array();
  for (const auto& it : iterations_) {
    json j = {{"index", it.index}, {"run_id", it.run_id}, {"name", it.name}, {"params", it.params},
              {"value", it.value}, {"status", it.status}, {"result_path", it.result_path}};
    if (!it.probe.empty()) j["probe"] = it.probe;
    if (it.passed.has_value()) j["passed"] = *it.passed;
    if (!it.verdict.empty()) j["verdict"] = it.verdict;
    if (it.repeat > 0) j["repeat"] = it.repeat;
    if (it.early_stop) j["early_stop"] = true;
    iterations.push_back(std::move(j));
  }
  json cost = {{"usd_per_hr", hourly_ > 0 ? json(hourly_) : json(nullptr)},
               {"price_source", price_source_.empty() ? json(nullptr) : json(price_source_)},
               {"server_s", elapsed_s_},
               {"pod_usd", hourly_ > 0 ? json(hourly_ * elapsed_s_ / 3600) : json(nullptr)},
               {"usd_per_million_output_tokens", nullptr}};
  // The figure for choosing a GPU: what a million output tokens cost at the answer's
  // throughput (a search's passing probe; a sweep's best passing... its highest throughput).
  if (hourly_ > 0 && answer_.is_object()) {
    json tok_s = At(answer_, "output_tok_s");
    if (tok_s.is_number() && tok_s.get<double>() > 0) {
      cost["usd_per_million_output_tokens"] = hourly_ / (tok_s.get<double>() * 3600) * 1e6;
    }
  }
  json out = {{"study_id", id_},     {"kind", kind_},   {"status", status_},   {"over", over_},
              {"config", config_},   {"prompts", prompts_.empty() ? json(nullptr) : json(prompts_)},
              {"iterations", iterations}, {"curve", curve_}, {"answer", answer_}, {"cost", cost}};
  if (!resumed_from_.empty()) out["resumed_from"] = resumed_from_;
  out["repeats"] = repeats_;
  if (resumes_ > 0) out["resumes"] = resumes_;
  return out;
}

bool Study::Write(const std::string& dir, std::string* error) const {
  std::string path = dir + "/" + id_ + ".study.json";
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ToJson().dump(2) << "\n";
    out.flush();
    if (!out) {
      *error = "cannot write " + tmp;
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path;
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

std::optional<json> ReadStudy(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "no study file " + path;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("study_id") || !j.contains("curve")) {
    *error = path + " is not a study file";
    return std::nullopt;
  }
  return j;
}

double NumberOr(const json& j, const char* key, double otherwise) {
  if (!j.is_object()) return otherwise;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : otherwise;
}

std::optional<json> StudyMeasurement(const std::string& dir, const std::string& arg, bool* is_study,
                                     std::string* error) {
  std::size_t at = arg.find('@');
  std::string id = arg.substr(0, at);
  std::string path = StudyPath(dir, id);
  *is_study = !path.empty();
  if (path.empty()) return std::nullopt;
  auto study = ReadStudy(path, error);
  if (!study) return std::nullopt;
  const json& curve = (*study)["curve"];
  const json* point = nullptr;
  std::string values;
  for (const auto& p : curve) {
    values += (values.empty() ? "" : ", ") + Num(p["value"], "%.6g");
    if (at == std::string::npos ? curve.size() == 1 : Num(p["value"], "%.6g") == arg.substr(at + 1)) point = &p;
  }
  if (point == nullptr) {
    *error = at == std::string::npos ? id + " has " + std::to_string(curve.size()) + " curve points (" + values +
                                           "): name one as " + id + "@VALUE"
                                     : id + " has no curve point at " + arg.substr(at + 1) + " (its values: " + values + ")";
    return std::nullopt;
  }
  json ids = point->contains("run_ids") ? (*point)["run_ids"] : json::array({(*point)["run_id"]});
  std::vector<json> runs;
  for (const auto& rid : ids) {
    std::string file = dir + "/" + rid.get<std::string>() + ".json";
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (!in || doc.is_discarded() || !doc.is_object()) {
      *error = "study " + id + ": cannot read " + file;
      return std::nullopt;
    }
    runs.push_back(std::move(doc));
  }
  json out = MeanResults(runs);
  out["run_id"] = at == std::string::npos ? id : arg;
  return out;
}

std::string StudyPath(const std::string& dir, const std::string& id) {
  const std::string suffix = ".study.json";
  std::string stem = id.size() > suffix.size() && id.compare(id.size() - suffix.size(), suffix.size(), suffix) == 0
                         ? id.substr(0, id.size() - suffix.size())
                         : id;
  if (stem.find('/') != std::string::npos) return "";
  std::string path = dir + "/" + stem + suffix;
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) ? path : "";
}

namespace {

std::string Num(const json& v, const char* fmt) {
  if (!v.is_number()) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

std::string Pad(std::string s, std::size_t width) {
  // Width in characters, not bytes (✓ is three bytes).
  std::size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  if (chars < width) s.append(width - chars, ' ');
  return s;
}

std::string CsvNum(const json& v) {
  if (!v.is_number()) return "";
  std::ostringstream s;
  s.precision(10);
  s << v.get<double>();
  return s.str();
}

}  // namespace

std::string FormatStudy(const json& study) {
  std::ostringstream out;
  std::string over = study.value("over", "");
  out << "Study " << study.value("study_id", "") << "  (" << study.value("kind", json("")).get<std::string>() << " over " << over << ", "
      << study.value("status", "") << ")\n";
  if (study.contains("prompts") && study["prompts"].is_string()) out << "Prompts: " << study["prompts"].get<std::string>() << "\n";
  out << "\n";
  const std::vector<std::pair<std::string, std::size_t>> cols = {
      {"#", 3}, {over.empty() ? "value" : over, 13}, {"req/s", 8}, {"out tok/s", 10}, {"TTFT p50", 9}, {"TTFT p99", 9},
      {"TPOT p50", 9}, {"TPOT p99", 9}, {"ITL p99", 8}, {"E2E p99", 9}, {"failed", 7}, {"SLO", 4}};
  for (const auto& [name, w] : cols) out << Pad(name, w) << " ";
  out << "\n";
  int n = 0;
  for (const auto& p : study.value("curve", json::array())) {
    ++n;
    std::string value = p["offered"].is_null() && NumberOr(p, "value", 0) >= 1e6 ? "saturation" : Num(p["value"], "%.4g");
    std::vector<std::string> cells = {
        std::to_string(n),
        value,
        Num(p["achieved_rps"], "%.2f"),
        Num(p["output_tok_s"], "%.0f"),
        Num(p["ttft_ms"].is_object() ? p["ttft_ms"]["p50"] : json(), "%.1f"),
        Num(p["ttft_ms"].is_object() ? p["ttft_ms"]["p99"] : json(), "%.1f"),
        Num(p["tpot_ms"].is_object() ? p["tpot_ms"]["p50"] : json(), "%.2f"),
        Num(p["tpot_ms"].is_object() ? p["tpot_ms"]["p99"] : json(), "%.2f"),
        Num(p["itl_ms"].is_object() ? p["itl_ms"]["p99"] : json(), "%.2f"),
        Num(p["e2e_ms"].is_object() ? p["e2e_ms"]["p99"] : json(), "%.0f"),
        Num(p["failed_requests"], "%.0f"),
        p.contains("passed") ? (p["passed"].get<bool>() ? "✓" : "✗") : "",
    };
    for (std::size_t i = 0; i < cols.size(); ++i) out << Pad(cells[i], cols[i].second) << " ";
    out << "\n";
  }
  out << "(latencies in ms)\n\n";
  const json& a = study.value("answer", json());
  if (study.value("kind", json("")).get<std::string>() == "search") {
    if (!a.is_object()) {
      out << "Answer: none (the search did not finish)\n";
    } else if (a["value"].is_number()) {
      out << "Answer: " << over << " " << Num(a["value"], "%.4g");
      if (a["failing_value"].is_number()) {
        out << " meets the SLO, " << Num(a["failing_value"], "%.4g") << " does not (bracket "
            << Num(a["bracket_pct"], "%.1f") << " %)";
      }
      out << "; " << NumberOr(a, "probes", 0) << " probes, ended by " << a.value("end_reason", "") << "\n";
      out << "  passing probe " << a.value("passing_probe", json("-")).dump() << ", failing probe "
          << a.value("failing_probe", json("-")).dump() << "\n";
    } else {
      out << "Answer: none within the SLO (" << a.value("end_reason", "") << ")\n";
    }
    if (a.is_object()) out << "  SLO " << a["slo"].dump() << "\n";
  } else if (a.is_object()) {
    out << "Highest output throughput: " << Num(a["output_tok_s"], "%.0f") << " tok/s at " << over << " "
        << Num(a["value"], "%.4g") << "\n";
  }
  const json& c = study.value("cost", json());
  if (c.is_object() && c["usd_per_hr"].is_number()) {
    out << "Cost: $" << Num(c["usd_per_hr"], "%.2f") << "/h (" << c.value("price_source", json("")).get<std::string>()
        << "), $" << Num(c["pod_usd"], "%.4f") << " over " << Num(c["server_s"], "%.0f") << " s";
    if (c["usd_per_million_output_tokens"].is_number()) {
      out << "; $" << Num(c["usd_per_million_output_tokens"], "%.3f") << " per million output tokens at the answer";
    }
    out << "\n";
  }
  return out.str();
}

std::string StudyCsv(const json& study) {
  std::ostringstream out;
  out << "run_id,value,offered,achieved_rps,output_tok_s,successful_requests,failed_requests";
  for (const char* m : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
    for (const char* p : {"p50", "p90", "p99", "mean"}) out << "," << m << "_" << p;
  }
  out << ",goodput_frac,kv_cache_peak,preemptions,client_degraded,passed\n";
  for (const auto& p : study.value("curve", json::array())) {
    out << p.value("run_id", "") << "," << CsvNum(p["value"]) << "," << CsvNum(p["offered"]) << ","
        << CsvNum(p["achieved_rps"]) << "," << CsvNum(p["output_tok_s"]) << "," << CsvNum(p["successful_requests"])
        << "," << CsvNum(p["failed_requests"]);
    for (const char* m : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
      for (const char* q : {"p50", "p90", "p99", "mean"}) out << "," << CsvNum(p[m].is_object() ? p[m][q] : json());
    }
    out << "," << CsvNum(p["goodput_frac"]) << "," << CsvNum(p["kv_cache_peak"]) << "," << CsvNum(p["preemptions"])
        << "," << CsvNum(p["client_degraded"]) << ","
        << (p.contains("passed") ? (p["passed"].get<bool>() ? "true" : "false") : "") << "\n";
  }
  return out.str();
}

}  // namespace ib::results
