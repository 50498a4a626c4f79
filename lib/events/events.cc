#include "lib/events/events.h"

#include <charconv>

#include <array>
#include <chrono>
#include <cmath>
#include <ctime>

namespace ib::events {
namespace {

using nlohmann::json;

constexpr std::array<const char*, 11> kPhases = {
    phase::kProvisioning,  phase::kProvisioningDone, phase::kProvisioningSkipped,
    phase::kModelLoading,  phase::kModelLoadingDone, phase::kExecution,
    phase::kSweepIteration, phase::kIterationDone,   phase::kCleanup,
    phase::kDone,          phase::kFailed};

// Field readers that record the first problem they meet in *error and keep going, so one
// function can validate a whole event.
struct Fields {
  const json& obj;
  std::string* error;
  std::string where;

  void Fail(const std::string& message) {
    if (error->empty()) *error = where + message;
  }
  const json* Find(const char* key) const {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  std::string String(const char* key, bool required = false) {
    const json* v = Find(key);
    if (v == nullptr || v->is_null()) {
      if (required) Fail(std::string("missing field \"") + key + "\"");
      return "";
    }
    if (!v->is_string()) {
      Fail(std::string("field \"") + key + "\" must be a string");
      return "";
    }
    return v->get<std::string>();
  }
  std::optional<std::string> OptString(const char* key) {
    const json* v = Find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_string()) {
      Fail(std::string("field \"") + key + "\" must be a string or null");
      return std::nullopt;
    }
    return v->get<std::string>();
  }
  std::optional<double> OptNumber(const char* key) {
    const json* v = Find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_number()) {
      Fail(std::string("field \"") + key + "\" must be a number or null");
      return std::nullopt;
    }
    double d = v->get<double>();
    if (!std::isfinite(d)) return std::nullopt;
    return d;
  }
  double Number(const char* key, bool required = false) {
    auto v = OptNumber(key);
    if (!v && required) Fail(std::string("missing number \"") + key + "\"");
    return v.value_or(0);
  }
  std::optional<int64_t> OptInt(const char* key) {
    const json* v = Find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_number_integer()) return v->get<int64_t>();
    if (v->is_number_float()) {
      double d = v->get<double>();
      if (std::isfinite(d) && d == std::floor(d)) return static_cast<int64_t>(d);
    }
    Fail(std::string("field \"") + key + "\" must be an integer or null");
    return std::nullopt;
  }
  bool Bool(const char* key) {
    const json* v = Find(key);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_boolean()) {
      Fail(std::string("field \"") + key + "\" must be true or false");
      return false;
    }
    return v->get<bool>();
  }
  json Object(const char* key) {
    const json* v = Find(key);
    if (v == nullptr || v->is_null()) return json::object();
    if (!v->is_object()) {
      Fail(std::string("field \"") + key + "\" must be an object");
      return json::object();
    }
    return *v;
  }
};

void PutOpt(json& j, const char* key, const std::optional<double>& v) {
  j[key] = (v && std::isfinite(*v)) ? json(*v) : json(nullptr);
}
template <typename T>
void PutOptValue(json& j, const char* key, const std::optional<T>& v) {
  j[key] = v ? json(*v) : json(nullptr);
}

json Envelope(const char* type, const std::string& run_id) {
  json j = json::object();
  j["v"] = kStreamVersion;
  j["type"] = type;
  j["run_id"] = run_id;
  return j;
}

ParseResult Fail(std::string message) {
  ParseResult r;
  r.error = std::move(message);
  return r;
}

ParseResult ParsePhase(const json& j, int version) {
  std::string error;
  Fields f{j, &error, "phase: "};
  Phase p;
  p.run_id = f.String("run_id");
  p.phase = f.String("phase", true);
  p.data = f.Object("data");
  if (error.empty() && !IsKnownPhase(p.phase)) error = "phase: unknown phase \"" + p.phase + "\"";
  (void)version;
  if (!error.empty()) return Fail(error);
  return {p, ""};
}

ParseResult ParseGpuSample(const json& j, int version) {
  std::string error;
  json data = Fields{j, &error, "gpu_sample: "}.Object("data");
  if (!j.contains("data")) error = "gpu_sample: missing field \"data\"";
  Fields f{data, &error, "gpu_sample.data: "};
  GpuSample s;
  s.run_id = Fields{j, &error, "gpu_sample: "}.String("run_id");
  if (version == 1) {
    // The plan's original field names.
    s.t_s = f.Number("timestamp", true);
    s.kv_cache_usage_frac = f.OptNumber("kv_cache_usage");
    s.running_requests = f.OptNumber("active_requests");
    s.waiting_requests = f.OptNumber("queued_requests");
    s.generation_tokens_per_s = f.OptNumber("generation_throughput");
    s.prefix_cache_hit_rate_frac = f.OptNumber("prefix_cache_hit_rate");
    s.prompt_tokens_total = f.OptNumber("prompt_tokens_total");
    s.generation_tokens_total = f.OptNumber("generation_tokens_total");
    s.prefix_cache_hits_total = f.OptNumber("prefix_cache_hits_total");
    s.prefix_cache_queries_total = f.OptNumber("prefix_cache_queries_total");
  } else {
    s.t_s = f.Number("t_s", true);
    s.kv_cache_usage_frac = f.OptNumber("kv_cache_usage_frac");
    s.running_requests = f.OptNumber("running_requests");
    s.waiting_requests = f.OptNumber("waiting_requests");
    s.prefix_cache_hit_rate_frac = f.OptNumber("prefix_cache_hit_rate_frac");
    s.generation_tokens_per_s = f.OptNumber("generation_tokens_per_s");
    s.prompt_tokens_per_s = f.OptNumber("prompt_tokens_per_s");
    s.prompt_tokens_total = f.OptNumber("prompt_tokens_total");
    s.generation_tokens_total = f.OptNumber("generation_tokens_total");
    s.prefix_cache_hits_total = f.OptNumber("prefix_cache_hits_total");
    s.prefix_cache_queries_total = f.OptNumber("prefix_cache_queries_total");
    s.preemptions_total = f.OptNumber("preemptions_total");
    s.scrape_ms = f.OptNumber("scrape_ms");
  }
  if (!error.empty()) return Fail(error);
  return {s, ""};
}

ParseResult ParseRequestComplete(const json& j, int version) {
  std::string error;
  if (!j.contains("data")) return Fail("request_complete: missing field \"data\"");
  json data = Fields{j, &error, "request_complete: "}.Object("data");
  Fields f{data, &error, "request_complete.data: "};
  RequestComplete r;
  r.run_id = Fields{j, &error, "request_complete: "}.String("run_id");
  auto index = f.OptInt("request_index");
  if (!index && error.empty()) error = "request_complete.data: missing integer \"request_index\"";
  r.request_index = index.value_or(0);
  r.ttft_ms = f.OptNumber("ttft_ms");
  r.e2e_latency_ms = f.OptNumber("e2e_latency_ms");
  r.prompt_tokens = f.OptInt("prompt_tokens");
  r.completion_tokens = f.OptInt("completion_tokens");
  r.error = f.OptString("error");
  if (version == 1) {
    r.tpot_ms = f.OptNumber("tbt_ms");
  } else {
    r.iteration = static_cast<int>(f.OptInt("iteration").value_or(0));
    if (auto v = f.OptInt("conversation_index")) r.conversation_index = static_cast<int>(*v);
    if (auto v = f.OptInt("turn_index")) r.turn_index = static_cast<int>(*v);
    r.warmup = f.Bool("warmup");
    r.start_ms = f.Number("start_ms");
    r.end_ms = f.Number("end_ms");
    r.scheduled_ms = f.OptNumber("scheduled_ms");
    r.send_lag_ms = f.OptNumber("send_lag_ms");
    r.ttfc_ms = f.OptNumber("ttfc_ms");
    r.tpot_ms = f.OptNumber("tpot_ms");
    if (const json* itl = f.Find("inter_token_latencies_ms"); itl && !itl->is_null()) {
      if (!itl->is_array()) {
        if (error.empty()) error = "request_complete.data: inter_token_latencies_ms must be an array";
      } else {
        r.inter_token_latencies_ms.reserve(itl->size());
        for (const auto& v : *itl) {
          if (!v.is_number()) {
            if (error.empty())
              error = "request_complete.data: inter_token_latencies_ms must hold numbers";
            break;
          }
          r.inter_token_latencies_ms.push_back(v.get<double>());
        }
      }
    }
    r.token_count_source = f.String("token_count_source");
    r.error_kind = f.OptString("error_kind");
    if (auto v = f.OptInt("http_status")) r.http_status = static_cast<int>(*v);
    r.started_at = f.OptString("started_at");
    r.client_degraded = f.Bool("client_degraded");
  }
  if (!error.empty()) return Fail(error);
  return {r, ""};
}

ParseResult ParseLog(const json& j, int version) {
  std::string error;
  Fields f{j, &error, "log: "};
  Log l;
  l.run_id = f.String("run_id");
  l.level = f.String("level");
  if (l.level.empty()) l.level = "info";
  l.message = f.String("message", true);
  l.timestamp = f.String("timestamp");
  l.source = f.String("source");
  (void)version;
  if (error.empty() && l.level != "debug" && l.level != "info" && l.level != "warning" &&
      l.level != "error") {
    error = "log: unknown level \"" + l.level + "\"";
  }
  if (!error.empty()) return Fail(error);
  return {l, ""};
}

ParseResult ParseSummary(const json& j, int version) {
  std::string error;
  Fields f{j, &error, "summary: "};
  Summary s;
  s.run_id = f.String("run_id");
  s.data = f.Object("data");
  (void)version;
  if (!error.empty()) return Fail(error);
  return {s, ""};
}

ParseResult ParseError(const json& j, int version) {
  std::string error;
  Fields f{j, &error, "error: "};
  Error e;
  e.run_id = f.String("run_id");
  e.message = f.String("message", true);
  json data = f.Object("data");
  Fields d{data, &error, "error.data: "};
  e.line = d.OptInt("line");
  e.source = d.String("source");
  (void)version;
  if (!error.empty()) return Fail(error);
  return {e, ""};
}

}  // namespace

bool IsKnownPhase(std::string_view name) {
  for (const char* p : kPhases) {
    if (name == p) return true;
  }
  return false;
}

std::string_view TypeName(const Event& event) {
  static constexpr std::array<std::string_view, 6> kNames = {
      "phase", "gpu_sample", "request_complete", "log", "summary", "error"};
  return kNames[event.index()];
}

const std::string& RunId(const Event& event) {
  return std::visit([](const auto& e) -> const std::string& { return e.run_id; }, event);
}

ParseResult EventFromJson(const json& j) {
  if (!j.is_object()) return Fail("expected a JSON object");
  int version = 1;
  if (auto it = j.find("v"); it != j.end()) {
    if (!it->is_number_integer()) return Fail("field \"v\" must be an integer");
    version = it->get<int>();
    if (version < 1 || version > kStreamVersion) {
      return Fail("unsupported stream version " + std::to_string(version) + " (this build reads 1.." +
                  std::to_string(kStreamVersion) + ")");
    }
  }
  auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string()) return Fail("missing string field \"type\"");
  const std::string& type = type_it->get_ref<const std::string&>();
  if (type == "phase") return ParsePhase(j, version);
  if (type == "gpu_sample") return ParseGpuSample(j, version);
  if (type == "request_complete") return ParseRequestComplete(j, version);
  if (type == "log") return ParseLog(j, version);
  if (type == "summary") return ParseSummary(j, version);
  if (type == "error") return ParseError(j, version);
  return Fail("unknown event type \"" + type + "\"");
}

ParseResult ParseEvent(std::string_view line) {
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail("malformed JSON");
  return EventFromJson(j);
}

json ToJson(const Event& event) {
  struct Visitor {
    json operator()(const Phase& p) const {
      json j = Envelope("phase", p.run_id);
      j["phase"] = p.phase;
      j["data"] = p.data.is_object() ? p.data : json::object();
      return j;
    }
    json operator()(const GpuSample& s) const {
      json j = Envelope("gpu_sample", s.run_id);
      json d = json::object();
      d["t_s"] = std::isfinite(s.t_s) ? s.t_s : 0.0;
      PutOpt(d, "kv_cache_usage_frac", s.kv_cache_usage_frac);
      PutOpt(d, "running_requests", s.running_requests);
      PutOpt(d, "waiting_requests", s.waiting_requests);
      PutOpt(d, "prefix_cache_hit_rate_frac", s.prefix_cache_hit_rate_frac);
      PutOpt(d, "generation_tokens_per_s", s.generation_tokens_per_s);
      PutOpt(d, "prompt_tokens_per_s", s.prompt_tokens_per_s);
      PutOpt(d, "prompt_tokens_total", s.prompt_tokens_total);
      PutOpt(d, "generation_tokens_total", s.generation_tokens_total);
      PutOpt(d, "prefix_cache_hits_total", s.prefix_cache_hits_total);
      PutOpt(d, "prefix_cache_queries_total", s.prefix_cache_queries_total);
      PutOpt(d, "preemptions_total", s.preemptions_total);
      PutOpt(d, "scrape_ms", s.scrape_ms);
      j["data"] = std::move(d);
      return j;
    }
    json operator()(const RequestComplete& r) const {
      json j = Envelope("request_complete", r.run_id);
      json d = json::object();
      d["request_index"] = r.request_index;
      d["iteration"] = r.iteration;
      PutOptValue(d, "conversation_index", r.conversation_index);
      PutOptValue(d, "turn_index", r.turn_index);
      d["warmup"] = r.warmup;
      d["start_ms"] = r.start_ms;
      d["end_ms"] = r.end_ms;
      PutOpt(d, "scheduled_ms", r.scheduled_ms);
      PutOpt(d, "send_lag_ms", r.send_lag_ms);
      PutOpt(d, "ttft_ms", r.ttft_ms);
      PutOpt(d, "ttfc_ms", r.ttfc_ms);
      PutOpt(d, "e2e_latency_ms", r.e2e_latency_ms);
      PutOpt(d, "tpot_ms", r.tpot_ms);
      json itl = json::array();
      for (double v : r.inter_token_latencies_ms) itl.push_back(std::isfinite(v) ? json(v) : json(nullptr));
      d["inter_token_latencies_ms"] = std::move(itl);
      PutOptValue(d, "prompt_tokens", r.prompt_tokens);
      PutOptValue(d, "completion_tokens", r.completion_tokens);
      d["token_count_source"] = r.token_count_source;
      PutOptValue(d, "error", r.error);
      PutOptValue(d, "error_kind", r.error_kind);
      PutOptValue(d, "http_status", r.http_status);
      PutOptValue(d, "started_at", r.started_at);
      d["client_degraded"] = r.client_degraded;
      j["data"] = std::move(d);
      return j;
    }
    json operator()(const Log& l) const {
      json j = Envelope("log", l.run_id);
      j["level"] = l.level;
      j["message"] = l.message;
      j["timestamp"] = l.timestamp;
      j["source"] = l.source;
      return j;
    }
    json operator()(const Summary& s) const {
      json j = Envelope("summary", s.run_id);
      j["data"] = s.data.is_object() ? s.data : json::object();
      return j;
    }
    json operator()(const Error& e) const {
      json j = Envelope("error", e.run_id);
      j["message"] = e.message;
      json d = json::object();
      PutOptValue(d, "line", e.line);
      d["source"] = e.source;
      j["data"] = std::move(d);
      return j;
    }
  };
  json j = std::visit(Visitor{}, event);
  if (event.index() == 0 || event.index() == 4) ScrubNonFinite(j);  // free-form data
  return j;
}

std::string Serialize(const Event& event) {
  // error_handler::replace: invalid UTF-8 in a message (a server's error body) must not throw.
  return ToJson(event).dump(-1, ' ', false, json::error_handler_t::replace);
}

void ScrubNonFinite(json& j) {
  if (j.is_number_float()) {
    if (!std::isfinite(j.get<double>())) j = nullptr;
  } else if (j.is_object() || j.is_array()) {
    for (auto& v : j) ScrubNonFinite(v);
  }
}

// ---- Commands ----

CommandParseResult ParseCommand(std::string_view text) {
  CommandParseResult r;
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    r.error = "malformed JSON";
    return r;
  }
  if (!j.is_object()) {
    r.error = "expected a JSON object";
    return r;
  }
  std::string error;
  Fields f{j, &error, ""};
  std::string type = f.String("type", true);
  if (!error.empty()) {
    r.error = error;
    return r;
  }
  if (type == "start_experiment") {
    StartExperiment c;
    c.config_path = f.String("config_path", true);
    json options = f.Object("options");
    Fields o{options, &error, "options: "};
    c.server_url = o.OptString("server_url");
    if (c.server_url && c.server_url->empty()) c.server_url.reset();
    c.confirm = o.Bool("confirm");
    c.name = o.OptString("name");
    if (error.empty()) r.command = c;
  } else if (type == "stop_experiment") {
    StopExperiment c;
    c.run_id = f.String("run_id");
    if (error.empty()) r.command = c;
  } else if (type == "list_configs") {
    r.command = ListConfigs{};
  } else if (type == "list_results") {
    r.command = ListResults{};
  } else if (type == "load_result") {
    LoadResult c;
    c.run_id = f.String("run_id", true);
    if (error.empty()) r.command = c;
  } else if (type == "cancel_queued") {
    CancelQueued c;
    c.queue_id = f.String("queue_id", true);
    if (error.empty()) r.command = c;
  } else {
    error = "unknown command \"" + type + "\"";
  }
  r.error = error;
  if (!error.empty()) r.command.reset();
  return r;
}

json ToJson(const Command& command) {
  struct Visitor {
    json operator()(const StartExperiment& c) const {
      json options = json::object();
      PutOptValue(options, "server_url", c.server_url);
      options["confirm"] = c.confirm;
      if (c.name) options["name"] = *c.name;
      return {{"type", "start_experiment"}, {"config_path", c.config_path}, {"options", options}};
    }
    json operator()(const StopExperiment& c) const {
      return {{"type", "stop_experiment"}, {"run_id", c.run_id}};
    }
    json operator()(const ListConfigs&) const { return {{"type", "list_configs"}}; }
    json operator()(const ListResults&) const { return {{"type", "list_results"}}; }
    json operator()(const LoadResult& c) const {
      return {{"type", "load_result"}, {"run_id", c.run_id}};
    }
    json operator()(const CancelQueued& c) const {
      return {{"type", "cancel_queued"}, {"queue_id", c.queue_id}};
    }
  };
  return std::visit(Visitor{}, command);
}

std::string Serialize(const Command& command) { return ToJson(command).dump(); }

std::string NowIso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

Log MakeLog(std::string run_id, std::string level, std::string message, std::string source) {
  Log l;
  l.run_id = std::move(run_id);
  l.level = std::move(level);
  l.message = std::move(message);
  l.timestamp = NowIso8601();
  l.source = std::move(source);
  return l;
}

std::string ScrapeStopMessage(int64_t scrapes, int64_t failed, int64_t counter_resets,
                              int64_t skipped_slots) {
  return "stopped after " + std::to_string(scrapes) + " scrapes (" + std::to_string(failed) +
         " failed, " + std::to_string(counter_resets) + " counter resets, " +
         std::to_string(skipped_slots) + " slots skipped)";
}

std::optional<int64_t> FailedScrapesIn(const Log& log) {
  static constexpr std::string_view kPrefix = "stopped after ";
  const std::string& m = log.message;
  if (log.source != "ib-scrape" || m.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  const std::size_t open = m.find(" scrapes (", kPrefix.size());
  if (open == std::string::npos) return std::nullopt;
  const char* first = m.data() + open + 10;
  const char* last = m.data() + m.size();
  int64_t failed = 0;
  auto [end, ec] = std::from_chars(first, last, failed);
  if (ec != std::errc() || end == first || std::string_view(end, last - end).rfind(" failed", 0) != 0)
    return std::nullopt;
  return failed;
}

Error MakeError(std::string run_id, std::string message, std::string source,
                std::optional<int64_t> line) {
  Error e;
  e.run_id = std::move(run_id);
  e.message = std::move(message);
  e.source = std::move(source);
  e.line = line;
  return e;
}

}  // namespace ib::events
