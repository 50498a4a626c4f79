#include "lib/prom/text_parser.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace ib::prom {
namespace {

// Character classes of the legacy name syntax, as one table lookup per byte.
constexpr unsigned char kNameStart = 1;  // [a-zA-Z_:] (':' only for metric names)
constexpr unsigned char kNameChar = 2;   // [a-zA-Z0-9_:]
constexpr unsigned char kColon = 4;
constexpr std::array<unsigned char, 256> MakeClasses() {
  std::array<unsigned char, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kNameStart | kNameChar;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kNameStart | kNameChar;
  for (int c = '0'; c <= '9'; ++c) t[c] = kNameChar;
  t['_'] = kNameStart | kNameChar;
  t[':'] = kNameStart | kNameChar | kColon;
  return t;
}
constexpr std::array<unsigned char, 256> kClasses = MakeClasses();

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

inline void SkipBlanks(std::string_view s, std::size_t& pos) {
  while (pos < s.size() && IsBlank(s[pos])) ++pos;
}

// Reads a legacy metric name (colons allowed) or label name (no colons) at pos.
std::string_view ReadName(std::string_view s, std::size_t& pos, bool allow_colon) {
  std::size_t start = pos;
  if (pos >= s.size()) return {};
  unsigned char c = static_cast<unsigned char>(s[pos]);
  if (!(kClasses[c] & kNameStart) || (!allow_colon && (kClasses[c] & kColon))) return {};
  ++pos;
  while (pos < s.size()) {
    c = static_cast<unsigned char>(s[pos]);
    if (!(kClasses[c] & kNameChar) || (!allow_colon && (kClasses[c] & kColon))) break;
    ++pos;
  }
  return s.substr(start, pos - start);
}

// Shows a short, printable excerpt of bad input in an error message.
std::string Excerpt(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

// Reads a double-quoted string starting at pos (on the opening quote), resolving \\ \" \n and
// keeping any other backslash sequence as written. Unescaped text goes to the end of scratch
// (which the caller reserved, so views into it stay valid). Returns false if unterminated.
bool ReadQuoted(std::string_view s, std::size_t& pos, std::string& scratch, std::string_view* out) {
  ++pos;  // opening quote
  std::size_t start = pos;
  // Fast path: no backslash before the closing quote, so the view points into the page.
  while (pos < s.size() && s[pos] != '"' && s[pos] != '\\') ++pos;
  if (pos < s.size() && s[pos] == '"') {
    *out = s.substr(start, pos - start);
    ++pos;
    return true;
  }
  std::size_t begin = scratch.size();
  scratch.append(s.data() + start, pos - start);
  while (pos < s.size()) {
    char c = s[pos];
    if (c == '"') {
      *out = std::string_view(scratch).substr(begin);
      ++pos;
      return true;
    }
    if (c == '\\' && pos + 1 < s.size()) {
      char next = s[pos + 1];
      if (next == '\\' || next == '"') {
        scratch += next;
      } else if (next == 'n') {
        scratch += '\n';
      } else {
        scratch += c;
        scratch += next;
      }
      pos += 2;
      continue;
    }
    scratch += c;
    ++pos;
  }
  return false;
}

// HELP text: \\ and \n always, \" only in OpenMetrics.
std::string_view UnescapeHelp(std::string_view text, bool openmetrics, std::string& scratch) {
  if (text.find('\\') == std::string_view::npos) return text;
  scratch.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      char next = text[i + 1];
      if (next == '\\') { scratch += '\\'; ++i; continue; }
      if (next == 'n') { scratch += '\n'; ++i; continue; }
      if (next == '"' && openmetrics) { scratch += '"'; ++i; continue; }
    }
    scratch += c;
  }
  return scratch;
}

std::optional<MetricType> TypeFromName(std::string_view name) {
  static constexpr std::pair<std::string_view, MetricType> kTypes[] = {
      {"counter", MetricType::kCounter},     {"gauge", MetricType::kGauge},
      {"histogram", MetricType::kHistogram}, {"summary", MetricType::kSummary},
      {"untyped", MetricType::kUntyped},     {"unknown", MetricType::kUnknown},
      {"info", MetricType::kInfo},           {"stateset", MetricType::kStateSet},
      {"gaugehistogram", MetricType::kGaugeHistogram},
  };
  for (const auto& [text, type] : kTypes) {
    if (text == name) return type;
  }
  return std::nullopt;
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kUntyped: return "untyped";
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kSummary: return "summary";
    case MetricType::kUnknown: return "unknown";
    case MetricType::kInfo: return "info";
    case MetricType::kStateSet: return "stateset";
    case MetricType::kGaugeHistogram: return "gaugehistogram";
  }
  return "untyped";
}

std::optional<std::string_view> SampleView::LabelValue(std::string_view label_name) const {
  for (const LabelView& l : labels) {
    if (l.name == label_name) return l.value;
  }
  return std::nullopt;
}

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const char* first = text.data();
  const char* last = first + text.size();
  if (*first == '+') {
    ++first;
    if (first == last || *first == '+' || *first == '-') return std::nullopt;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(first, last, value, std::chars_format::general);
  if (ptr != last) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Subnormals and overflow: strtod gives the nearest value (0, a subnormal, or +/-Inf).
    char buf[64];
    if (text.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    return std::strtod(buf, nullptr);
  }
  if (ec != std::errc()) return std::nullopt;
  return value;
}

ParseReport TextParser::Parse(std::string_view page, SampleHandler& handler) {
  ParseReport report;
  std::string error;
  std::size_t pos = 0;
  int64_t number = 0;
  while (pos < page.size()) {
    const char* nl = static_cast<const char*>(std::memchr(page.data() + pos, '\n', page.size() - pos));
    std::size_t end = nl ? static_cast<std::size_t>(nl - page.data()) : page.size();
    std::string_view line = page.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    error.clear();
    if (!ParseLine(line, number, handler, report, &error)) {
      ++report.error_count;
      if (report.errors.size() < options_.max_errors) report.errors.push_back({number, error});
    }
  }
  report.lines = number;
  if (options_.openmetrics && !report.saw_eof) {
    ++report.error_count;
    if (report.errors.size() < options_.max_errors) {
      report.errors.push_back({number, "missing \"# EOF\" at the end of an OpenMetrics page (truncated?)"});
    }
  }
  return report;
}

bool TextParser::ParseLine(std::string_view line, int64_t number, SampleHandler& handler,
                           ParseReport& report, std::string* error) {
  std::size_t first = 0;
  SkipBlanks(line, first);
  if (first == line.size()) return true;  // blank line
  if (report.saw_eof) {
    *error = "text after \"# EOF\": '" + Excerpt(line) + "'";
    return false;
  }
  if (line[first] == '#') return ParseComment(line.substr(first), handler, report, error);
  if (!ParseSample(line.substr(first), number, handler, error)) return false;
  ++report.samples;
  return true;
}

bool TextParser::ParseComment(std::string_view line, SampleHandler& handler, ParseReport& report,
                              std::string* error) {
  std::size_t pos = 1;
  if (pos >= line.size() || !IsBlank(line[pos])) return true;  // "#foo": a free comment
  SkipBlanks(line, pos);
  std::size_t kw_start = pos;
  while (pos < line.size() && !IsBlank(line[pos])) ++pos;
  std::string_view keyword = line.substr(kw_start, pos - kw_start);
  if (keyword == "EOF") {
    std::size_t rest = pos;
    SkipBlanks(line, rest);
    if (rest != line.size()) return true;  // "# EOF is near": a comment in the text format
    report.saw_eof = true;
    return true;
  }
  bool help = keyword == "HELP", type = keyword == "TYPE", unit = keyword == "UNIT";
  if (!help && !type && !unit) return true;  // any other comment
  SkipBlanks(line, pos);
  std::string_view name;
  scratch_.clear();
  scratch_.reserve(line.size());
  if (pos < line.size() && line[pos] == '"') {
    if (!ReadQuoted(line, pos, scratch_, &name)) {
      *error = std::string(keyword) + " line: unterminated quoted metric name";
      return false;
    }
  } else {
    name = ReadName(line, pos, /*allow_colon=*/true);
  }
  if (name.empty()) {
    *error = std::string(keyword) + " line without a valid metric name: '" + Excerpt(line) + "'";
    return false;
  }
  if (pos < line.size() && !IsBlank(line[pos])) {
    *error = std::string(keyword) + " line: bad character in metric name: '" + Excerpt(line) + "'";
    return false;
  }
  std::string_view rest = pos < line.size() ? line.substr(pos + 1) : std::string_view();
  if (help) {
    // A copy for the name when it was unescaped into scratch_, which UnescapeHelp reuses.
    if (name.data() >= scratch_.data() && name.data() < scratch_.data() + scratch_.size()) {
      std::string owned(name);
      std::string help_scratch;
      handler.OnHelp(owned, UnescapeHelp(rest, options_.openmetrics, help_scratch));
    } else {
      handler.OnHelp(name, UnescapeHelp(rest, options_.openmetrics, scratch_));
    }
    return true;
  }
  std::size_t word_start = 0;
  SkipBlanks(rest, word_start);
  std::size_t word_end = rest.size();
  while (word_end > word_start && IsBlank(rest[word_end - 1])) --word_end;
  std::string_view word = rest.substr(word_start, word_end - word_start);
  if (unit) {
    handler.OnUnit(name, word);
    return true;
  }
  std::optional<MetricType> parsed = TypeFromName(word);
  if (!parsed) {
    *error = "TYPE line for " + std::string(name) + ": unknown type '" + Excerpt(word) + "'";
    return false;
  }
  handler.OnType(name, *parsed);
  return true;
}

bool TextParser::ParseSample(std::string_view line, int64_t number, SampleHandler& handler,
                             std::string* error) {
  SampleView sample;
  sample.line = number;
  labels_.clear();
  scratch_.clear();
  scratch_.reserve(line.size());  // every unescaped string fits, so views stay valid
  std::size_t pos = 0;
  if (line[0] != '{') {
    sample.name = ReadName(line, pos, /*allow_colon=*/true);
    if (sample.name.empty()) {
      *error = "expected a metric name at the start of '" + Excerpt(line) + "'";
      return false;
    }
  }
  auto parse_labels = [&](std::string_view* name_slot, std::string_view* raw) -> bool {
    std::size_t open = pos++;
    std::size_t base = labels_.size();  // exemplar labels may reuse the sample's label names
    for (;;) {
      SkipBlanks(line, pos);
      if (pos >= line.size()) {
        *error = "unterminated label set (missing '}')";
        return false;
      }
      if (line[pos] == '}') break;
      std::string_view label_name;
      bool quoted = line[pos] == '"';
      if (quoted) {
        if (!ReadQuoted(line, pos, scratch_, &label_name)) {
          *error = "unterminated quoted name in label set";
          return false;
        }
      } else {
        label_name = ReadName(line, pos, /*allow_colon=*/false);
        if (label_name.empty()) {
          *error = "expected a label name at '" + Excerpt(line.substr(pos)) + "'";
          return false;
        }
      }
      SkipBlanks(line, pos);
      if (quoted && name_slot != nullptr && name_slot->empty() && labels_.empty() &&
          pos < line.size() && (line[pos] == ',' || line[pos] == '}')) {
        *name_slot = label_name;  // {"utf8.metric.name", ...}
      } else {
        if (pos >= line.size() || line[pos] != '=') {
          *error = "expected '=' after label name '" + Excerpt(label_name) + "'";
          return false;
        }
        ++pos;
        SkipBlanks(line, pos);
        if (pos >= line.size() || line[pos] != '"') {
          *error = "expected '\"' to open the value of label '" + Excerpt(label_name) + "'";
          return false;
        }
        std::string_view value;
        if (!ReadQuoted(line, pos, scratch_, &value)) {
          *error = "unterminated value of label '" + Excerpt(label_name) + "'";
          return false;
        }
        for (std::size_t i = base; i < labels_.size(); ++i) {
          if (labels_[i].name == label_name) {
            *error = "duplicate label '" + Excerpt(label_name) + "'";
            return false;
          }
        }
        labels_.push_back({label_name, value});
      }
      SkipBlanks(line, pos);
      if (pos >= line.size()) {
        *error = "unterminated label set (missing '}')";
        return false;
      }
      if (line[pos] == ',') {
        ++pos;
      } else if (line[pos] != '}') {
        *error = "expected ',' or '}' in label set at '" + Excerpt(line.substr(pos)) + "'";
        return false;
      }
    }
    if (raw) *raw = line.substr(open + 1, pos - open - 1);
    ++pos;  // '}'
    return true;
  };
  if (pos < line.size() && line[pos] == '{') {
    if (!parse_labels(&sample.name, &sample.raw_labels)) return false;
    if (sample.name.empty()) {
      *error = "sample without a metric name: '" + Excerpt(line) + "'";
      return false;
    }
  }
  std::size_t sample_labels = labels_.size();
  if (pos >= line.size()) {
    *error = "missing value after '" + Excerpt(line) + "'";
    return false;
  }
  if (!IsBlank(line[pos])) {
    *error = "unexpected character '" + Excerpt(line.substr(pos, 1)) + "' after metric name " +
             std::string(sample.name);
    return false;
  }
  auto read_token = [&]() {
    SkipBlanks(line, pos);
    std::size_t start = pos;
    while (pos < line.size() && !IsBlank(line[pos])) ++pos;
    return line.substr(start, pos - start);
  };
  std::string_view value_text = read_token();
  if (value_text.empty()) {
    *error = "missing value for " + std::string(sample.name);
    return false;
  }
  std::optional<double> value = ParseNumber(value_text);
  if (!value) {
    *error = "bad value '" + Excerpt(value_text) + "' for " + std::string(sample.name);
    return false;
  }
  sample.value = *value;
  std::string_view next = read_token();
  if (!next.empty() && next != "#") {
    std::optional<double> ts = ParseNumber(next);
    if (!ts || !std::isfinite(*ts)) {
      *error = "bad timestamp '" + Excerpt(next) + "' for " + std::string(sample.name);
      return false;
    }
    sample.timestamp = ts;
    next = read_token();
  }
  if (next == "#") {
    // OpenMetrics exemplar: # {labels} value [timestamp]
    SkipBlanks(line, pos);
    if (pos >= line.size() || line[pos] != '{' || !parse_labels(nullptr, nullptr)) {
      if (error->empty()) *error = "bad exemplar after the value of " + std::string(sample.name);
      return false;
    }
    std::string_view ex_value = read_token();
    if (!ParseNumber(ex_value)) {
      *error = "bad exemplar value '" + Excerpt(ex_value) + "' for " + std::string(sample.name);
      return false;
    }
    std::string_view ex_ts = read_token();
    if (!ex_ts.empty() && !ParseNumber(ex_ts)) {
      *error = "bad exemplar timestamp '" + Excerpt(ex_ts) + "' for " + std::string(sample.name);
      return false;
    }
    sample.has_exemplar = true;
    next = read_token();
  }
  if (!next.empty()) {
    *error = "unexpected text '" + Excerpt(next) + "' after the value of " + std::string(sample.name);
    return false;
  }
  labels_.resize(sample_labels);  // drop exemplar labels
  sample.labels = std::span<const LabelView>(labels_.data(), labels_.size());
  handler.OnSample(sample);
  return true;
}

// ---- Page ----

std::optional<std::string> Sample::LabelValue(std::string_view label_name) const {
  for (const auto& l : labels) {
    if (l.name == label_name) return l.value;
  }
  return std::nullopt;
}

const Family* Page::Find(std::string_view name) const {
  for (const Family& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::vector<const Sample*> Page::SamplesNamed(std::string_view sample_name) const {
  std::vector<const Sample*> out;
  for (const Family& f : families) {
    for (const Sample& s : f.samples) {
      if (s.name == sample_name) out.push_back(&s);
    }
  }
  return out;
}

std::size_t Page::SampleCount() const {
  std::size_t n = 0;
  for (const Family& f : families) n += f.samples.size();
  return n;
}

namespace {

bool TypeAdmitsSuffix(MetricType type, std::string_view suffix) {
  switch (type) {
    case MetricType::kCounter: return suffix == "_total" || suffix == "_created";
    case MetricType::kHistogram:
    case MetricType::kGaugeHistogram:
      return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" ||
             suffix == "_created" || suffix == "_gsum" || suffix == "_gcount";
    case MetricType::kSummary:
      return suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case MetricType::kInfo: return suffix == "_info";
    default: return false;
  }
}

class PageBuilder : public SampleHandler {
 public:
  explicit PageBuilder(Page* page) : page_(page) {}
  void OnType(std::string_view family, MetricType type) override { FamilyFor(family).type = type; }
  void OnHelp(std::string_view family, std::string_view text) override {
    FamilyFor(family).help = std::string(text);
  }
  void OnUnit(std::string_view family, std::string_view unit) override {
    FamilyFor(family).unit = std::string(unit);
  }
  void OnSample(const SampleView& s) override {
    Sample sample;
    sample.name = std::string(s.name);
    for (const LabelView& l : s.labels) sample.labels.push_back({std::string(l.name), std::string(l.value)});
    sample.value = s.value;
    sample.timestamp = s.timestamp;
    sample.has_exemplar = s.has_exemplar;
    sample.line = s.line;
    OwnerOf(s.name).samples.push_back(std::move(sample));
  }

 private:
  Family& FamilyFor(std::string_view name) {
    auto it = index_.find(name);
    if (it != index_.end()) return page_->families[it->second];
    index_.emplace(std::string(name), page_->families.size());
    page_->families.push_back(Family{std::string(name)});
    return page_->families.back();
  }
  Family& OwnerOf(std::string_view sample_name) {
    if (auto it = index_.find(sample_name); it != index_.end()) return page_->families[it->second];
    for (std::string_view suffix : {"_bucket", "_sum", "_count", "_created", "_total", "_gsum",
                                    "_gcount", "_info"}) {
      if (sample_name.size() > suffix.size() && sample_name.ends_with(suffix)) {
        auto it = index_.find(sample_name.substr(0, sample_name.size() - suffix.size()));
        if (it != index_.end() && TypeAdmitsSuffix(page_->families[it->second].type, suffix)) {
          return page_->families[it->second];
        }
      }
    }
    return FamilyFor(sample_name);
  }
  Page* page_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace

Page ParsePage(std::string_view text, ParseOptions options) {
  Page page;
  PageBuilder builder(&page);
  TextParser parser(options);
  page.report = parser.Parse(text, builder);
  return page;
}

}  // namespace ib::prom
