#include "lib/dash/json_check.h"

#include <vector>

namespace ib::dash {

namespace {

class Checker {
 public:
  explicit Checker(std::string_view text)
      : begin_(reinterpret_cast<const unsigned char*>(text.data())),
        p_(begin_),
        end_(begin_ + text.size()) {}

  JsonCheck Run() {
    Ws();
    if (p_ < end_) result_.top_is_object = *p_ == '{';
    if (!Document()) {
      if (result_.error.empty()) Fail("unexpected byte");
      return result_;
    }
    return result_;
  }

 private:
  bool Fail(const char* what) {
    if (!result_.error.empty()) return false;
    result_.error_offset = static_cast<std::size_t>(p_ - begin_);
    result_.error = p_ >= end_ ? std::string("truncated: the JSON ends early (") +
                                     std::to_string(end_ - begin_) + " bytes)"
                               : "not valid JSON at byte " + std::to_string(p_ - begin_) + " (" +
                                     what + ")";
    return false;
  }
  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool Expect(unsigned char c, const char* what) {
    Ws();
    if (p_ >= end_ || *p_ != c) return Fail(what);
    ++p_;
    return true;
  }

  bool Document() {
    std::vector<unsigned char> stack;  // '{' or '['
    bool run_id_value = false;         // the value being read is the top-level "run_id"
    for (;;) {
      // A value.
      Ws();
      if (p_ >= end_) return Fail("value expected");
      unsigned char c = *p_;
      bool is_run_id = run_id_value;
      run_id_value = false;
      if (c == '{' || c == '[') {
        ++p_;
        Ws();
        if (p_ < end_ && *p_ == (c == '{' ? '}' : ']')) {
          ++p_;
        } else {
          stack.push_back(c);
          if (c == '{') {
            if (!Key(stack.size() == 1, &run_id_value)) return false;
          }
          continue;
        }
      } else if (c == '"') {
        if (!String(nullptr)) return false;
        if (is_run_id) result_.has_run_id = true;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!Number()) return false;
      } else if (c == 't') {
        if (!Literal("true")) return false;
      } else if (c == 'f') {
        if (!Literal("false")) return false;
      } else if (c == 'n') {
        if (!Literal("null")) return false;
      } else {
        return Fail("value expected");
      }
      // After a value: close containers, or go on to the next member.
      for (;;) {
        Ws();
        if (stack.empty()) {
          if (p_ != end_) return Fail("data after the JSON value");
          return true;
        }
        if (p_ >= end_) return Fail("',' or a closing bracket expected");
        unsigned char open = stack.back();
        if (*p_ == ',') {
          ++p_;
          if (open == '{' && !Key(stack.size() == 1, &run_id_value)) return false;
          break;  // next value
        }
        if (*p_ == (open == '{' ? '}' : ']')) {
          ++p_;
          stack.pop_back();
          continue;
        }
        return Fail("',' or a closing bracket expected");
      }
    }
  }

  // "key" : — records whether a top-level key is "run_id".
  bool Key(bool top_level, bool* is_run_id) {
    Ws();
    if (p_ >= end_ || *p_ != '"') return Fail("a key string expected");
    const unsigned char* start = p_ + 1;
    if (!String(nullptr)) return false;
    *is_run_id = top_level && std::string_view(reinterpret_cast<const char*>(start),
                                               static_cast<std::size_t>(p_ - 1 - start)) == "run_id";
    return Expect(':', "':' expected");
  }

  bool Literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size()) {
      if (std::string_view(reinterpret_cast<const char*>(p_), end_ - p_) ==
          word.substr(0, end_ - p_)) {
        p_ = end_;
      }
      return Fail("a literal expected");
    }
    if (std::string_view(reinterpret_cast<const char*>(p_), word.size()) != word) {
      return Fail("a literal expected");
    }
    p_ += word.size();
    return true;
  }

  bool Digits() {
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return Fail("a digit expected");
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return true;
  }

  bool Number() {
    if (*p_ == '-') ++p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (!Digits()) {
      return false;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!Digits()) return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!Digits()) return false;
    }
    return true;
  }

  int Hex4() {  // -1 when not 4 hex digits
    if (end_ - p_ < 4) {
      p_ = end_;
      return -1;
    }
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      unsigned char h = p_[i];
      int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                             : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    p_ += 4;
    return v;
  }

  // At '"'; leaves p_ after the closing quote.
  bool String(std::string* unused) {
    (void)unused;
    ++p_;
    for (;;) {
      // Plain ASCII runs are the bulk of a results file.
      while (p_ < end_ && *p_ >= 0x20 && *p_ < 0x80 && *p_ != '"' && *p_ != '\\') ++p_;
      if (p_ >= end_) return Fail("unterminated string");
      unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return Fail("control character in a string");
      if (c == '\\') {
        ++p_;
        if (p_ >= end_) return Fail("unterminated string");
        unsigned char e = *p_++;
        if (e == 'u') {
          int u = Hex4();
          if (u < 0) return Fail("bad \\u escape");
          if (u >= 0xDC00 && u <= 0xDFFF) return Fail("lone low surrogate");
          if (u >= 0xD800 && u <= 0xDBFF) {
            if (end_ - p_ < 2) {
              p_ = end_;
              return Fail("unterminated string");
            }
            if (p_[0] != '\\' || p_[1] != 'u') return Fail("unpaired high surrogate");
            p_ += 2;
            int low = Hex4();
            if (low < 0xDC00 || low > 0xDFFF) return Fail("unpaired high surrogate");
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                   e != 'r' && e != 't') {
          --p_;
          return Fail("bad escape");
        }
        continue;
      }
      if (!Utf8()) return false;
    }
  }

  // At a byte >= 0x80: one well-formed UTF-8 sequence (no overlongs, surrogates, > U+10FFFF).
  bool Utf8() {
    unsigned char c = *p_;
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return Fail("invalid UTF-8");
    }
    ++p_;
    for (int i = 0; i < n; ++i) {
      if (p_ >= end_) return Fail("unterminated string");
      unsigned char b = *p_;
      if (b < (i == 0 ? lo : 0x80) || b > (i == 0 ? hi : 0xBF)) return Fail("invalid UTF-8");
      ++p_;
    }
    return true;
  }

  const unsigned char* begin_;
  const unsigned char* p_;
  const unsigned char* end_;
  JsonCheck result_;
};

}  // namespace

JsonCheck CheckJson(std::string_view text) { return Checker(text).Run(); }

std::string ResultsFileProblem(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return "empty file";
  JsonCheck c = CheckJson(text);
  if (!c.error.empty()) return c.error;
  if (!c.top_is_object) return "not a JSON object";
  if (!c.has_run_id) return "no run_id";
  return "";
}

}  // namespace ib::dash
