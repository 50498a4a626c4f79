#include "lib/trace/trace.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace ib::trace {
namespace {

using nlohmann::json;

constexpr int64_t kMaxTokens = 10'000'000;

// 64 common three-letter words: with the leading space each is 4 bytes, one ib-sim token.
const char* const kWords[64] = {
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out",
    "day", "get", "has", "him", "his", "how", "man", "new", "now", "old", "see", "two", "way", "who", "boy", "did",
    "its", "let", "put", "say", "she", "too", "use", "act", "add", "age", "ago", "air", "arm", "art", "ask", "bad",
    "bag", "bed", "big", "box", "buy", "car", "cat", "cup", "cut", "dog", "eat", "end", "eye", "far", "few", "fit"};

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool NonNegativeInt(const json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v.get<uint64_t>());
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = v.get<int64_t>();
    return true;
  }
  // 512.0 is an integer too (some writers emit floats).
  if (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() < 9e15 && std::floor(v.get<double>()) == v.get<double>()) {
    *out = static_cast<int64_t>(v.get<double>());
    return true;
  }
  return false;
}

int64_t Scaled(int64_t n, double scale) {
  double v = std::llround(static_cast<double>(n) * scale);
  return v < 1 ? 1 : static_cast<int64_t>(v);
}

}  // namespace

std::string ValidateOptions(const Options& o) {
  if (o.file.empty()) return "file is required";
  if (o.format != "mooncake") return "format must be 'mooncake' (got '" + o.format + "')";
  if (!(o.speedup > 0) || !std::isfinite(o.speedup)) return "speedup must be > 0";
  if (o.block_tokens < 1) return "block_tokens must be >= 1";
  if (o.max_requests < 0) return "max_requests must be >= 0";
  if (!(o.start_s >= 0) || !std::isfinite(o.start_s)) return "start_s must be >= 0";
  if (o.duration_s && (!(*o.duration_s > 0) || !std::isfinite(*o.duration_s))) return "duration_s must be > 0";
  if (!(o.length_scale > 0) || !std::isfinite(o.length_scale) || o.length_scale > 1000) return "length_scale must be > 0 (and at most 1000)";
  return "";
}

std::string ParseMooncake(std::string_view line, Record* out) {
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return "not a JSON object";
  if (!j.is_object()) return "not a JSON object (got " + std::string(j.type_name()) + ")";
  for (const char* key : {"timestamp", "input_length", "output_length", "hash_ids"})
    if (!j.contains(key)) return std::string("lacks \"") + key + "\"";
  const json& ts = j["timestamp"];
  if (!ts.is_number() || !(ts.get<double>() >= 0) || !std::isfinite(ts.get<double>()))
    return "\"timestamp\" must be a number of ms >= 0";
  out->timestamp_ms = ts.get<double>();
  // At most 10M tokens: far past any model's context, and a prompt that size still fits memory.
  if (!NonNegativeInt(j["input_length"], &out->input_length) || out->input_length < 1 || out->input_length > kMaxTokens)
    return "\"input_length\" must be an integer from 1 to 10000000";
  if (!NonNegativeInt(j["output_length"], &out->output_length) || out->output_length > kMaxTokens)
    return "\"output_length\" must be an integer from 0 to 10000000";
  const json& ids = j["hash_ids"];
  if (!ids.is_array()) return "\"hash_ids\" must be a list of integers";
  out->hash_ids.clear();
  out->hash_ids.reserve(ids.size());
  for (const json& id : ids) {
    int64_t v = 0;
    if (!NonNegativeInt(id, &v)) return "\"hash_ids\" must be a list of integers >= 0";
    out->hash_ids.push_back(v);
  }
  return "";
}

Reader::Reader(const std::string& path) : in_(path) {
  if (!in_) error_ = "cannot open trace file";
}

bool Reader::Next(Record* out) {
  if (!error_.empty()) return false;
  std::string text;
  while (std::getline(in_, text)) {
    ++line_;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    error_ = ParseMooncake(text, out);
    if (!error_.empty()) return false;
    if (any_ && out->timestamp_ms < last_ms_) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "timestamps go backwards (%.17g ms after %.17g ms on an earlier line)",
                    out->timestamp_ms, last_ms_);
      error_ = buf;
      return false;
    }
    any_ = true;
    last_ms_ = out->timestamp_ms;
    return true;
  }
  if (in_.bad()) error_ = "read error";
  return false;
}

Replay::Replay(const Options& options) : options_(options), reader_(options.file) {}

bool Replay::Next(Request* out) {
  if (done_) return false;
  if (options_.max_requests > 0 && next_index_ >= options_.max_requests) return done_ = true, false;
  Record rec;
  while (reader_.Next(&rec)) {
    double t_s = rec.timestamp_ms / 1000.0;
    if (t_s < options_.start_s) continue;
    if (options_.duration_s && t_s >= options_.start_s + *options_.duration_s) break;  // past the window
    out->index = next_index_++;
    out->line = reader_.line();
    out->offset_s = (t_s - options_.start_s) / options_.speedup;
    out->input_tokens = Scaled(rec.input_length, options_.length_scale);
    out->output_tokens = Scaled(rec.output_length, options_.length_scale);
    out->block_tokens = Scaled(options_.block_tokens, options_.length_scale);
    out->hash_ids = std::move(rec.hash_ids);
    return true;
  }
  done_ = true;
  return false;
}

Scan ScanReplay(const Options& options) {
  Scan scan;
  Replay replay(options);
  Request r;
  while (replay.Next(&r)) {
    ++scan.requests;
    scan.last_offset_s = r.offset_s;
  }
  scan.error = replay.error();
  scan.line = replay.line();
  return scan;
}

std::string PromptText(const Request& r) {
  std::string text;
  text.reserve(static_cast<std::size_t>(r.input_tokens) * 4);
  for (int64_t k = 0; k < r.input_tokens; ++k) {
    const auto block = static_cast<std::size_t>(k / r.block_tokens);
    const auto pos = static_cast<uint64_t>(k % r.block_tokens);
    // Past the ids: words unique to this line (the high bit keeps them apart from ids).
    uint64_t key = block < r.hash_ids.size() ? Mix(static_cast<uint64_t>(r.hash_ids[block]))
                                             : Mix((1ULL << 63) | static_cast<uint64_t>(r.line)) ^ Mix(block);
    text.push_back(' ');
    text += kWords[Mix(key + pos) & 63];
  }
  return text;
}

}  // namespace ib::trace
