#include "lib/orchestrate/progress.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "lib/events/events.h"
#include "lib/events/stream.h"
#include "lib/results/server_view.h"

namespace ib::orchestrate {
namespace {

namespace ev = ib::events;
using Clock = std::chrono::steady_clock;

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// data[key][sub] or data[key] as a number, if present.
std::optional<double> Number(const nlohmann::json& data, const std::string& key,
                             const std::string& sub = "") {
  if (!data.is_object() || !data.contains(key)) return std::nullopt;
  const auto& v = sub.empty() ? data[key] : (data[key].is_object() && data[key].contains(sub)
                                                 ? data[key][sub]
                                                 : nlohmann::json());
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

std::string Cell(std::optional<double> v, int digits, const std::string& unit) {
  return v ? Fixed(*v, digits) + unit : "-";
}

}  // namespace

std::string Progress::SummaryTable(const std::string& run_id, const nlohmann::json& d) {
  // Aggregates sit at the top level of the event's data or under "summary".
  const nlohmann::json& s = d.contains("summary") && d["summary"].is_object() ? d["summary"] : d;
  std::ostringstream out;
  out << "  Summary of " << run_id << "\n";
  auto row = [&out](const std::string& name, const std::string& value) {
    out << "    " << name << std::string(name.size() < 18 ? 18 - name.size() : 1, ' ') << value
        << "\n";
  };
  // The summary's typed figures (lib/events/payloads.h); the latency blocks are read below.
  ev::SummaryData figures;
  std::string error;
  ev::FromJson(s.is_object() ? s : nlohmann::json::object(), &figures, &error);
  auto opt = [](const auto& v) { return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt; };
  row("Requests", Cell(opt(figures.successful_requests), 0, "") + " ok / " +
                      Cell(opt(figures.failed_requests), 0, "") + " failed");
  row("Duration", Cell(figures.total_duration_s, 1, " s"));
  row("Throughput", Cell(figures.requests_per_second, 2, " req/s") + ", " +
                        Cell(figures.tokens_per_second, 1, " tok/s"));
  // *_intended: from the instant each request should have started (client hold-back included).
  for (const char* metric : {"ttft", "ttft_intended", "tpot", "itl_per_token", "e2e_latency", "e2e_intended"}) {
    if (!s.contains(metric) || s[metric].is_null()) continue;
    row(std::string(metric) + " (ms)", "p50 " + Cell(Number(s, metric, "p50"), 1, "") + "  p95 " +
                                           Cell(Number(s, metric, "p95"), 1, "") + "  p99 " +
                                           Cell(Number(s, metric, "p99"), 1, ""));
  }
  // The server's own histograms (docs/metrics.md "Server view"), and any gap beyond their buckets.
  if (s.contains("server_latency") && s["server_latency"].is_object()) {
    for (const char* metric : {"ttft_ms", "e2e_ms"}) {
      if (!s["server_latency"].contains(metric)) continue;
      const nlohmann::json& b = s["server_latency"][metric];
      row(std::string("server ") + std::string(metric).substr(0, std::string(metric).size() - 3) + " (ms)",
          "p50 " + Cell(Number(b, "p50"), 1, "") + "  p90 " + Cell(Number(b, "p90"), 1, "") + "  p99 " +
              Cell(Number(b, "p99"), 1, "") + "  (from its /metrics buckets)");
    }
    for (const std::string& line : ib::results::ServerGapLines(s)) out << "    ! " << line << "\n";
  }
  if (const auto path = ev::SummaryOf(ev::Summary{run_id, d}).result_path) row("Results", *path);
  return out.str();
}

std::string Progress::BarLine() const {
  constexpr int kWidth = 24;
  double frac = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / total_) : 0;
  int filled = static_cast<int>(std::lround(frac * kWidth));
  double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
  std::ostringstream out;
  out << "  [" << std::string(filled, '#') << std::string(kWidth - filled, '-') << "] " << done_
      << "/" << total_;
  if (failed_ > 0) out << " (" << failed_ << " failed)";
  out << "  TTFT " << (ttft_n_ > 0 ? Fixed(ttft_sum_ms_ / ttft_n_, 0) + " ms" : "-");
  out << "  " << (elapsed > 0 ? Fixed(tokens_ / elapsed, 0) : "0") << " tok/s  "
      << Fixed(elapsed, 1) << " s";
  return out.str();
}

void Progress::Print(const std::string& text) {
  std::string data = bar_shown_ ? "\r\033[K" : "";
  data += text + "\n";
  bar_shown_ = false;
  ev::WriteAll(fd_, data);
}

void Progress::DrawBar(bool force) {
  auto now = Clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  ev::WriteAll(fd_, "\r\033[K" + BarLine());
  bar_shown_ = true;
}

void Progress::Observe(std::string_view line) {
  // gpu_sample lines are most of the stream and change nothing here.
  if (line.find("\"gpu_sample\"") != std::string_view::npos) return;
  auto parsed = ev::ParseEvent(line);
  if (!parsed.event) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (const auto* r = std::get_if<ev::RequestComplete>(&*parsed.event)) {
    if (r->warmup) return;
    ++done_;
    if (r->error) ++failed_;
    if (r->ttft_ms) {
      ttft_sum_ms_ += *r->ttft_ms;
      ++ttft_n_;
    }
    tokens_ += r->completion_tokens.value_or(0);
    DrawBar(done_ == total_);
  } else if (const auto* p = std::get_if<ev::Phase>(&*parsed.event)) {
    const auto& d = p->data;
    if (p->phase == ev::phase::kExecution) {
      total_ = ev::ExecutionOf(*p).total_requests.value_or(0);
      done_ = failed_ = ttft_n_ = tokens_ = 0;
      ttft_sum_ms_ = 0;
      started_ = Clock::now();
      Print("  running " + p->run_id + ": " + std::to_string(total_) + " requests");
      DrawBar(true);
    } else if (p->phase == ev::phase::kSweepIteration) {
      // A run without a sweep is one "iteration" with no parameters: nothing to announce.
      if (d.value("total", 0) > 1) {
        Print("── Sweep iteration " + std::to_string(d.value("iteration", 0)) + "/" +
              std::to_string(d.value("total", 0)) + " ── " +
              (d.contains("params") ? d["params"].dump() : "") + "  " + p->run_id);
      }
    } else if (p->phase == ev::phase::kIterationDone) {
      if (bar_shown_) {
        DrawBar(true);
        ev::WriteAll(fd_, "\n");
        bar_shown_ = false;
      }
    } else if (p->phase == ev::phase::kModelLoadingDone) {
      Print("model_loading_done: healthy after " + Fixed(d.value("elapsed_s", 0.0), 1) + " s");
    } else if (p->phase == ev::phase::kDone || p->phase == ev::phase::kFailed) {
      std::string text = p->phase;
      if (d.contains("reason") && d["reason"].is_string()) text += ": " + d["reason"].get<std::string>();
      if (d.contains("result_paths")) {
        for (const auto& path : d["result_paths"]) text += "\n  " + path.get<std::string>();
      }
      Print(text);
    } else {
      std::string text = p->phase;
      if (d.contains("server_url") && d["server_url"].is_string()) {
        text += " " + d["server_url"].get<std::string>();
      }
      if (d.contains("timeout_s") && d["timeout_s"].is_number()) {
        text += " (up to " + Fixed(d["timeout_s"].get<double>(), 0) + " s)";
      }
      Print(text);
    }
  } else if (const auto* l = std::get_if<ev::Log>(&*parsed.event)) {
    if (l->level == "warning" || l->level == "error") {
      Print(l->level + " (" + l->source + "): " + l->message);
    }
  } else if (const auto* e = std::get_if<ev::Error>(&*parsed.event)) {
    Print("error (" + e->source + "): " + e->message);
  } else if (const auto* s = std::get_if<ev::Summary>(&*parsed.event)) {
    Print(SummaryTable(s->run_id, s->data));
  }
}

void Progress::Line(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  Print(text);
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (bar_shown_) ev::WriteAll(fd_, "\n");
  bar_shown_ = false;
}

}  // namespace ib::orchestrate
