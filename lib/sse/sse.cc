#include "lib/sse/sse.h"

#include <limits>

#include <cctype>
#include <cstring>

namespace ib::sse {

void Parser::Reset() {
  line_.clear();
  data_.clear();
  has_data_ = false;
  skip_lf_ = false;
  oversize_ = false;
  drop_line_ = false;
}

bool Parser::Line(std::string_view line, std::string_view* data) {
  if (line.empty()) {
    bool dispatch = has_data_ && !oversize_;
    if (oversize_) ++oversized_;
    oversize_ = false;
    if (dispatch) {
      std::string_view d = data_;
      if (!d.empty() && d.back() == '\n') d.remove_suffix(1);
      *data = d;
      return true;
    }
    data_.clear();
    has_data_ = false;
    return false;
  }
  if (line[0] == ':') return false;  // comment
  std::size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (data_.size() + value.size() + 1 > max_event_bytes_) {
      oversize_ = true;
      data_.clear();
    } else if (!oversize_) {
      data_.append(value);
      data_.push_back('\n');
    }
    has_data_ = true;
  }
  // "event", "id", "retry" and unknown fields carry nothing the OpenAI streams use.
  return false;
}

// ---- A minimal JSON reader for the few fields a chunk is read for ----
namespace {

class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool AtEnd() {
    Ws();
    return p_ == end_;
  }
  bool Peek(char c) {
    Ws();
    return p_ < end_ && *p_ == c;
  }
  bool Eat(char c) {
    if (!Peek(c)) return false;
    ++p_;
    return true;
  }
  bool Literal(const char* word) {
    std::size_t n = std::strlen(word);
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }
  bool Null() {
    Ws();
    return Literal("null");
  }

  // Reads a string. raw gets the undecoded bytes between the quotes; out (if given) the decoded
  // UTF-8 text.
  bool String(std::string_view* raw, std::string* out) {
    Ws();
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = ++p_;
    while (p_ < end_ && *p_ != '"') {
      if (static_cast<unsigned char>(*p_) < 0x20) return false;
      if (*p_ == '\\') {
        if (++p_ >= end_) return false;
        if (out) {
          if (!Escape(out)) return false;
          continue;
        }
        if (*p_ == 'u') {
          if (end_ - p_ < 5) return false;
          for (int k = 1; k <= 4; ++k)
            if (!std::isxdigit(static_cast<unsigned char>(p_[k]))) return false;
          p_ += 5;
          continue;
        }
        if (!std::strchr("\"\\/bfnrt", *p_)) return false;
        ++p_;
        continue;
      }
      if (out) out->push_back(*p_);
      ++p_;
    }
    if (p_ >= end_) return false;
    if (raw) *raw = std::string_view(start, p_ - start);
    ++p_;
    return true;
  }

  bool Number(std::optional<int64_t>* as_int) {
    Ws();
    const char* s = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    bool digits = false, integral = true;
    int64_t v = 0;
    while (p_ < end_ && std::isdigit(static_cast<unsigned char>(*p_))) {
      // A number too long for int64 is still a number, just not a usable count (fuzzer find).
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) integral = false;
      else v = v * 10 + (*p_ - '0');
      ++p_;
      digits = true;
    }
    if (!digits) return false;
    if (p_ < end_ && *p_ == '.') {
      integral = false;
      ++p_;
      while (p_ < end_ && std::isdigit(static_cast<unsigned char>(*p_))) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      while (p_ < end_ && std::isdigit(static_cast<unsigned char>(*p_))) ++p_;
    }
    if (as_int && integral) *as_int = (*s == '-') ? -v : v;
    return true;
  }

  bool Skip(int depth = 0) {
    if (depth > 64) return false;
    Ws();
    if (p_ >= end_) return false;
    switch (*p_) {
      case '"':
        return String(nullptr, nullptr);
      case '{': {
        ++p_;
        if (Eat('}')) return true;
        do {
          if (!String(nullptr, nullptr) || !Eat(':') || !Skip(depth + 1)) return false;
        } while (Eat(','));
        return Eat('}');
      }
      case '[': {
        ++p_;
        if (Eat(']')) return true;
        do {
          if (!Skip(depth + 1)) return false;
        } while (Eat(','));
        return Eat(']');
      }
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number(nullptr);
    }
  }

  // Walks an object, calling on_key(key) for each member; on_key must consume the value.
  template <typename F>
  bool Object(F&& on_key) {
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    do {
      std::string_view key;
      if (!String(&key, nullptr) || !Eat(':') || !on_key(key)) return false;
    } while (Eat(','));
    return Eat('}');
  }

 private:
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool Hex4(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = p_[k];
      *v <<= 4;
      if (c >= '0' && c <= '9') *v |= c - '0';
      else if (c >= 'a' && c <= 'f') *v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') *v |= c - 'A' + 10;
      else return false;
    }
    p_ += 4;
    return true;
  }
  // p_ is just after a backslash.
  bool Escape(std::string* out) {
    char c = *p_++;
    switch (c) {
      case '"': out->push_back('"'); return true;
      case '\\': out->push_back('\\'); return true;
      case '/': out->push_back('/'); return true;
      case 'b': out->push_back('\b'); return true;
      case 'f': out->push_back('\f'); return true;
      case 'n': out->push_back('\n'); return true;
      case 'r': out->push_back('\r'); return true;
      case 't': out->push_back('\t'); return true;
      case 'u': {
        uint32_t cp;
        if (!Hex4(&cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
          const char* save = p_;
          p_ += 2;
          uint32_t lo;
          if (Hex4(&lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else {
            p_ = save;
            cp = 0xFFFD;
          }
        } else if (cp >= 0xD800 && cp < 0xE000) {
          cp = 0xFFFD;  // a lone surrogate
        }
        AppendUtf8(cp, out);
        return true;
      }
      default:
        return false;
    }
  }

  const char* p_;
  const char* end_;
};

bool ReadDelta(Reader& r, Chunk* chunk, bool decode) {
  return r.Object([&](std::string_view key) {
    if (key == "content" || key == "reasoning_content") {
      if (r.Null()) return true;
      std::string_view raw;
      bool is_content = key == "content";
      if (!r.String(&raw, nullptr)) return r.Skip();
      if (!raw.empty()) {
        if (is_content) {
          chunk->has_content = true;
          if (decode) {
            Reader inner(std::string_view(raw.data() - 1, raw.size() + 2));
            inner.String(nullptr, &chunk->content);
          }
        } else {
          chunk->has_reasoning = true;
        }
      }
      return true;
    }
    return r.Skip();
  });
}

bool ReadChoice(Reader& r, Chunk* chunk, bool decode) {
  return r.Object([&](std::string_view key) {
    if (key == "delta") {
      if (r.Null()) return true;
      if (!r.Peek('{')) return r.Skip();
      return ReadDelta(r, chunk, decode);
    }
    if (key == "text") {  // /v1/completions
      std::string_view raw;
      if (r.Null()) return true;
      if (!r.String(&raw, nullptr)) return r.Skip();
      if (!raw.empty()) {
        chunk->has_content = true;
        if (decode) {
          Reader inner(std::string_view(raw.data() - 1, raw.size() + 2));
          inner.String(nullptr, &chunk->content);
        }
      }
      return true;
    }
    return r.Skip();
  });
}

bool ReadUsage(Reader& r, Chunk* chunk) {
  if (r.Null()) return true;
  if (!r.Peek('{')) return r.Skip();
  return r.Object([&](std::string_view key) {
    if (key == "prompt_tokens" || key == "completion_tokens") {
      if (r.Null()) return true;
      std::optional<int64_t> v;
      // A negative number or a non-number is valid JSON but no count: consumed, not read.
      if ((r.Peek('-') || !r.Number(&v)) && !r.Skip()) return false;
      (key == "prompt_tokens" ? chunk->prompt_tokens : chunk->completion_tokens) = v;
      return true;
    }
    return r.Skip();
  });
}

bool ReadError(Reader& r, Chunk* chunk) {
  if (r.Null()) return true;
  chunk->error = true;
  if (r.Peek('"')) return r.String(nullptr, &chunk->error_message);
  if (!r.Peek('{')) return r.Skip();
  return r.Object([&](std::string_view key) {
    if (key == "message" && r.Peek('"')) return r.String(nullptr, &chunk->error_message);
    return r.Skip();
  });
}

}  // namespace

bool ParseChunk(std::string_view data, Chunk* chunk, bool want_content) {
  *chunk = Chunk{};
  std::string_view trimmed = data;
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\n')) trimmed.remove_suffix(1);
  while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
  if (trimmed == "[DONE]") {
    chunk->done = chunk->valid = true;
    return true;
  }
  Reader r(data);
  bool is_error_object = false;
  std::string top_message;
  bool ok = r.Object([&](std::string_view key) {
    if (key == "choices") {
      if (r.Null()) return true;
      if (!r.Eat('[')) return r.Skip();
      if (r.Eat(']')) return true;
      chunk->has_choices = true;
      bool first = true;
      do {
        if (!r.Peek('{')) {
          if (!r.Skip()) return false;
        } else if (!ReadChoice(r, chunk, want_content && first)) {
          return false;
        }
        first = false;
      } while (r.Eat(','));
      return r.Eat(']');
    }
    if (key == "usage") return ReadUsage(r, chunk);
    if (key == "error") return ReadError(r, chunk);
    if (key == "object") {
      std::string_view raw;
      if (r.Peek('"')) {
        if (!r.String(&raw, nullptr)) return false;
        if (raw == "error") is_error_object = true;
        return true;
      }
      return r.Skip();
    }
    if (key == "message" && r.Peek('"')) return r.String(nullptr, &top_message);
    return r.Skip();
  });
  if (!ok || !r.AtEnd()) {
    *chunk = Chunk{};
    return false;
  }
  if (is_error_object) {  // early vLLM's unwrapped {"object":"error","message":...}
    chunk->error = true;
    if (chunk->error_message.empty()) chunk->error_message = top_message;
  }
  chunk->valid = true;
  return true;
}

}  // namespace ib::sse
