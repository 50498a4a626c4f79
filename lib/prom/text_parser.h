// A parser for the Prometheus text exposition format (0.0.4, what vLLM and SGLang serve) and
// OpenMetrics 1.0 text (# UNIT, # EOF, exemplars). It is streaming and allocation-light: it walks
// the page once and hands each sample to a handler as views into the page (or into a scratch
// buffer that the parser reuses), so a scrape loop that keeps one TextParser allocates nothing
// in steady state.
//
//   struct Kv : ib::prom::SampleHandler {
//     void OnSample(const ib::prom::SampleView& s) override {
//       if (s.name == "vllm:kv_cache_usage_perc") usage = s.value;
//     }
//     double usage = 0;
//   } kv;
//   ib::prom::TextParser parser;
//   ib::prom::ParseReport report = parser.Parse(body, kv);
//   if (!report.ok()) std::cerr << report.errors[0].line << ": " << report.errors[0].message;
//
// Bad lines never stop the parse and never crash it: each is reported with its 1-based line
// number and skipped, and parsing goes on with the next line. ParsePage() builds a whole
// in-memory Page (families with their type, help and samples) for tests and tools that want one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ib::prom {

enum class MetricType {
  kUntyped,  // no TYPE line, or "untyped"
  kCounter,
  kGauge,
  kHistogram,
  kSummary,
  kUnknown,  // OpenMetrics "unknown"
  kInfo,
  kStateSet,
  kGaugeHistogram,
};
std::string_view MetricTypeName(MetricType type);

struct LabelView {
  std::string_view name;
  std::string_view value;  // escapes (\\ \" \n) already resolved
};

// One sample line. Every view is valid only during the OnSample call.
struct SampleView {
  std::string_view name;
  std::span<const LabelView> labels;
  std::string_view raw_labels;  // the text between the braces as written: a cheap series key
  double value = 0;             // NaN and +/-Inf are kept as such
  std::optional<double> timestamp;  // as written: ms (text format) or s (OpenMetrics)
  bool has_exemplar = false;        // OpenMetrics "# {labels} value [ts]" after the value
  int64_t line = 0;                 // 1-based

  // The value of a label, or nullopt when the sample does not carry it.
  std::optional<std::string_view> LabelValue(std::string_view label_name) const;
};

class SampleHandler {
 public:
  virtual ~SampleHandler() = default;
  virtual void OnSample(const SampleView& sample) = 0;
  // Metadata lines. `text` is the HELP text unescaped, or the UNIT as written.
  virtual void OnType(std::string_view family, MetricType type) {}
  virtual void OnHelp(std::string_view family, std::string_view text) {}
  virtual void OnUnit(std::string_view family, std::string_view unit) {}
};

struct ParseError {
  int64_t line = 0;  // 1-based line number in the page
  std::string message;
};

struct ParseOptions {
  // OpenMetrics: the page must end with "# EOF" (its absence means a truncated page), and HELP
  // text also unescapes \". Without it, "# EOF" is still accepted as the end of the page.
  bool openmetrics = false;
  // At most this many errors are kept (all are counted), so garbage cannot grow memory.
  std::size_t max_errors = 20;
};

struct ParseReport {
  int64_t lines = 0;    // lines read
  int64_t samples = 0;  // sample lines handed to the handler
  int64_t error_count = 0;
  std::vector<ParseError> errors;  // the first ParseOptions::max_errors of them
  bool saw_eof = false;            // "# EOF" was read
  bool ok() const { return error_count == 0; }
};

// Keeps its scratch buffers between calls: reuse one parser for a stream of pages.
class TextParser {
 public:
  explicit TextParser(ParseOptions options = {}) : options_(options) {}
  ParseReport Parse(std::string_view page, SampleHandler& handler);

 private:
  bool ParseLine(std::string_view line, int64_t number, SampleHandler& handler,
                 ParseReport& report, std::string* error);
  bool ParseComment(std::string_view line, SampleHandler& handler, ParseReport& report,
                    std::string* error);
  bool ParseSample(std::string_view line, int64_t number, SampleHandler& handler,
                   std::string* error);
  ParseOptions options_;
  std::vector<LabelView> labels_;
  std::string scratch_;  // unescaped label values and names; reserved per line, never reallocated within one
};

// Parses a number as the formats write it: decimal or exponent form, an optional leading '+',
// "NaN", "+Inf", "-Inf", "Inf" (any case). The whole text must be the number.
std::optional<double> ParseNumber(std::string_view text);

// ---- A whole page in memory (tests, one-off tools) ----

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};

struct Sample {
  std::string name;  // the full sample name, e.g. "x_bucket"
  std::vector<Label> labels;
  double value = 0;
  std::optional<double> timestamp;
  bool has_exemplar = false;
  int64_t line = 0;
  std::optional<std::string> LabelValue(std::string_view label_name) const;
};

struct Family {
  std::string name;
  MetricType type = MetricType::kUntyped;
  std::string help;
  std::string unit;
  std::vector<Sample> samples;
};

struct Page {
  std::vector<Family> families;  // in order of first appearance
  ParseReport report;
  // The family named `name` (its TYPE/HELP name, or the sample name for samples without
  // metadata), or nullptr.
  const Family* Find(std::string_view name) const;
  // Every sample named exactly `sample_name`, across families.
  std::vector<const Sample*> SamplesNamed(std::string_view sample_name) const;
  std::size_t SampleCount() const;
};

// Samples are grouped into the family whose metadata names them: "x_bucket", "x_sum",
// "x_count" and "x_created" belong to histogram/summary "x", "x_total" and "x_created" to
// counter "x" (OpenMetrics spelling), and so on. A sample that no metadata claims forms its own
// untyped family.
Page ParsePage(std::string_view text, ParseOptions options = {});

}  // namespace ib::prom
