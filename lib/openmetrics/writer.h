// Writing metrics as OpenMetrics 1.0.0 text or as Prometheus text format 0.0.4: the one writer
// behind ib-dash's GET /metrics and `ib-results export --format openmetrics`.
//
//   ib::openmetrics::Writer w(ib::openmetrics::Format::kOpenMetrics);
//   w.Family("ib_requests", Type::kCounter, "Requests that finished.");
//   w.Sample("ib_requests_total", {{"run_id", id}, {"outcome", "success"}}, 20);
//   std::string page = std::move(w).Finish();   // ends with "# EOF\n" in OpenMetrics
//
// Label values are escaped per both specs (backslash, double quote, line feed) and invalid
// UTF-8 is replaced by U+FFFD, so any run id or model name yields a parseable page. Metric and
// label names are the caller's constants and are not checked here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ib::openmetrics {

enum class Format { kOpenMetrics, kPrometheusText };

inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// The format an HTTP Accept header asks for: the one of the two with the higher q value;
// OpenMetrics on a tie, when neither is named, or without a header (docs/ib-dash.md).
Format NegotiateFormat(std::string_view accept);
std::string_view ContentType(Format format);

enum class Type { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// A label value's text between the quotes: utf8::ValidUtf8 (bad bytes -> U+FFFD), then \ -> \\, " -> \", LF -> \n.
std::string EscapeLabelValue(std::string_view value);
// A sample value or `le` bound: shortest round-trip decimal, integers without exponent up to
// 1e15, "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);
// A bucket bound for `le`: FormatValue with ".0" added to integers ("1.0", OpenMetrics'
// canonical form), used in both formats so the two produce the same series.
std::string FormatBound(double bound);

// Fixed-bucket histogram: counts per upper bound (cumulated when written), sum and count.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);  // ascending, finite; not owned
  void Observe(double value);  // non-finite values are ignored
  const std::vector<double>& bounds() const { return *bounds_; }
  // Cumulative count of observations <= bounds()[i]; i == bounds().size() is +Inf (= count).
  uint64_t Cumulative(std::size_t i) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  const std::vector<double>* bounds_;
  std::vector<uint64_t> per_bucket_;  // bounds + 1 (+Inf), not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Writer {
 public:
  explicit Writer(Format format) : format_(format) {}

  // Starts a family: "# TYPE", "# UNIT" (OpenMetrics, when `unit` is set: the name must end
  // with "_<unit>") and "# HELP". For a counter, `name` is without "_total" in OpenMetrics and
  // written with it in Prometheus text (each format's rule); samples always use name + "_total".
  void Family(std::string_view name, Type type, std::string_view help, std::string_view unit = {});
  // One sample line. `timestamp_s`: seconds since the Unix epoch (written in seconds in
  // OpenMetrics, integer milliseconds in Prometheus text); none for a live page.
  void Sample(std::string_view name, const Labels& labels, double value,
              std::optional<double> timestamp_s = std::nullopt);
  // Every bucket (le), _count and _sum of `h` at one instant.
  void HistogramPoint(std::string_view name, const Labels& labels, const Histogram& h,
                      std::optional<double> timestamp_s = std::nullopt);
  // The page; OpenMetrics ends with "# EOF".
  std::string Finish() &&;

  Format format() const { return format_; }

 private:
  void AppendLabels(const Labels& labels, std::string_view extra_name = {},
                    std::string_view extra_value = {});
  std::string Timestamp(double seconds) const;
  Format format_;
  std::string out_;
};

}  // namespace ib::openmetrics
