#include "lib/events/events.h"

#include <charconv>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>

namespace ib::events {
namespace {

using nlohmann::json;

constexpr std::array<const char*, 12> kPhases = {
    phase::kProvisioning,  phase::kProvisioningDone, phase::kProvisioningSkipped,
    phase::kModelLoading,  phase::kModelLoadingDone, phase::kExecution,
    phase::kSweepIteration, phase::kIterationDone,   phase::kCleanup,
    phase::kDone,          phase::kFailed,          phase::kEarlyStop};

// Field readers that record the first problem they meet in *error and keep going, so one
// function can validate a whole event.
struct Fields {
  const json& obj;
  std::string* error;
  std::string where;
  std::string path;  // payloads: the object's path ("data.client"), for nested objects' messages

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
      // (outside +-2^63 the conversion would be undefined behaviour)
      if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.2e18) return static_cast<int64_t>(d);
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

// execution and iteration_done carry typed payloads (payloads.h): checked here, so a reader
// never meets a field of the wrong type.
bool CheckPhasePayload(const Phase& p, std::string* error);

ParseResult ParsePhase(const json& j, int version) {
  std::string error;
  Fields f{j, &error, "phase: "};
  Phase p;
  p.run_id = f.String("run_id");
  p.phase = f.String("phase", true);
  p.data = f.Object("data");
  if (error.empty() && !IsKnownPhase(p.phase)) error = "phase: unknown phase \"" + p.phase + "\"";
  if (error.empty()) CheckPhasePayload(p, &error);
  (void)version;
  if (!error.empty()) return Fail(error);
  return {p, ""};
}

std::vector<double> NumberList(const json* v, const std::string& where, std::string* error) {
  std::vector<double> out;
  if (v == nullptr || !v->is_array()) {
    if (error->empty()) *error = where + " must be an array of numbers";
    return out;
  }
  out.reserve(v->size());
  for (const json& x : *v) {
    if (!x.is_number() || !std::isfinite(x.get<double>())) {
      if (error->empty()) *error = where + " must hold only finite numbers";
      return {};
    }
    out.push_back(x.get<double>());
  }
  return out;
}

std::map<std::string, ServerHistogram> ReadServerHistograms(const json& h, std::string* error) {
  std::map<std::string, ServerHistogram> out;
  const std::string where = "gpu_sample.data.server_histograms";
  if (!h.is_object()) {
    if (error->empty()) *error = where + " must be an object";
    return out;
  }
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string at = where + "." + it.key();
    if (!it.value().is_object()) {
      if (error->empty()) *error = at + " must be an object";
      return out;
    }
    Fields f{it.value(), error, at + ": "};
    ServerHistogram x;
    x.metric = f.String("metric", true);
    x.le_ms = NumberList(f.Find("le_ms"), at + ".le_ms", error);
    x.counts = NumberList(f.Find("counts"), at + ".counts", error);
    x.count = f.Number("count", true);
    x.sum_ms = f.Number("sum_ms", true);
    if (error->empty() && x.counts.size() != x.le_ms.size() + 1)
      *error = at + ": counts must have one entry more than le_ms (the +Inf bucket)";
    if (error->empty() && !std::is_sorted(x.le_ms.begin(), x.le_ms.end()))
      *error = at + ".le_ms must be ascending";
    if (!error->empty()) return out;
    out.emplace(it.key(), std::move(x));
  }
  return out;
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
    if (const json* h = f.Find("server_histograms"); h != nullptr && !h->is_null())
      s.server_histograms = ReadServerHistograms(*h, &error);
  }
  if (!error.empty()) return Fail(error);
  return {s, ""};
}

// One reader per C++ type of request_fields.h; the field table picks the overload.
void ReadField(Fields& f, const char* key, int flags, int64_t* out) {
  auto v = f.OptInt(key);
  if (!v && (flags & field::kRequired) && f.error->empty())
    *f.error = f.where + "missing integer \"" + key + "\"";
  *out = v.value_or(0);
}
void ReadField(Fields& f, const char* key, int, int* out) {
  *out = static_cast<int>(f.OptInt(key).value_or(0));
}
void ReadField(Fields& f, const char* key, int, std::optional<int>* out) {
  if (auto v = f.OptInt(key)) {
    if (*v < INT32_MIN || *v > INT32_MAX) {
      f.Fail(std::string("field \"") + key + "\" is out of range");
      return;
    }
    *out = static_cast<int>(*v);
  }
}
void ReadField(Fields& f, const char* key, int, std::optional<int64_t>* out) { *out = f.OptInt(key); }
void ReadField(Fields& f, const char* key, int, bool* out) { *out = f.Bool(key); }
void ReadField(Fields& f, const char* key, int, double* out) { *out = f.Number(key); }
void ReadField(Fields& f, const char* key, int, std::optional<double>* out) { *out = f.OptNumber(key); }
void ReadField(Fields& f, const char* key, int, std::string* out) { *out = f.String(key); }
void ReadField(Fields& f, const char* key, int, std::optional<std::string>* out) {
  *out = f.OptString(key);
}
void ReadField(Fields& f, const char* key, int, std::vector<double>* out) {
  const json* list = f.Find(key);
  if (list == nullptr || list->is_null()) return;
  if (!list->is_array()) {
    f.Fail(std::string(key) + " must be an array");
    return;
  }
  out->reserve(list->size());
  for (const auto& v : *list) {
    if (!v.is_number()) {
      f.Fail(std::string(key) + " must hold numbers");
      return;
    }
    out->push_back(v.get<double>());
  }
}

void ReadField(Fields& f, const char* key, int flags, std::optional<std::vector<double>>* out) {
  const json* list = f.Find(key);
  if (list == nullptr || list->is_null()) return;
  std::vector<double> v;
  ReadField(f, key, flags, &v);
  *out = std::move(v);
}

// One writer per C++ type; kOmitNull leaves an unset optional out.
void PutField(json& d, const char* key, int, const int64_t& v) { d[key] = v; }
void PutField(json& d, const char* key, int, const int& v) { d[key] = v; }
void PutField(json& d, const char* key, int, const bool& v) { d[key] = v; }
void PutField(json& d, const char* key, int, const double& v) { d[key] = v; }
void PutField(json& d, const char* key, int, const std::string& v) { d[key] = v; }
void PutField(json& d, const char* key, int, const std::vector<double>& list) {
  json a = json::array();
  for (double v : list) a.push_back(std::isfinite(v) ? json(v) : json(nullptr));
  d[key] = std::move(a);
}
void PutField(json& d, const char* key, int flags, const std::optional<double>& v) {
  if (!v && (flags & field::kOmitNull)) return;
  PutOpt(d, key, v);
}
void PutField(json& d, const char* key, int flags, const std::optional<std::vector<double>>& v) {
  if (!v && (flags & field::kOmitNull)) return;
  if (!v) {
    d[key] = nullptr;
    return;
  }
  PutField(d, key, flags, *v);
}
template <typename T>
void PutField(json& d, const char* key, int flags, const std::optional<T>& v) {
  if (!v && (flags & field::kOmitNull)) return;
  PutOptValue(d, key, v);
}

template <typename T> constexpr const char* kSchemaType = "string";
template <> constexpr const char* kSchemaType<int64_t> = "integer";
template <> constexpr const char* kSchemaType<int> = "integer";
template <> constexpr const char* kSchemaType<std::optional<int64_t>> = "integer";
template <> constexpr const char* kSchemaType<std::optional<int>> = "integer";
template <> constexpr const char* kSchemaType<double> = "number";
template <> constexpr const char* kSchemaType<std::optional<double>> = "number";
template <> constexpr const char* kSchemaType<bool> = "boolean";
template <> constexpr const char* kSchemaType<std::vector<double>> = "number[]";
template <> constexpr const char* kSchemaType<std::optional<std::vector<double>>> = "number[]";
template <typename T> constexpr bool kNullable = false;
template <typename T> constexpr bool kNullable<std::optional<T>> = true;


// ---- Typed payloads (payloads.h) ----

void ReadField(Fields& f, const char* key, int, std::optional<bool>* out) {
  const json* v = f.Find(key);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_boolean()) return f.Fail(std::string("field \"") + key + "\" must be true or false");
  *out = v->get<bool>();
}
void ReadField(Fields& f, const char* key, int, std::optional<json>* out) {
  const json* v = f.Find(key);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_object()) return f.Fail(std::string("field \"") + key + "\" must be an object");
  *out = *v;
}
void ReadField(Fields& f, const char* key, int, std::optional<std::vector<int>>* out) {
  const json* v = f.Find(key);
  if (v == nullptr || v->is_null()) return;
  std::vector<int> list;
  bool ok = v->is_array();
  for (std::size_t i = 0; ok && i < v->size(); ++i) {
    const json& x = (*v)[i];
    ok = x.is_number_integer() && x.get<int64_t>() >= INT32_MIN && x.get<int64_t>() <= INT32_MAX;
    if (ok) list.push_back(static_cast<int>(x.get<int64_t>()));
  }
  if (!ok) return f.Fail(std::string("field \"") + key + "\" must be an array of integers");
  *out = std::move(list);
}
void ReadField(Fields& f, const char* key, int, std::optional<BoolOrCount>* out) {
  const json* v = f.Find(key);
  if (v == nullptr || v->is_null()) return;
  if (v->is_boolean()) {
    *out = v->get<bool>();
  } else if (v->is_number()) {
    *out = f.OptInt(key).value_or(0);
  } else {
    f.Fail(std::string("field \"") + key + "\" must be true, false or a count");
  }
}
void PutField(json& d, const char* key, int flags, const std::optional<BoolOrCount>& v) {
  if (!v) {
    if (!(flags & field::kOmitNull)) d[key] = nullptr;
    return;
  }
  d[key] = std::holds_alternative<bool>(*v) ? json(std::get<bool>(*v)) : json(std::get<int64_t>(*v));
}

// Reads the keys a payload list names into *out and every other key into out->rest.
// `path` names the object in messages ("data.client").
#define IB_PAYLOAD_NAME(type, name, flags, doc) #name,
#define IB_PAYLOAD_READ(type, name, flags, doc) ReadField(f, #name, flags, &out->name);
#define IB_PAYLOAD_PUT(type, name, flags, doc) PutField(j, #name, flags, v.name);
#define IB_PAYLOAD_IMPL(Name, FIELDS)                                                        \
  bool ReadPayload(const json& j, Name* out, std::string* error, const std::string& path) {  \
    if (!j.is_object()) {                                                                    \
      if (error->empty()) *error = (path.empty() ? "payload" : path) + " must be an object"; \
      return false;                                                                          \
    }                                                                                        \
    static const std::array kNames = {FIELDS(IB_PAYLOAD_NAME)};                              \
    const std::size_t before = error->size();                                                \
    Fields f{j, error, path.empty() ? "" : path + ": "};                                    \
    f.path = path;                                                                           \
    FIELDS(IB_PAYLOAD_READ)                                                                  \
    for (auto it = j.begin(); it != j.end(); ++it) {                                         \
      if (std::find(kNames.begin(), kNames.end(), std::string_view(it.key())) == kNames.end()) \
        out->rest[it.key()] = it.value();                                                    \
    }                                                                                        \
    return error->size() == before;                                                          \
  }                                                                                          \
  json WritePayload(const Name& v) {                                                         \
    json j = v.rest.is_object() ? v.rest : json::object();                                  \
    FIELDS(IB_PAYLOAD_PUT)                                                                   \
    return j;                                                                                \
  }                                                                                          \
  void ReadField(Fields& f, const char* key, int, std::optional<Name>* out) {                \
    const json* v = f.Find(key);                                                             \
    if (v == nullptr || v->is_null()) return;                                                \
    Name x;                                                                                  \
    if (ReadPayload(*v, &x, f.error, f.path.empty() ? key : f.path + "." + key)) *out = std::move(x); \
  }                                                                                          \
  void PutField(json& d, const char* key, int flags, const std::optional<Name>& v) {         \
    if (!v) {                                                                                \
      if (!(flags & field::kOmitNull)) d[key] = nullptr;                                     \
      return;                                                                                \
    }                                                                                        \
    d[key] = WritePayload(*v);                                                               \
  }

IB_PAYLOAD_IMPL(ShardPosition, IB_SHARD_POSITION_FIELDS)
IB_PAYLOAD_IMPL(Execution, IB_EXECUTION_FIELDS)
IB_PAYLOAD_IMPL(RequestCounts, IB_REQUEST_COUNTS_FIELDS)
IB_PAYLOAD_IMPL(ProcessFigures, IB_PROCESS_FIGURES_FIELDS)
IB_PAYLOAD_IMPL(ShardFigures, IB_SHARD_FIGURES_FIELDS)

void ReadField(Fields& f, const char* key, int, std::optional<std::vector<ShardFigures>>* out) {
  const json* v = f.Find(key);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_array()) return f.Fail(std::string("field \"") + key + "\" must be an array of objects");
  std::vector<ShardFigures> list;
  const std::string at = f.path.empty() ? key : f.path + "." + key;
  for (std::size_t i = 0; i < v->size(); ++i) {
    ShardFigures x;
    if (!ReadPayload((*v)[i], &x, f.error, at + "[" + std::to_string(i) + "]")) return;
    list.push_back(std::move(x));
  }
  *out = std::move(list);
}
void PutField(json& d, const char* key, int flags, const std::optional<std::vector<ShardFigures>>& v) {
  if (!v) {
    if (!(flags & field::kOmitNull)) d[key] = nullptr;
    return;
  }
  json a = json::array();
  for (const auto& x : *v) a.push_back(WritePayload(x));
  d[key] = std::move(a);
}

IB_PAYLOAD_IMPL(ClientFigures, IB_CLIENT_FIGURES_FIELDS)
IB_PAYLOAD_IMPL(IterationDone, IB_ITERATION_DONE_FIELDS)
IB_PAYLOAD_IMPL(SummaryData, IB_SUMMARY_FIELDS)
#undef IB_PAYLOAD_IMPL
#undef IB_PAYLOAD_READ
#undef IB_PAYLOAD_PUT

bool CheckPhasePayload(const Phase& p, std::string* error) {
  if (p.phase == phase::kExecution) {
    Execution x;
    return ReadPayload(p.data, &x, error, "phase execution: data");
  }
  if (p.phase == phase::kIterationDone) {
    IterationDone x;
    return ReadPayload(p.data, &x, error, "phase iteration_done: data");
  }
  return true;
}

template <> constexpr const char* kSchemaType<std::optional<bool>> = "boolean";
template <> constexpr const char* kSchemaType<std::optional<json>> = "object";
template <> constexpr const char* kSchemaType<std::optional<std::vector<int>>> = "integer[]";
template <> constexpr const char* kSchemaType<std::optional<BoolOrCount>> = "boolean|integer";
template <> constexpr const char* kSchemaType<std::optional<ShardPosition>> = "object";
template <> constexpr const char* kSchemaType<std::optional<RequestCounts>> = "object";
template <> constexpr const char* kSchemaType<std::optional<ProcessFigures>> = "object";
template <> constexpr const char* kSchemaType<std::optional<ClientFigures>> = "object";
template <> constexpr const char* kSchemaType<std::optional<std::vector<ShardFigures>>> = "object[]";

#define IB_PAYLOAD_SCHEMA(type, name, flags, doc)                                            \
  list.push_back({{"name", #name},                                                           \
                  {"type", kSchemaType<type>},                                               \
                  {"omitted_when_unset", (flags & field::kOmitNull) != 0},                   \
                  {"doc", doc}});
#define IB_SCHEMA_LIST(FIELDS)   \
  [] {                           \
    json list = json::array();   \
    FIELDS(IB_PAYLOAD_SCHEMA)    \
    return list;                 \
  }()

ParseResult ParseRequestComplete(const json& j, int version) {
  std::string error;
  if (!j.contains("data")) return Fail("request_complete: missing field \"data\"");
  json data = Fields{j, &error, "request_complete: "}.Object("data");
  Fields f{data, &error, "request_complete.data: "};
  RequestComplete r;
  r.run_id = Fields{j, &error, "request_complete: "}.String("run_id");
  // Stream v1 carried only the fields with a v1 key (tpot_ms was tbt_ms).
#define IB_READ_FIELD(type, name, v1_key, flags, doc)                       \
  if (version >= 2) {                                                       \
    ReadField(f, #name, flags, &r.name);                                    \
  } else if (const char* k1 = v1_key; k1 != nullptr) {                     \
    ReadField(f, k1, flags, &r.name);                                       \
  }
  IB_REQUEST_COMPLETE_FIELDS(IB_READ_FIELD)
#undef IB_READ_FIELD
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
  if (const json* st = f.Find("scrape_stats"); st != nullptr && !st->is_null()) {
    if (!st->is_object()) {
      f.Fail("field \"scrape_stats\" must be an object");
    } else {
      Fields s{*st, &error, "log.scrape_stats: "};
      ScrapeStats stats;
      stats.scrapes = s.OptInt("scrapes").value_or(0);
      stats.failed = s.OptInt("failed").value_or(0);
      stats.counter_resets = s.OptInt("counter_resets").value_or(0);
      stats.skipped_slots = s.OptInt("skipped_slots").value_or(0);
      l.scrape_stats = stats;
    }
  }
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
  if (error.empty()) {
    SummaryData x;
    ReadPayload(s.data, &x, &error, "summary: data");
  }
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

json RequestCompleteSchema() {
  json out = json::array();
#define IB_SCHEMA_FIELD(type, name, v1_key, flags, doc)                                       \
  {                                                                                          \
    std::string_view key = #name;                                                            \
    out.push_back({{"name", key},                                                            \
                   {"type", kSchemaType<type>},                                              \
                   {"nullable", kNullable<type>},                                            \
                   {"unit", key.ends_with("_ms") ? "ms" : key.ends_with("tokens") ? "tokens" : ""}, \
                   {"doc", doc}});                                                           \
  }
  IB_REQUEST_COMPLETE_FIELDS(IB_SCHEMA_FIELD)
#undef IB_SCHEMA_FIELD
  return out;
}

json PayloadSchemas() {
  return {{"execution", IB_SCHEMA_LIST(IB_EXECUTION_FIELDS)},
          {"execution.shard", IB_SCHEMA_LIST(IB_SHARD_POSITION_FIELDS)},
          {"iteration_done", IB_SCHEMA_LIST(IB_ITERATION_DONE_FIELDS)},
          {"iteration_done.requests", IB_SCHEMA_LIST(IB_REQUEST_COUNTS_FIELDS)},
          {"iteration_done.client", IB_SCHEMA_LIST(IB_CLIENT_FIGURES_FIELDS)},
          {"iteration_done.client.shards[]", IB_SCHEMA_LIST(IB_SHARD_FIGURES_FIELDS)},
          {"summary", IB_SCHEMA_LIST(IB_SUMMARY_FIELDS)}};
}
#undef IB_SCHEMA_LIST
#undef IB_PAYLOAD_SCHEMA
#undef IB_PAYLOAD_NAME

#define IB_PAYLOAD_PUBLIC(Name)                                              \
  bool FromJson(const json& j, Name* out, std::string* error) {               \
    *out = Name{};                                                            \
    error->clear();                                                           \
    return ReadPayload(j, out, error, "");                                    \
  }                                                                           \
  json ToJson(const Name& value) {                                            \
    json j = WritePayload(value);                                             \
    ScrubNonFinite(j);                                                        \
    return j;                                                                 \
  }
IB_PAYLOAD_PUBLIC(ShardPosition)
IB_PAYLOAD_PUBLIC(Execution)
IB_PAYLOAD_PUBLIC(RequestCounts)
IB_PAYLOAD_PUBLIC(ProcessFigures)
IB_PAYLOAD_PUBLIC(ShardFigures)
IB_PAYLOAD_PUBLIC(ClientFigures)
IB_PAYLOAD_PUBLIC(IterationDone)
IB_PAYLOAD_PUBLIC(SummaryData)
#undef IB_PAYLOAD_PUBLIC

Execution ExecutionOf(const Phase& phase) {
  Execution x;
  std::string error;
  ReadPayload(phase.data, &x, &error, "");
  return x;
}
IterationDone IterationDoneOf(const Phase& phase) {
  IterationDone x;
  std::string error;
  ReadPayload(phase.data, &x, &error, "");
  return x;
}
SummaryData SummaryOf(const Summary& summary) {
  SummaryData x;
  std::string error;
  ReadPayload(summary.data, &x, &error, "");
  return x;
}

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
      if (s.server_histograms) {
        json h = json::object();
        for (const auto& [name, x] : *s.server_histograms) {
          h[name] = {{"metric", x.metric}, {"le_ms", x.le_ms}, {"counts", x.counts},
                     {"count", x.count}, {"sum_ms", x.sum_ms}};
        }
        d["server_histograms"] = std::move(h);
      }
      j["data"] = std::move(d);
      return j;
    }
    json operator()(const RequestComplete& r) const {
      json j = Envelope("request_complete", r.run_id);
      json d = json::object();
#define IB_PUT_FIELD(type, name, v1_key, flags, doc) PutField(d, #name, flags, r.name);
      IB_REQUEST_COMPLETE_FIELDS(IB_PUT_FIELD)
#undef IB_PUT_FIELD
      j["data"] = std::move(d);
      return j;
    }
    json operator()(const Log& l) const {
      json j = Envelope("log", l.run_id);
      j["level"] = l.level;
      j["message"] = l.message;
      j["timestamp"] = l.timestamp;
      j["source"] = l.source;
      if (l.scrape_stats) {
        j["scrape_stats"] = {{"scrapes", l.scrape_stats->scrapes},
                             {"failed", l.scrape_stats->failed},
                             {"counter_resets", l.scrape_stats->counter_resets},
                             {"skipped_slots", l.scrape_stats->skipped_slots}};
      }
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

Log ScrapeStopLog(std::string run_id, const ScrapeStats& stats, const std::string& suffix) {
  Log l = MakeLog(std::move(run_id), "info",
                  "stopped after " + std::to_string(stats.scrapes) + " scrapes (" +
                      std::to_string(stats.failed) + " failed, " +
                      std::to_string(stats.counter_resets) + " counter resets, " +
                      std::to_string(stats.skipped_slots) + " slots skipped)" + suffix,
                  "ib-scrape");
  l.scrape_stats = stats;
  return l;
}

std::string StderrLevel(std::string_view line) {
  const std::size_t colon = line.find(": ");
  if (colon == std::string_view::npos || colon == 0 || line.substr(0, colon).find(' ') != std::string_view::npos)
    return "info";
  std::string_view rest = line.substr(colon + 2);
  const std::size_t end = rest.find_first_of(": ");
  if (end == std::string_view::npos) return "info";
  std::string_view word = rest.substr(0, end);
  if (word == "error" || word == "fatal") return "error";
  if (word == "warning" || word == "warn") return "warning";
  return "info";
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
