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

// Keys of request_complete's data, each allowed once.
enum DataKey : int {
  kRequestIndex, kIteration, kConversationIndex, kTurnIndex, kWarmup, kStartMs, kEndMs,
  kScheduledMs, kSendLagMs, kTtftMs, kTtfcMs, kE2eMs, kTpotMs, kItl, kPromptTokens,
  kCompletionTokens, kTokenSource, kError, kErrorKind, kHttpStatus, kStartedAt, kDegraded,
  kDataKeyCount
};

int DataKeyOf(std::string_view k) {
  static constexpr std::pair<std::string_view, int> kKeys[] = {
      {"request_index", kRequestIndex}, {"iteration", kIteration},
      {"conversation_index", kConversationIndex}, {"turn_index", kTurnIndex},
      {"warmup", kWarmup}, {"start_ms", kStartMs}, {"end_ms", kEndMs},
      {"scheduled_ms", kScheduledMs}, {"send_lag_ms", kSendLagMs}, {"ttft_ms", kTtftMs},
      {"ttfc_ms", kTtfcMs}, {"e2e_latency_ms", kE2eMs}, {"tpot_ms", kTpotMs},
      {"inter_token_latencies_ms", kItl}, {"prompt_tokens", kPromptTokens},
      {"completion_tokens", kCompletionTokens}, {"token_count_source", kTokenSource},
      {"error", kError}, {"error_kind", kErrorKind}, {"http_status", kHttpStatus},
      {"started_at", kStartedAt}, {"client_degraded", kDegraded}};
  for (const auto& [name, id] : kKeys) {
    if (name == k) return id;
  }
  return -1;
}

bool ParseData(Scanner& s, RequestComplete* r) {
  if (!s.Eat('{')) return false;
  uint32_t seen = 0;
  bool have_index = false;
  if (s.Eat('}')) return false;  // request_index is required
  for (;;) {
    std::string_view key;
    if (!s.Key(&key)) return false;
    int id = DataKeyOf(key);
    if (id < 0 || (seen & (1u << id))) return false;  // unknown or repeated: fall back
    seen |= 1u << id;
    std::optional<int64_t> i;
    bool ok = true;
    switch (id) {
      case kRequestIndex:
        ok = s.OptInt(&i) && i.has_value();
        r->request_index = i.value_or(0);
        have_index = true;
        break;
      case kIteration:
        ok = s.OptInt(&i);
        r->iteration = static_cast<int>(i.value_or(0));
        break;
      case kConversationIndex:
        ok = s.OptInt(&i);
        if (i) r->conversation_index = static_cast<int>(*i); else r->conversation_index.reset();
        break;
      case kTurnIndex:
        ok = s.OptInt(&i);
        if (i) r->turn_index = static_cast<int>(*i); else r->turn_index.reset();
        break;
      case kHttpStatus:
        ok = s.OptInt(&i);
        if (i) r->http_status = static_cast<int>(*i); else r->http_status.reset();
        break;
      case kPromptTokens: ok = s.OptInt(&r->prompt_tokens); break;
      case kCompletionTokens: ok = s.OptInt(&r->completion_tokens); break;
      case kWarmup: ok = s.Bool(&r->warmup); break;
      case kDegraded: ok = s.Bool(&r->client_degraded); break;
      case kStartMs:
      case kEndMs: {
        std::optional<double> v;
        ok = s.OptNumber(&v);
        (id == kStartMs ? r->start_ms : r->end_ms) = v.value_or(0);
        break;
      }
      case kScheduledMs: ok = s.OptNumber(&r->scheduled_ms); break;
      case kSendLagMs: ok = s.OptNumber(&r->send_lag_ms); break;
      case kTtftMs: ok = s.OptNumber(&r->ttft_ms); break;
      case kTtfcMs: ok = s.OptNumber(&r->ttfc_ms); break;
      case kE2eMs: ok = s.OptNumber(&r->e2e_latency_ms); break;
      case kTpotMs: ok = s.OptNumber(&r->tpot_ms); break;
      case kItl: ok = s.NumberArray(&r->inter_token_latencies_ms); break;
      case kTokenSource: {
        std::optional<std::string> v;
        ok = s.OptString(&v);
        r->token_count_source = v.value_or("");
        break;
      }
      case kError: ok = s.OptString(&r->error); break;
      case kErrorKind: ok = s.OptString(&r->error_kind); break;
      case kStartedAt: ok = s.OptString(&r->started_at); break;
      default: ok = false;
    }
    if (!ok) return false;
    if (s.Eat('}')) return have_index;
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
