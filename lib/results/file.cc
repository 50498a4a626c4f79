#include "lib/results/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include "lib/events/stream.h"
#include "lib/results/clock.h"

namespace ib::results {
namespace {

using nlohmann::json;

// Appends JSON text to a string; the hot path for requests, so no JSON tree is built.
class JsonOut {
 public:
  explicit JsonOut(std::string* out) : out_(*out) {}
  // Hands the text so far to the sink when it exceeds a megabyte (no-op without a sink).
  void MaybeFlush() {
    if (sink_ && out_.size() >= (1u << 20)) Flush();
  }
  void Flush() {
    if (sink_ && !out_.empty()) {
      (*sink_)(out_);
      out_.clear();
    }
  }
  void set_sink(const std::function<void(std::string_view)>* sink) { sink_ = sink; }
  void Raw(std::string_view s) { out_.append(s); }
  void Key(const char* key) {
    out_.push_back('"');
    out_.append(key);
    out_.append("\":");
  }
  void Number(double v) {
    if (!std::isfinite(v)) {
      out_.append("null");
      return;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    std::string_view text(buf, static_cast<std::size_t>(end - buf));
    out_.append(text);
    // Keep floats floats when read back (as nlohmann writes them).
    if (text.find_first_of(".e") == std::string_view::npos) out_.append(".0");
  }
  void Int(int64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, static_cast<std::size_t>(end - buf));
  }
  void Bool(bool v) { out_.append(v ? "true" : "false"); }
  void Null() { out_.append("null"); }
  void String(std::string_view s) {
    bool plain = true;
    for (unsigned char c : s) {
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
        plain = false;
        break;
      }
    }
    if (plain) {
      out_.push_back('"');
      out_.append(s);
      out_.push_back('"');
    } else {
      // Escapes and invalid UTF-8 (a server's error body) go through nlohmann, replacing bad bytes.
      out_.append(json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  template <typename T>
  void Opt(const std::optional<T>& v) {
    if (!v) {
      Null();
    } else if constexpr (std::is_same_v<T, double>) {
      Number(*v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      String(*v);
    } else {
      Int(static_cast<int64_t>(*v));
    }
  }
  void Tree(const json& j, int indent) {
    json copy = j;
    events::ScrubNonFinite(copy);
    std::string text = copy.dump(2, ' ', false, json::error_handler_t::replace);
    // Indent nested lines to sit under their key.
    std::string pad(static_cast<std::size_t>(indent), ' ');
    for (char c : text) {
      out_.push_back(c);
      if (c == '\n') out_.append(pad);
    }
  }

 private:
  std::string& out_;
  const std::function<void(std::string_view)>* sink_ = nullptr;
};

// Formats "...T03:00:05.123Z" quickly: the date-time part changes once per second.
class IsoFormatter {
 public:
  std::string Format(int64_t ms) {
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    if (secs != cached_secs_ || cached_.empty()) {
      cached_ = FormatIsoMs(secs * 1000).substr(0, 19);
      cached_secs_ = secs;
    }
    char tail[8];
    std::snprintf(tail, sizeof tail, ".%03dZ", static_cast<int>(ms - secs * 1000));
    return cached_ + tail;
  }

 private:
  int64_t cached_secs_ = 0;
  std::string cached_;
};

// One writer per C++ type of lib/events/request_fields.h.
void Put(JsonOut& o, int64_t v) { o.Int(v); }
void Put(JsonOut& o, int v) { o.Int(v); }
void Put(JsonOut& o, bool v) { o.Bool(v); }
void Put(JsonOut& o, double v) { o.Number(v); }
void Put(JsonOut& o, const std::string& v) { o.String(v); }
void Put(JsonOut& o, const std::vector<double>& list) {
  o.Raw("[");
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) o.Raw(",");
    o.Number(list[i]);
  }
  o.Raw("]");
}
void Put(JsonOut& o, const std::optional<std::vector<double>>& v) {
  if (v) Put(o, *v); else o.Null();
}
template <typename T>
void Put(JsonOut& o, const std::optional<T>& v) { o.Opt(v); }
template <typename T>
bool Absent(const T&) { return false; }
template <typename T>
bool Absent(const std::optional<T>& v) { return !v.has_value(); }

// The requests[] item: the event's fields in table order, plus finished_at (the wall clock of
// end_ms, for humans) right after started_at.
void WriteRequest(JsonOut& o, const events::RequestComplete& r, std::optional<int64_t> origin_ms,
                  IsoFormatter& iso) {
  o.Raw("{");
  bool first = true;
#define IB_WRITE_FIELD(type, name, v1_key, flags, doc)                              \
  if (!((flags) & events::field::kOmitNull) || !Absent(r.name)) {                  \
    if (!first) o.Raw(",");                                                        \
    first = false;                                                                 \
    o.Key(#name);                                                                  \
    Put(o, r.name);                                                                \
  }                                                                                \
  if (std::string_view(#name) == "started_at") {                                   \
    o.Raw(",");                                                                    \
    o.Key("finished_at");                                                          \
    if (r.started_at && origin_ms) {                                               \
      o.String(iso.Format(*origin_ms + std::llround(r.end_ms)));                   \
    } else {                                                                       \
      o.Null();                                                                    \
    }                                                                              \
  }
  IB_REQUEST_COMPLETE_FIELDS(IB_WRITE_FIELD)
#undef IB_WRITE_FIELD
  o.Raw("}");
}

void WriteSample(JsonOut& o, const events::GpuSample& s) {
  auto field = [&](const char* key, const std::optional<double>& v) {
    o.Raw(",");
    o.Key(key);
    o.Opt(v);
  };
  o.Raw("{");
  o.Key("timestamp"); o.Number(s.t_s);
  field("kv_cache_usage", s.kv_cache_usage_frac);
  field("active_requests", s.running_requests);
  field("queued_requests", s.waiting_requests);
  field("prefix_cache_hit_rate", s.prefix_cache_hit_rate_frac);
  field("generation_throughput", s.generation_tokens_per_s);
  field("prompt_tokens_total", s.prompt_tokens_total);
  field("generation_tokens_total", s.generation_tokens_total);
  field("prefix_cache_hits_total", s.prefix_cache_hits_total);
  field("prefix_cache_queries_total", s.prefix_cache_queries_total);
  field("prompt_throughput", s.prompt_tokens_per_s);
  field("preemptions_total", s.preemptions_total);
  field("scrape_ms", s.scrape_ms);
  o.Raw("}");
}

std::optional<int64_t> ClockOrigin(const RunRecord& run) {
  const json& origin = run.metadata.is_object() && run.metadata.contains("clock_origin")
                           ? run.metadata["clock_origin"]
                           : json(nullptr);
  if (!origin.is_string()) return std::nullopt;
  return ParseIsoMs(origin.get<std::string>());
}

void WriteRequests(JsonOut& o, const std::vector<events::RequestComplete>& list,
                   std::optional<int64_t> origin) {
  IsoFormatter iso;
  o.Raw("[");
  for (std::size_t i = 0; i < list.size(); ++i) {
    o.Raw(i ? ",\n    " : "\n    ");
    WriteRequest(o, list[i], origin, iso);
    o.MaybeFlush();
  }
  o.Raw(list.empty() ? "]" : "\n  ]");
}

}  // namespace

void SerializeRunTo(const RunRecord& run, const std::function<void(std::string_view)>& sink) {
  std::string text;
  text.reserve((1u << 20) + 64 * 1024);
  JsonOut o(&text);
  o.set_sink(&sink);
  auto origin = ClockOrigin(run);
  o.Raw("{\n  "); o.Key("run_id"); o.String(run.run_id);
  o.Raw(",\n  "); o.Key("status"); o.String(run.status);
  o.Raw(",\n  "); o.Key("stop_reason");
  if (run.stop_reason.empty()) o.Null(); else o.String(run.stop_reason);
  o.Raw(",\n  "); o.Key("experiment"); o.Tree(run.experiment, 2);
  o.Raw(",\n  "); o.Key("metadata"); o.Tree(run.metadata, 2);
  o.Raw(",\n  "); o.Key("summary"); o.Tree(run.summary, 2);
  o.Raw(",\n  "); o.Key("requests"); WriteRequests(o, run.requests, origin);
  o.Raw(",\n  "); o.Key("warmup_requests"); WriteRequests(o, run.warmup_requests, origin);
  o.Raw(",\n  "); o.Key("gpu_metrics");
  if (run.gpu_metrics.is_object()) {
    o.Raw("{");
    for (auto it = run.gpu_metrics.begin(); it != run.gpu_metrics.end(); ++it) {
      if (it.key() == "time_series") continue;
      o.Raw("\n    ");
      o.String(it.key());
      o.Raw(":");
      o.Tree(it.value(), 4);
      o.Raw(",");
    }
    o.Raw("\n    "); o.Key("time_series"); o.Raw("[");
    for (std::size_t i = 0; i < run.gpu_samples.size(); ++i) {
      o.Raw(i ? ",\n      " : "\n      ");
      WriteSample(o, run.gpu_samples[i]);
      o.MaybeFlush();
    }
    o.Raw(run.gpu_samples.empty() ? "]" : "\n    ]");
    o.Raw("\n  }");
  } else {
    o.Null();
  }
  o.Raw(",\n  "); o.Key("definitions_version"); o.Int(kDefinitionsVersion);
  o.Raw("\n}\n");
  o.Flush();
}

std::string SerializeRun(const RunRecord& run) {
  std::string text;
  SerializeRunTo(run, [&](std::string_view chunk) { text.append(chunk); });
  return text;
}

json RunToJson(const RunRecord& run) { return json::parse(SerializeRun(run)); }

bool IsSafeRunId(const std::string& id) {
  if (id.empty() || id.size() > 200 || id[0] == '.') return false;
  for (unsigned char c : id) {
    if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string SafeRunId(const std::string& id) {
  std::string out = id.substr(0, 200);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '.' || c == '_' || c == '-')) c = '_';
  }
  if (out.empty()) out = "run";
  if (out[0] == '.') out[0] = '_';
  return out;
}

bool WriteRunFile(const std::string& dir, RunRecord& run, std::string* path, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir.empty() ? "." : dir, ec);
  if (ec) {
    *error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  std::string base = SafeRunId(run.run_id);
  std::string prefix = dir.empty() ? "" : (dir.back() == '/' ? dir : dir + "/");
  for (int n = 1; n < 10000; ++n) {
    std::string id = n == 1 ? base : base + "-" + std::to_string(n);
    std::string final_path = prefix + id + ".json";
    struct stat st;
    if (::lstat(final_path.c_str(), &st) == 0) continue;  // taken: never overwrite
    run.run_id = id;
    std::string temp = prefix + "." + id + ".json.tmp-" + std::to_string(::getpid());
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      *error = "cannot create " + temp + ": " + std::strerror(errno);
      return false;
    }
    // Streamed in 1 MB pieces: a million requests never sit in memory as text.
    bool ok = true;
    int saved = 0;
    SerializeRunTo(run, [&](std::string_view chunk) {
      if (ok && !events::WriteAll(fd, chunk)) {
        ok = false;
        saved = errno;
      }
    });
    if (ok && ::fsync(fd) != 0) {
      ok = false;
      saved = errno;
    }
    ::close(fd);
    if (!ok) {
      ::unlink(temp.c_str());
      *error = "cannot write " + temp + ": " + std::strerror(saved);
      return false;
    }
    // link() refuses to replace an existing name, so a racing writer cannot be overwritten.
    int rc = ::link(temp.c_str(), final_path.c_str());
    saved = errno;
    ::unlink(temp.c_str());
    if (rc == 0) {
      *path = final_path;
      return true;
    }
    if (saved != EEXIST) {
      *error = "cannot create " + final_path + ": " + std::strerror(saved);
      return false;
    }
  }
  *error = "too many results files named " + base + "-N.json in " + dir;
  return false;
}

}  // namespace ib::results
