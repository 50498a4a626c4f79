#include "lib/events/fast_parse.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ib::events {
namespace {

// Cursor over one line. Every method returns false when the input is not in the simple form
// this fast path handles; the caller then gives up and lets ParseEvent decide.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }
  bool PeekNull() {
    SkipSpace();
    if (end_ - p_ >= 4 && std::memcmp(p_, "null", 4) == 0) {
      p_ += 4;
      return true;
    }
    return false;
  }
  // A key without escapes.
  bool Key(std::string_view* key) {
    SkipSpace();
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = ++p_;
    while (p_ < end_ && *p_ != '"') {
      auto c = static_cast<unsigned char>(*p_);
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
      ++p_;
    }
    if (p_ >= end_) return false;
    *key = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return Eat(':');
  }
  bool String(std::string* out) {
    SkipSpace();
    if (p_ >= end_ || *p_ != '"') return false;
    ++p_;
    out->clear();
    const char* run = p_;
    while (p_ < end_) {
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out->append(run, static_cast<std::size_t>(p_ - run));
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x80) return false;  // control bytes are invalid; UTF-8: fall back
      if (c == '\\') {
        out->append(run, static_cast<std::size_t>(p_ - run));
        if (++p_ >= end_) return false;
        switch (*p_) {
          case '"': out->push_back('"'); break;
          case '\\': out->push_back('\\'); break;
          case '/': out->push_back('/'); break;
          case 'b': out->push_back('\b'); break;
          case 'f': out->push_back('\f'); break;
          case 'n': out->push_back('\n'); break;
          case 'r': out->push_back('\r'); break;
          case 't': out->push_back('\t'); break;
          default: return false;  // \uXXXX and invalid escapes: fall back
        }
        run = ++p_;
        continue;
      }
      ++p_;
    }
    return false;
  }
  bool OptString(std::optional<std::string>* out) {
    if (PeekNull()) {
      out->reset();
      return true;
    }
    std::string s;
    if (!String(&s)) return false;
    *out = std::move(s);
    return true;
  }
  bool Bool(bool* out) {
    SkipSpace();
    if (end_ - p_ >= 4 && std::memcmp(p_, "true", 4) == 0) {
      p_ += 4;
      *out = true;
      return true;
    }
    if (end_ - p_ >= 5 && std::memcmp(p_, "false", 5) == 0) {
      p_ += 5;
      *out = false;
      return true;
    }
    if (PeekNull()) {
      *out = false;
      return true;
    }
    return false;
  }
  // A JSON number (strict grammar), as a double. is_integer: no fraction and no exponent.
  bool Number(double* out, bool* is_integer) {
    SkipSpace();
    const char* start = p_;
    const char* q = p_;
    if (q < end_ && *q == '-') ++q;
    if (q >= end_) return false;
    if (*q == '0') {
      ++q;
    } else if (*q >= '1' && *q <= '9') {
      while (q < end_ && *q >= '0' && *q <= '9') ++q;
    } else {
      return false;
    }
    *is_integer = true;
    if (q < end_ && *q == '.') {
      *is_integer = false;
      ++q;
      const char* digits = q;
      while (q < end_ && *q >= '0' && *q <= '9') ++q;
      if (q == digits) return false;
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
      *is_integer = false;
      ++q;
      if (q < end_ && (*q == '+' || *q == '-')) ++q;
      const char* digits = q;
      while (q < end_ && *q >= '0' && *q <= '9') ++q;
      if (q == digits) return false;
    }
    auto [ptr, ec] = std::from_chars(start, q, *out);
    if (ec != std::errc() || ptr != q || !std::isfinite(*out)) return false;
    if (*is_integer && q - start > 18) return false;  // beyond int64: let nlohmann decide
    if (*is_integer && *start == '-' && *out == 0) return false;  // "-0" is integer 0 there
    p_ = q;
    return true;
  }
  bool OptNumber(std::optional<double>* out) {
    if (PeekNull()) {
      out->reset();
      return true;
    }
    double v;
    bool integer;
    if (!Number(&v, &integer)) return false;
    *out = v;
    return true;
  }
  // Integer literals only (a float such as 3.0 falls back).
  bool OptInt(std::optional<int64_t>* out) {
    if (PeekNull()) {
      out->reset();
      return true;
    }
    SkipSpace();
    const char* start = p_;
    double v;
    bool integer;
    if (!Number(&v, &integer) || !integer) return false;
    int64_t i = 0;
    auto [ptr, ec] = std::from_chars(start, p_, i);
    if (ec != std::errc() || ptr != p_) return false;
    *out = i;
    return true;
  }
  bool NumberArray(std::vector<double>* out) {
    out->clear();
    if (PeekNull()) return true;
    if (!Eat('[')) return false;
    if (Eat(']')) return true;
    for (;;) {
      double v;
      bool integer;
      if (!Number(&v, &integer)) return false;
      out->push_back(v);
      if (Eat(']')) return true;
      if (!Eat(',')) return false;
    }
  }

 private:
  const char* p_;
  const char* end_;
};

// One reader per C++ type of request_fields.h (the same decoding as events.cc's ReadField).
bool Read(Scanner& s, int64_t* out) {  // request_index: required, so null is refused
  std::optional<int64_t> i;
  if (!s.OptInt(&i) || !i) return false;
  *out = *i;
  return true;
}
bool Read(Scanner& s, int* out) {
  std::optional<int64_t> i;
  if (!s.OptInt(&i)) return false;
  *out = static_cast<int>(i.value_or(0));
  return true;
}
bool Read(Scanner& s, std::optional<int>* out) {
  std::optional<int64_t> i;
  if (!s.OptInt(&i)) return false;
  if (i) *out = static_cast<int>(*i); else out->reset();
  return true;
}
bool Read(Scanner& s, std::optional<int64_t>* out) { return s.OptInt(out); }
bool Read(Scanner& s, bool* out) { return s.Bool(out); }
bool Read(Scanner& s, double* out) {
  std::optional<double> v;
  if (!s.OptNumber(&v)) return false;
  *out = v.value_or(0);
  return true;
}
bool Read(Scanner& s, std::optional<double>* out) { return s.OptNumber(out); }
bool Read(Scanner& s, std::vector<double>* out) { return s.NumberArray(out); }
bool Read(Scanner& s, std::optional<std::vector<double>>* out) {
  if (s.PeekNull()) {
    out->reset();
    return true;
  }
  std::vector<double> v;
  if (!s.NumberArray(&v)) return false;
  *out = std::move(v);
  return true;
}
bool Read(Scanner& s, std::string* out) {
  std::optional<std::string> v;
  if (!s.OptString(&v)) return false;
  *out = v.value_or("");
  return true;
}
bool Read(Scanner& s, std::optional<std::string>* out) { return s.OptString(out); }

// Keys of request_complete's data, each allowed once; ids in field-table order.
enum DataKey : int {
#define IB_FIELD_ID(type, name, v1_key, flags, doc) k_##name,
  IB_REQUEST_COMPLETE_FIELDS(IB_FIELD_ID)
#undef IB_FIELD_ID
  kDataKeyCount
};
static_assert(kDataKeyCount <= 64, "the seen-mask is 64 bits");

int DataKeyOf(std::string_view k) {
  static constexpr std::string_view kKeys[] = {
#define IB_FIELD_KEY(type, name, v1_key, flags, doc) #name,
      IB_REQUEST_COMPLETE_FIELDS(IB_FIELD_KEY)
#undef IB_FIELD_KEY
  };
  for (int i = 0; i < kDataKeyCount; ++i) {
    if (kKeys[i] == k) return i;
  }
  return -1;
}

bool ParseData(Scanner& s, RequestComplete* r) {
  if (!s.Eat('{')) return false;
  uint64_t seen = 0;
  if (s.Eat('}')) return false;  // request_index is required
  for (;;) {
    std::string_view key;
    if (!s.Key(&key)) return false;
    int id = DataKeyOf(key);
    if (id < 0 || (seen & (uint64_t{1} << id))) return false;  // unknown or repeated: fall back
    seen |= uint64_t{1} << id;
    bool ok = false;
    switch (id) {
#define IB_FIELD_CASE(type, name, v1_key, flags, doc) \
  case k_##name: ok = Read(s, &r->name); break;
      IB_REQUEST_COMPLETE_FIELDS(IB_FIELD_CASE)
#undef IB_FIELD_CASE
      default: ok = false;
    }
    if (!ok) return false;
    if (s.Eat('}')) return (seen & (uint64_t{1} << k_request_index)) != 0;
    if (!s.Eat(',')) return false;
  }
}

}  // namespace

std::optional<RequestComplete> TryParseRequestCompleteFast(std::string_view line) {
  Scanner s(line);
  if (!s.Eat('{')) return std::nullopt;
  RequestComplete r;
  bool seen_v = false, seen_type = false, seen_run = false, seen_data = false;
  for (;;) {
    std::string_view key;
    if (!s.Key(&key)) return std::nullopt;
    if (key == "v" && !seen_v) {
      std::optional<int64_t> v;
      if (!s.OptInt(&v) || v != kStreamVersion) return std::nullopt;
      seen_v = true;
    } else if (key == "type" && !seen_type) {
      std::string type;
      if (!s.String(&type) || type != "request_complete") return std::nullopt;
      seen_type = true;
    } else if (key == "run_id" && !seen_run) {
      std::optional<std::string> run;
      if (!s.OptString(&run)) return std::nullopt;
      r.run_id = run.value_or("");
      seen_run = true;
    } else if (key == "data" && !seen_data) {
      if (!ParseData(s, &r)) return std::nullopt;
      seen_data = true;
    } else {
      return std::nullopt;
    }
    if (s.Eat('}')) break;
    if (!s.Eat(',')) return std::nullopt;
  }
  if (!s.AtEnd() || !seen_v || !seen_type || !seen_data) return std::nullopt;
  return r;
}

ParseResult ParseEventFast(std::string_view line) {
  if (auto r = TryParseRequestCompleteFast(line)) return {std::move(*r), ""};
  return ParseEvent(line);
}

}  // namespace ib::events
