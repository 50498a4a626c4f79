#include "lib/openmetrics/writer.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdint>

#include "lib/utf8/utf8.h"

namespace ib::openmetrics {

namespace {

// q of the media range in `accept` that names `type` (0 if none). Parameters other than q are
// ignored; "application/openmetrics-text;version=0.0.1" counts as OpenMetrics too.
double QualityOf(std::string_view accept, std::string_view type) {
  double best = 0;
  bool found = false;
  std::size_t pos = 0;
  while (pos <= accept.size()) {
    std::size_t end = accept.find(',', pos);
    if (end == std::string_view::npos) end = accept.size();
    std::string_view range = accept.substr(pos, end - pos);
    pos = end + 1;
    std::size_t semi = range.find(';');
    std::string_view media = range.substr(0, semi);
    while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    if (media.size() != type.size() ||
        !std::equal(media.begin(), media.end(), type.begin(),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }))
      continue;
    double q = 1;
    for (std::size_t p = semi; p != std::string_view::npos && p < range.size();) {
      std::size_t next = range.find(';', p + 1);
      std::string_view param = range.substr(p + 1, next == std::string_view::npos ? std::string_view::npos : next - p - 1);
      while (!param.empty() && param.front() == ' ') param.remove_prefix(1);
      if (param.starts_with("q=")) {
        double v = 0;
        auto r = std::from_chars(param.data() + 2, param.data() + param.size(), v);
        q = r.ec == std::errc() ? v : 0;
      }
      p = next;
    }
    best = found ? std::max(best, q) : q;
    found = true;
  }
  return best;
}

void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : utf8::ValidUtf8(text)) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quotes) out += "\\\"";
    else out += c;
  }
}

}  // namespace

Format NegotiateFormat(std::string_view accept) {
  double om = QualityOf(accept, "application/openmetrics-text");
  double text = QualityOf(accept, "text/plain");
  return text > om ? Format::kPrometheusText : Format::kOpenMetrics;
}

std::string_view ContentType(Format format) {
  return format == Format::kOpenMetrics ? kOpenMetricsContentType : kPrometheusContentType;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  AppendEscaped(out, value, /*quotes=*/true);
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::to_chars_result r;
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip
  }
  return std::string(buf, r.ptr);
}

std::string FormatBound(double bound) {
  std::string s = FormatValue(bound);
  if (std::isfinite(bound) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), per_bucket_(bounds->size() + 1, 0) {}

void Histogram::Observe(double value) {
  if (!std::isfinite(value)) return;
  auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);  // first bound >= value
  ++per_bucket_[static_cast<std::size_t>(it - bounds_->begin())];
  ++count_;
  sum_ += value;
}

uint64_t Histogram::Cumulative(std::size_t i) const {
  uint64_t total = 0;
  for (std::size_t k = 0; k <= i && k < per_bucket_.size(); ++k) total += per_bucket_[k];
  return total;
}

void Writer::Family(std::string_view name, Type type, std::string_view help, std::string_view unit) {
  const bool om = format_ == Format::kOpenMetrics;
  std::string family(name);
  if (type == Type::kCounter && !om) family += "_total";
  const char* type_name = type == Type::kCounter ? "counter" : type == Type::kGauge ? "gauge" : "histogram";
  out_ += "# HELP " + family + " ";
  AppendEscaped(out_, help, /*quotes=*/om);  // 0.0.4 escapes only \ and LF in HELP
  out_ += "\n# TYPE " + family + " " + type_name + "\n";
  if (om && !unit.empty()) out_ += "# UNIT " + family + " " + std::string(unit) + "\n";
}

void Writer::AppendLabels(const Labels& labels, std::string_view extra_name,
                          std::string_view extra_value) {
  bool any = false;
  for (const auto& [k, v] : labels) {
    if (v.empty()) continue;  // an empty value is the same as no label in both formats
    out_ += any ? ',' : '{';
    any = true;
    out_ += k;
    out_ += "=\"";
    AppendEscaped(out_, v, true);
    out_ += '"';
  }
  if (!extra_name.empty()) {
    out_ += any ? ',' : '{';
    any = true;
    out_ += extra_name;
    out_ += "=\"";
    out_ += extra_value;
    out_ += '"';
  }
  if (any) out_ += '}';
}

void Writer::Sample(std::string_view name, const Labels& labels, double value,
                    std::optional<double> timestamp_s) {
  out_ += name;
  AppendLabels(labels);
  out_ += ' ';
  out_ += FormatValue(value);
  if (timestamp_s) out_ += ' ' + Timestamp(*timestamp_s);
  out_ += '\n';
}

std::string Writer::Timestamp(double seconds) const {
  if (format_ == Format::kPrometheusText) return std::to_string(std::llround(seconds * 1000));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, seconds, std::chars_format::fixed, 3);
  return std::string(buf, r.ptr);
}

void Writer::HistogramPoint(std::string_view name, const Labels& labels, const Histogram& h,
                            std::optional<double> timestamp_s) {
  std::string bucket = std::string(name) + "_bucket";
  const std::string ts = timestamp_s ? Timestamp(*timestamp_s) : std::string();
  auto line_end = [&] {
    if (!ts.empty()) out_ += ' ' + ts;
    out_ += '\n';
  };
  const auto& bounds = h.bounds();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    uint64_t cumulative = h.Cumulative(i);
    out_ += bucket;
    AppendLabels(labels, "le", i < bounds.size() ? FormatBound(bounds[i]) : "+Inf");
    out_ += ' ' + FormatValue(static_cast<double>(cumulative));
    line_end();
  }
  out_ += std::string(name) + "_count";
  AppendLabels(labels);
  out_ += ' ' + FormatValue(static_cast<double>(h.count()));
  line_end();
  out_ += std::string(name) + "_sum";
  AppendLabels(labels);
  out_ += ' ' + FormatValue(h.sum());
  line_end();
}

std::string Writer::Finish() && {
  if (format_ == Format::kOpenMetrics) out_ += "# EOF\n";
  return std::move(out_);
}

}  // namespace ib::openmetrics
