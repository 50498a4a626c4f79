#include "lib/results/report.h"

#include "lib/results/server_view.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace ib::results {
namespace {

using nlohmann::json;

const json& At(const json& obj, const std::string& dotted) {
  static const json kNull = nullptr;
  const json* cur = &obj;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    std::size_t dot = dotted.find('.', start);
    std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return kNull;
    auto it = cur->find(key);
    if (it == cur->end()) return kNull;
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *cur;
}

std::string Text(const json& v, const std::string& fallback = "n/a") {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return fallback;
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string Fixed(const json& v, int decimals, const std::string& suffix = "") {
  if (!v.is_number()) return "n/a";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f%s", decimals, v.get<double>(), suffix.c_str());
  return buf;
}

std::string Framework(const json& r) {
  const json& m = At(r, "metadata.framework");
  return Text(m.is_null() ? At(r, "experiment.framework") : m);
}
std::string Model(const json& r) {
  const json& m = At(r, "metadata.model");
  return Text(m.is_null() ? At(r, "experiment.model.name") : m);
}
std::string Gpu(const json& type, const json& count) {
  if (type.is_null()) return "n/a";
  return Text(type) + (count.is_number() ? " x" + Text(count) : "");
}
std::string GpuOf(const json& r) {
  json type = At(r, "metadata.gpu_type"), count = At(r, "metadata.gpu_count");
  if (type.is_null()) {
    type = At(r, "experiment.infrastructure.gpu_type");
    count = At(r, "experiment.infrastructure.gpu_count");
  }
  return Gpu(type, count);
}

// Plain text columns, left-aligned, two spaces apart.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

// "[lo, hi] ms" of a server quantile's bucket (hi null: the +Inf bucket).
std::string Bucket(const json& b) {
  if (!b.is_array() || b.size() != 2) return "n/a";
  return Fixed(b[0], 0) + "-" + (b[1].is_number() ? Fixed(b[1], 0) : std::string("inf")) + " ms";
}

std::string Percentiles(const json& block) {
  if (!block.is_object()) return "n/a";
  return "p50=" + Fixed(block["p50"], 0, "ms") + "  p95=" + Fixed(At(block, "p95"), 0, "ms") +
         "  p99=" + Fixed(At(block, "p99"), 0, "ms");
}

}  // namespace

std::string FormatList(const std::vector<ListItem>& items) {
  if (items.empty()) return "No results found.\n";
  std::vector<std::vector<std::string>> rows = {
      {"RUN ID", "STATUS", "FRAMEWORK", "MODEL", "GPU", "REQUESTS", "DATE"}};
  std::string notes;
  for (const auto& item : items) {
    std::string requests = item.total_requests.is_null()
                               ? "n/a"
                               : Text(item.successful_requests, "?") + "/" + Text(item.total_requests);
    std::string date = item.started_at.is_string() ? item.started_at.get<std::string>().substr(0, 16) : "";
    for (char& c : date) {
      if (c == 'T') c = ' ';
    }
    rows.push_back({item.run_id, item.status, Text(item.framework, ""), Text(item.model, ""),
                    item.gpu_type.is_null() ? "" : Gpu(item.gpu_type, item.gpu_count),
                    item.readable ? requests : "", date});
    if (!item.readable) notes += "unreadable: " + item.path + ": " + item.error + "\n";
  }
  return Table(rows) + notes;
}

std::string FormatShow(const json& r) {
  std::string out = "Run: " + Text(At(r, "run_id")) + "\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"  Status", Text(At(r, "status"), "unknown")});
  if (At(r, "stop_reason").is_string()) rows.push_back({"  Stopped", Text(At(r, "stop_reason"))});
  // A resumed run links to the partial run it continues (docs/results-format.md).
  if (At(r, "metadata.resumed_from").is_string())
    rows.push_back({"  Resumed from", Text(At(r, "metadata.resumed_from"))});
  rows.push_back({"  Framework", Framework(r)});
  rows.push_back({"  Model", Model(r)});
  rows.push_back({"  GPU", GpuOf(r)});
  const json& workload = At(r, "metadata.workload_type");
  rows.push_back({"  Workload", Text(workload.is_null() ? At(r, "experiment.workload.type") : workload)});
  if (At(r, "metadata.params").is_object() && !At(r, "metadata.params").empty())
    rows.push_back({"  Params", At(r, "metadata.params").dump()});
  out += Table(rows);

  const json& s = At(r, "summary");
  out += "\nSummary\n";
  if (!s.is_object() || !s.contains("total_requests")) {
    out += "  Could not reconstruct metrics summary.\n";
  } else {
    char line[256];
    std::snprintf(line, sizeof line, "  Requests:     %s/%s        Errors: %s",
                  Text(s["successful_requests"]).c_str(), Text(s["total_requests"]).c_str(),
                  Text(At(s, "failed_requests")).c_str());
    out += line;
    // A partial run sent fewer than it planned: say how many were planned.
    const json& planned = At(r, "metadata.planned_requests");
    if (planned.is_number_integer() && s["total_requests"].is_number_integer() &&
        planned.get<int64_t>() != s["total_requests"].get<int64_t>()) {
      out += "        Planned: " + std::to_string(planned.get<int64_t>());
    }
    out += "\n";
    out += "  Duration:     " + Fixed(At(s, "total_duration_s"), 1, "s") + "\n";
    out += "  Throughput:   " + Fixed(At(s, "tokens_per_second"), 1, " tok/s") + "   (" +
           Fixed(At(s, "requests_per_second"), 1, " req/s") + ")\n\n";
    out += "  TTFT:         " + Percentiles(At(s, "ttft")) + "\n";
    // From the instant each request should have started (docs/metrics.md): only in runs that
    // record it; a gap to the line above is time the client held requests back.
    if (s.contains("ttft_intended"))
      out += "  TTFT intended: " + Percentiles(At(s, "ttft_intended")) + "   (from the intended start)\n";
    out += "  Latency:      " + Percentiles(At(s, "e2e_latency")) + "\n";
    if (s.contains("e2e_intended"))
      out += "  Lat. intended: " + Percentiles(At(s, "e2e_intended")) + "   (from the intended start)\n";
    out += "  TBT:          " + Percentiles(At(s, "tbt")) + "   (pooled inter-token gaps = ITL)\n";
    if (s.contains("itl_per_token"))
      out += "  ITL per token: " + Percentiles(At(s, "itl_per_token")) + "   (each gap / tokens in its event)\n";
    if (s.contains("tpot")) out += "  TPOT:         " + Percentiles(At(s, "tpot")) + "\n";
    if (s.contains("ttfc")) out += "  TTFC:         " + Percentiles(At(s, "ttfc")) + "\n";
    const json& goodput = At(s, "goodput");
    if (goodput.is_object()) {
      out += "  Goodput:      " + Fixed(At(goodput, "requests_per_second"), 2, " req/s") + "  (" +
             Text(At(goodput, "good_requests")) + " good, SLOs " + At(goodput, "slos").dump() + ")\n";
    }
    const json& errors = At(s, "errors_by_reason");
    if (errors.is_object() && !errors.empty()) {
      out += "  Errors by reason:";
      for (auto it = errors.begin(); it != errors.end(); ++it) out += " " + it.key() + "=" + Text(it.value());
      out += "\n";
    }
    const json& g = At(s, "gpu_summary");
    if (g.is_object() && At(g, "total_samples").is_number() && At(g, "total_samples").get<double>() > 0) {
      out += "\n  Server Metrics\n";
      if (!At(g, "kv_cache_usage_peak").is_null())
        out += "    KV Cache: peak=" + Fixed(json(At(g, "kv_cache_usage_peak").get<double>() * 100), 1, "%") +
               "  mean=" + (At(g, "kv_cache_usage_mean").is_number()
                                ? Fixed(json(At(g, "kv_cache_usage_mean").get<double>() * 100), 1, "%")
                                : "n/a") + "\n";
      if (At(g, "prefix_cache_hit_rate").is_number())
        out += "    Cache Hits: " + Fixed(json(At(g, "prefix_cache_hit_rate").get<double>() * 100), 1, "%") + "\n";
      if (At(g, "generation_throughput").is_number())
        out += "    Gen Tput: " + Fixed(At(g, "generation_throughput"), 1, " tok/s (server-side)") + "\n";
      if (At(g, "active_requests_peak").is_number())
        out += "    Active Reqs: peak=" + Fixed(At(g, "active_requests_peak"), 0) +
               "  mean=" + Fixed(At(g, "active_requests_mean"), 1) + "\n";
      out += "    Samples: " + Text(At(g, "total_samples")) + " (" + Text(At(g, "scrape_errors"), "0") + " errors)\n";
    }
    // The server's own latency histograms over the run (docs/metrics.md "Server view").
    const json& sv = At(s, "server_latency");
    if (sv.is_object() && !sv.empty()) {
      out += "\n  Server latency (its /metrics histograms, interpolated in buckets)\n";
      for (const char* key : {"ttft_ms", "e2e_ms", "itl_ms", "tpot_ms", "queue_ms"}) {
        const json& b = At(sv, key);
        if (!b.is_object() || !At(b, "count").is_number() || At(b, "count").get<double>() <= 0) continue;
        std::string name = std::string(key).substr(0, std::string(key).size() - 3);
        for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        char head[32];
        std::snprintf(head, sizeof head, "    %-7s", name.c_str());
        out += head + std::string("p50=") + Fixed(At(b, "p50"), 1, "ms") + "  p90=" + Fixed(At(b, "p90"), 1, "ms") +
               "  p99=" + Fixed(At(b, "p99"), 1, "ms") + "  (" + Fixed(At(b, "count"), 0) + " observed, p50 in " +
               Bucket(At(b, "p50_bucket_ms")) + ")\n";
      }
      for (const std::string& line : ServerGapLines(s)) out += "    ! " + line + "\n";
      if (ServerGapLines(s).empty() && At(s, "server_vs_client").is_array() && !At(s, "server_vs_client").empty())
        out += "    client and server agree on TTFT and E2E within the buckets\n";
    }
  }
  std::string meta;
  for (const char* key : {"server_url", "pod_id", "gpu_type", "gpu_count", "cost_per_hr", "cost_usd",
                          "started_at", "finished_at"}) {
    const json& v = At(At(r, "metadata"), key);
    if (v.is_null() || (v.is_string() && v.get<std::string>().empty())) continue;
    meta += "  " + std::string(key) + ": " + Text(v) + "\n";
  }
  if (!meta.empty()) out += "\nMetadata\n" + meta;
  return out;
}

namespace {

struct RowSpec {
  const char* metric;
  const char* path;
  const char* unit;
  const char* better;  // "lower" | "higher" | nullptr (no delta)
  double scale = 1;
};

const RowSpec kRows[] = {
    {"Requests (successful)", "summary.successful_requests", "", "higher"},
    {"Requests (total)", "summary.total_requests", "", nullptr},
    {"Errors", "summary.failed_requests", "", "lower"},
    {"Duration", "summary.total_duration_s", "s", "lower"},
    {"Throughput (tok/s)", "summary.tokens_per_second", "tok/s", "higher"},
    {"Throughput (req/s)", "summary.requests_per_second", "req/s", "higher"},
    {"Goodput (req/s)", "summary.goodput.requests_per_second", "req/s", "higher"},
    {"TTFT p50", "summary.ttft.p50", "ms", "lower"},
    {"TTFT p95", "summary.ttft.p95", "ms", "lower"},
    {"TTFT p99", "summary.ttft.p99", "ms", "lower"},
    {"Latency p50", "summary.e2e_latency.p50", "ms", "lower"},
    {"Latency p95", "summary.e2e_latency.p95", "ms", "lower"},
    {"Latency p99", "summary.e2e_latency.p99", "ms", "lower"},
    {"TBT/ITL p50", "summary.tbt.p50", "ms", "lower"},
    {"TBT/ITL p95", "summary.tbt.p95", "ms", "lower"},
    {"TBT/ITL p99", "summary.tbt.p99", "ms", "lower"},
    {"TPOT p50", "summary.tpot.p50", "ms", "lower"},
    {"TPOT p99", "summary.tpot.p99", "ms", "lower"},
    {"KV Cache (peak)", "summary.gpu_summary.kv_cache_usage_peak", "%", "lower", 100},
    {"KV Cache (mean)", "summary.gpu_summary.kv_cache_usage_mean", "%", "lower", 100},
    {"Cache Hit Rate", "summary.gpu_summary.prefix_cache_hit_rate", "%", "higher", 100},
    {"Gen Tput (server)", "summary.gpu_summary.generation_throughput", "tok/s", "higher"},
    {"Cost", "metadata.cost_usd", "$", "lower"},
};

}  // namespace

json Compare(const std::vector<json>& runs) {
  json out = {{"runs", json::array()}, {"notes", json::array()}, {"rows", json::array()}};
  std::vector<std::string> frameworks, models;
  for (const auto& r : runs) {
    out["runs"].push_back({{"run_id", At(r, "run_id")}, {"framework", Framework(r)},
                           {"model", Model(r)}, {"gpu", GpuOf(r)}, {"status", At(r, "status")}});
    frameworks.push_back(Framework(r));
    models.push_back(Model(r));
  }
  auto differ = [](const std::vector<std::string>& v) {
    for (const auto& x : v) {
      if (x != v[0]) return true;
    }
    return false;
  };
  if (differ(frameworks)) {
    out["notes"].push_back(
        "frameworks differ: client-side numbers (TTFT, latency, TBT, throughput) are measured the "
        "same way for every engine; server-side ones (KV cache, cache hit rate, server throughput) "
        "come from each engine's own Prometheus metrics and are not strictly comparable");
  }
  if (differ(models)) out["notes"].push_back("models differ: deltas compare different models");
  for (const auto& spec : kRows) {
    json values = json::array();
    bool any = false;
    for (const auto& r : runs) {
      const json& v = At(r, spec.path);
      if (v.is_number() && std::isfinite(v.get<double>())) {
        values.push_back(v.get<double>() * spec.scale);
        any = true;
      } else {
        values.push_back(nullptr);
      }
    }
    if (!any) continue;
    // A study operand (repeats, MeanResults) carries the 95 % interval of each summary figure:
    // its half-width, in the row's unit (docs/metrics.md "Repeats").
    json halves = json::array();
    bool any_half = false;
    for (const auto& r : runs) {
      std::string sub = std::string(spec.path).substr(std::string("summary.").size());
      const json& st = std::string(spec.path).rfind("summary.", 0) == 0 ? At(At(r, "repeat_stats"), sub) : json();
      const json& high = At(st, "ci95_high");
      const json& mean = At(st, "mean");
      if (high.is_number() && mean.is_number()) {
        halves.push_back((high.get<double>() - mean.get<double>()) * spec.scale);
        any_half = true;
      } else {
        halves.push_back(nullptr);
      }
    }
    json deltas = json::array({nullptr});
    for (std::size_t i = 1; i < runs.size(); ++i) {
      if (!spec.better || !values[0].is_number() || !values[i].is_number()) {
        deltas.push_back(nullptr);
        continue;
      }
      double a = values[0].get<double>(), b = values[i].get<double>();
      double diff = b - a;
      json pct = a != 0 ? json(diff / std::fabs(a) * 100) : json(nullptr);
      std::string verdict = "same";
      double ha = halves[0].is_number() ? halves[0].get<double>() : 0;
      double hb = halves[i].is_number() ? halves[i].get<double>() : 0;
      if (diff != 0 && (ha > 0 || hb > 0) && std::fabs(diff) <= std::sqrt(ha * ha + hb * hb)) {
        verdict = "within noise";
      } else if (diff != 0) {
        bool lower_better = std::string(spec.better) == "lower";
        verdict = (diff < 0) == lower_better ? "better" : "worse";
      }
      deltas.push_back({{"abs", diff}, {"pct", pct}, {"verdict", verdict}});
    }
    json row = {{"metric", spec.metric},
                {"unit", spec.unit},
                {"better", spec.better ? json(spec.better) : json(nullptr)},
                {"values", values},
                {"deltas", deltas}};
    if (any_half) row["ci95_half"] = halves;  // only with a study operand: plain rows unchanged
    out["rows"].push_back(std::move(row));
  }
  return out;
}

std::string FormatComparison(const json& c) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"METRIC"};
  const json& runs = c["runs"];
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::string id = Text(runs[i]["run_id"]);
    header.push_back(std::string(1, static_cast<char>('A' + i)) + " (" + id + ")");
    if (i > 0) header.push_back("DELTA " + std::string(1, static_cast<char>('A' + i)) + "-A");
  }
  rows.push_back(header);
  for (const char* field : {"framework", "model", "gpu", "status"}) {
    std::string label = field;
    label = label == "gpu" ? "GPU" : std::string(1, static_cast<char>(std::toupper(field[0]))) + (field + 1);
    std::vector<std::string> row = {label};
    for (std::size_t i = 0; i < runs.size(); ++i) {
      row.push_back(Text(runs[i][field]));
      if (i > 0) row.push_back("");
    }
    rows.push_back(row);
  }
  for (const auto& r : c["rows"]) {
    std::string unit = r["unit"];
    int decimals = unit == "$" ? 4 : unit.empty() ? 0 : 1;
    std::vector<std::string> row = {r["metric"].get<std::string>()};
    for (std::size_t i = 0; i < r["values"].size(); ++i) {
      const json& v = r["values"][i];
      std::string value = v.is_number() ? Fixed(v, decimals) : "n/a";
      if (v.is_number() && r.contains("ci95_half") && r["ci95_half"][i].is_number()) {
        value += " ±" + Fixed(r["ci95_half"][i], decimals);
      }
      row.push_back(v.is_number() && !unit.empty() ? value + " " + unit : value);
      if (i == 0) continue;
      const json& d = r["deltas"][i];
      if (!d.is_object()) {
        row.push_back("");
        continue;
      }
      char buf[96];
      std::snprintf(buf, sizeof buf, "%+.*f", decimals, d["abs"].get<double>());
      std::string cell = buf;
      if (d["pct"].is_number()) {
        std::snprintf(buf, sizeof buf, " (%+.1f%%)", d["pct"].get<double>());
        cell += buf;
      }
      if (d["verdict"] != "same") cell += " " + d["verdict"].get<std::string>();
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  std::string out = "Comparison\n" + Table(rows);
  for (const auto& note : c["notes"]) out += "note: " + note.get<std::string>() + "\n";
  return out;
}

namespace {

std::string CsvCell(const json& v) {
  if (v.is_null()) return "";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

const char* kRequestColumns[] = {
    "request_index", "warmup", "iteration", "conversation_index", "turn_index", "started_at",
    "finished_at", "start_ms", "end_ms", "scheduled_ms", "send_lag_ms", "ttft_ms", "ttfc_ms",
    "e2e_latency_ms", "tpot_ms", "itl_count", "itl_mean_ms", "prompt_tokens",
    "completion_tokens", "token_count_source", "error", "error_kind", "http_status",
    "client_degraded"};

// A timestamp with milliseconds, whatever precision the file holds (ib-load writes started_at
// in microseconds, finished_at is derived in milliseconds): one precision per CSV column pair.
json Milliseconds(const json& v) {
  if (!v.is_string()) return v;
  std::string s = v.get<std::string>();
  auto t = s.find('T');
  if (t == std::string::npos || s.size() < t + 9) return v;
  std::size_t frac = t + 9;  // after HH:MM:SS
  std::size_t digits_end = frac;
  if (frac < s.size() && s[frac] == '.') {
    digits_end = frac + 1;
    while (digits_end < s.size() && s[digits_end] >= '0' && s[digits_end] <= '9') ++digits_end;
  }
  std::string digits = digits_end > frac ? s.substr(frac + 1, digits_end - frac - 1) : "";
  digits = (digits + "000").substr(0, 3);
  return s.substr(0, frac) + "." + digits + s.substr(digits_end);
}

void CsvRows(const json& list, bool warmup, std::string* out) {
  if (!list.is_array()) return;
  for (const auto& r : list) {
    std::string line;
    for (const char* col : kRequestColumns) {
      std::string name = col;
      json v = At(r, name);
      if (name == "warmup") v = warmup;
      if (name == "started_at" || name == "finished_at") v = Milliseconds(v);
      const json& itl = At(r, "inter_token_latencies_ms");
      if (name == "itl_count") v = itl.is_array() ? json(itl.size()) : json(nullptr);
      if (name == "itl_mean_ms") {
        double sum = 0;
        std::size_t n = 0;
        if (itl.is_array()) {
          for (const auto& x : itl) {
            if (x.is_number()) {
              sum += x.get<double>();
              ++n;
            }
          }
        }
        v = n ? json(sum / static_cast<double>(n)) : json(nullptr);
      }
      if (!line.empty() || col != kRequestColumns[0]) line += ",";
      line += CsvCell(v);
    }
    *out += line + "\n";
  }
}

void Flatten(const json& v, const std::string& prefix, std::string* out) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      Flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (v.is_array()) {
    *out += CsvCell(prefix) + "," + CsvCell(v.dump()) + "\n";
  } else {
    *out += CsvCell(prefix) + "," + CsvCell(v) + "\n";
  }
}

}  // namespace

std::string RequestsCsv(const json& results) {
  std::string out;
  for (const char* col : kRequestColumns) out += std::string(out.empty() ? "" : ",") + col;
  out += "\n";
  CsvRows(At(results, "warmup_requests"), true, &out);
  CsvRows(At(results, "requests"), false, &out);
  return out;
}

json RequestsJson(const json& results) {
  const json& requests = At(results, "requests");
  const json& warmup = At(results, "warmup_requests");
  return {{"run_id", At(results, "run_id")},
          {"requests", requests.is_array() ? requests : json::array()},
          {"warmup_requests", warmup.is_array() ? warmup : json::array()}};
}

std::string SummaryCsv(const json& results) {
  std::string out = "metric,value\n";
  Flatten(At(results, "summary"), "", &out);
  return out;
}

}  // namespace ib::results
