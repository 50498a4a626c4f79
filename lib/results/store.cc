#include "lib/results/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lib/results/clock.h"
#include "lib/results/file.h"
#include "lib/runid/runid.h"

namespace ib::results {
namespace {

using nlohmann::json;

const json& At(const json& obj, const char* key) {
  static const json kNull = nullptr;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

json FirstOf(std::initializer_list<const json*> values) {
  for (const json* v : values) {
    if (!v->is_null()) return *v;
  }
  return nullptr;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// The original tool wrote NaN/Infinity as bare tokens (invalid JSON); read them as null.
std::string NullNonFiniteTokens(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out.push_back(text[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (text.compare(i, 3, "NaN") == 0) {
      out.append("null");
      i += 2;
    } else if (text.compare(i, 9, "-Infinity") == 0) {
      out.append("null");
      i += 8;
    } else if (text.compare(i, 8, "Infinity") == 0) {
      out.append("null");
      i += 7;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool ReadWholeFile(const std::string& path, std::string* text, std::string* error) {
  // O_NONBLOCK: a FIFO named *.json must not hang a listing.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *error = "not a regular file";
    return false;
  }
  text->clear();
  text->reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text->append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      *error = std::string("cannot read: ") + std::strerror(errno);
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

// Index just past the JSON string that starts at text[i] == '"', or npos when it never ends.
std::size_t SkipString(const std::string& text, std::size_t i) {
  for (++i; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;
    } else if (c == '"') {
      return i + 1;
    }
  }
  return std::string::npos;
}

// Index just past the array or object that starts at text[i], or npos when it never closes.
// Brackets inside strings do not count; anything else is left for the JSON parser to judge.
std::size_t SkipContainer(const std::string& text, std::size_t i) {
  int depth = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      i = SkipString(text, i);
      if (i == std::string::npos) return i;
      continue;
    }
    if (c == '[' || c == '{') ++depth;
    if ((c == ']' || c == '}') && --depth == 0) return i + 1;
    ++i;
  }
  return std::string::npos;
}

// The bulk of a results file (requests, warmup_requests, gpu_metrics.time_series) replaced by
// [], found by a bracket scan that costs a fraction of JSON parsing: listing a 70 MB file reads
// its headers in ~0.1 s instead of seconds. A malformed bulk array is not noticed here (loading
// the whole file reports it); an unbalanced file is returned whole, for the parser to reject.
std::string SkimBulk(const std::string& text) {
  std::string out;
  out.reserve(4096);
  std::vector<std::string> keys;  // the key being read at each object depth
  std::string last_key;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '"') {
      std::size_t end = SkipString(text, i);
      if (end == std::string::npos) return text;
      std::size_t j = end;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\n' || text[j] == '\t' || text[j] == '\r')) ++j;
      if (j < text.size() && text[j] == ':') last_key = text.substr(i + 1, end - i - 2);
      i = end;
      continue;
    }
    if (c == '[' || c == '{') {
      const std::size_t depth = keys.size();
      const bool bulk = c == '[' && ((depth == 1 && (last_key == "requests" || last_key == "warmup_requests")) ||
                                     (depth == 2 && keys[1] == "gpu_metrics" && last_key == "time_series"));
      if (bulk) {
        std::size_t end = SkipContainer(text, i);
        if (end == std::string::npos) return text;
        out.append(text, copied, i - copied);
        out += "[]";
        copied = i = end;
        continue;
      }
      if (c == '{') keys.push_back(depth == 0 ? std::string() : last_key);
      else keys.push_back(std::string("[]"));
    } else if (c == ']' || c == '}') {
      if (!keys.empty()) keys.pop_back();
    }
    ++i;
  }
  out.append(text, copied, std::string::npos);
  return out;
}

json Parse(const std::string& text, bool headers_only) {
  if (!headers_only) return json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (std::string skimmed = SkimBulk(text); skimmed.size() != text.size()) {
    json j = json::parse(skimmed, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) return j;
  }
  json::parser_callback_t skip_bulk = [](int depth, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key || !parsed.is_string()) return true;
    const auto& key = parsed.get_ref<const std::string&>();
    if (depth == 1) return key != "requests" && key != "warmup_requests";
    if (depth == 2) return key != "time_series";
    return true;
  };
  return json::parse(text, skip_bulk, /*allow_exceptions=*/false);
}

std::string MtimeIso(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return FormatIsoMs(static_cast<int64_t>(st.st_mtime) * 1000);
}

// Confines `path` to `dir`: its real path (symlinks resolved) must lie inside dir's.
bool InsideDir(const std::string& real_dir, const std::string& path, std::string* error) {
  std::string real = RealPath(path);
  if (real.empty()) {
    *error = std::string("cannot resolve: ") + std::strerror(errno);
    return false;
  }
  if (real_dir.empty() || real.compare(0, real_dir.size() + 1, real_dir + "/") != 0) {
    *error = "points outside the results directory";
    return false;
  }
  return true;
}

std::vector<std::string> JsonStems(const std::string& dir) {
  std::vector<std::string> stems;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return stems;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || !EndsWith(name, ".json") || name.size() == 5) continue;
    if (EndsWith(name, ".study.json")) continue;  // a study ties runs together; not a run
    stems.push_back(name.substr(0, name.size() - 5));
  }
  ::closedir(d);
  std::sort(stems.begin(), stems.end());
  return stems;
}

// The document, parsed (the original tool's NaN/Infinity read as null).
struct ReadOutcome {
  std::optional<json> data;
  std::string error;
};
ReadOutcome ReadDocument(const std::string& path, bool headers_only) {
  ReadOutcome out;
  std::string text;
  if (!ReadWholeFile(path, &text, &out.error)) return out;
  json j = Parse(text, headers_only);
  if (j.is_discarded()) {
    j = Parse(NullNonFiniteTokens(text), headers_only);
    if (j.is_discarded()) {
      out.error = "not valid JSON";
      return out;
    }
  }
  if (!j.is_object()) {
    out.error = "not a JSON object";
    return out;
  }
  out.data = std::move(j);
  return out;
}

}  // namespace

json ToJson(const ListItem& item) {
  return {{"run_id", item.run_id},
          {"status", item.status},
          {"framework", item.framework},
          {"model", item.model},
          {"gpu_type", item.gpu_type},
          {"gpu_count", item.gpu_count},
          {"started_at", item.started_at},
          {"finished_at", item.finished_at},
          {"total_requests", item.total_requests},
          {"successful_requests", item.successful_requests},
          {"ttft_p50_ms", item.ttft_p50_ms},
          {"tokens_per_second", item.tokens_per_second},
          {"readable", item.readable},
          {"error", item.readable ? json(nullptr) : json(item.error)}};
}

ListItem ItemFromResults(const json& r, const std::string& path) {
  ListItem item;
  item.path = path;
  const json& id = At(r, "run_id");
  if (!r.is_object() || !id.is_string()) {
    item.error = r.is_object() ? "no run_id" : "not a JSON object";
    return item;
  }
  item.readable = true;
  item.run_id = id.get<std::string>();
  const json& status = At(r, "status");
  item.status = status.is_string() ? status.get<std::string>() : "unknown";
  const json& meta = At(r, "metadata");
  const json& exp = At(r, "experiment");
  const json& infra = At(exp, "infrastructure");
  const json& summary = At(r, "summary");
  item.framework = FirstOf({&At(meta, "framework"), &At(exp, "framework")});
  item.model = FirstOf({&At(meta, "model"), &At(At(exp, "model"), "name")});
  item.gpu_type = FirstOf({&At(meta, "gpu_type"), &At(infra, "gpu_type")});
  item.gpu_count = FirstOf({&At(meta, "gpu_count"), &At(infra, "gpu_count")});
  item.started_at = At(meta, "started_at");
  item.finished_at = At(meta, "finished_at");
  item.total_requests = At(summary, "total_requests");
  item.successful_requests = At(summary, "successful_requests");
  item.ttft_p50_ms = At(At(summary, "ttft"), "p50");
  item.tokens_per_second = At(summary, "tokens_per_second");
  return item;
}


ResultsRead ReadResults(const std::string& path, bool headers_only) {
  ResultsRead out;
  ReadOutcome read = ReadDocument(path, headers_only);
  if (!read.data) {
    out.error = read.error;
    return out;
  }
  const json& r = *read.data;
  ResultsFile file;
  file.path = path;
  if (const json& id = At(r, "run_id"); id.is_string()) file.run_id = id.get<std::string>();
  if (const json& status = At(r, "status"); status.is_string()) file.status = status.get<std::string>();
  if (const json& from = At(At(r, "metadata"), "resumed_from"); from.is_string())
    file.resumed_from = from.get<std::string>();
  if (const json& requests = At(r, "requests"); requests.is_array()) {
    file.requests.reserve(requests.size());
    for (const json& q : requests) {
      const json& index = At(q, "request_index");
      if (!index.is_number_integer()) continue;
      const json& kind = At(q, "error_kind");
      file.requests.push_back({index.get<int64_t>(), kind.is_string() ? kind.get<std::string>() : ""});
    }
  }
  file.data = std::move(*read.data);
  out.file = std::move(file);
  return out;
}

namespace {

// One row per file, kept while the file is unchanged (same inode, size and modification time):
// ib-dash lists on every page load, and a 1 h run's file is tens of megabytes.
ListItem ListItemOf(const std::string& path) {
  struct Cached {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    ListItem item;
  };
  static std::mutex mu;
  static std::unordered_map<std::string, Cached> cache;
  struct stat st {};
  const bool stated = ::stat(path.c_str(), &st) == 0;
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (stated) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(path);
    if (it != cache.end() && it->second.dev == st.st_dev && it->second.ino == st.st_ino &&
        it->second.size == st.st_size && it->second.mtime_ns == mtime_ns) {
      return it->second.item;
    }
  }
  ListItem item;
  ResultsRead read = ReadResults(path, /*headers_only=*/true);
  if (read.file) {
    item = ItemFromResults(read.file->data, path);
  } else {
    item.error = read.error;
  }
  if (stated && S_ISREG(st.st_mode)) {
    std::lock_guard<std::mutex> lock(mu);
    if (cache.size() > 100000) cache.clear();  // bounded: a directory churned for days
    cache[path] = {st.st_dev, st.st_ino, st.st_size, mtime_ns, item};
  }
  return item;
}

}  // namespace

std::vector<ListItem> ListRuns(const std::string& dir) {
  std::vector<ListItem> items;
  std::vector<std::string> sort_keys;
  std::string real_dir = RealPath(dir);
  for (const std::string& stem : JsonStems(dir)) {
    std::string path = JoinPath(dir, stem + ".json");
    ListItem item;
    if (!IsSafeRunId(stem)) {
      item.error = "file name is not a valid run id";
    } else if (InsideDir(real_dir, path, &item.error)) {
      item = ListItemOf(path);
    }
    item.path = path;
    if (!item.readable) {
      item.run_id = stem;
      item.status = "unreadable";
    }
    items.push_back(std::move(item));
  }
  // Dated runs first, newest first; then the rest (unreadable files) by modification time.
  auto key = [](const ListItem& item) {
    if (item.started_at.is_string()) return "1" + item.started_at.get<std::string>();
    return "0" + MtimeIso(item.path);
  };
  std::vector<std::pair<std::string, std::size_t>> order;
  for (std::size_t i = 0; i < items.size(); ++i) order.emplace_back(key(items[i]), i);
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return items[a.second].run_id > items[b.second].run_id;
  });
  std::vector<ListItem> sorted;
  sorted.reserve(items.size());
  for (const auto& [k, i] : order) sorted.push_back(std::move(items[i]));
  return sorted;
}

FoundRun FindRun(const std::string& dir, const std::string& id_in) {
  FoundRun found;
  std::string id = EndsWith(id_in, ".json") ? id_in.substr(0, id_in.size() - 5) : id_in;
  if (!IsSafeRunId(id)) {
    found.status = FindStatus::kBadId;
    found.error = "invalid run id '" + id_in +
                  "': use letters, digits, '.', '_' and '-' only (no paths)";
    return found;
  }
  std::vector<std::string> stems = JsonStems(dir);
  std::vector<std::string> matches;
  std::vector<std::string> named;  // runs of the experiment called `id`; the newest wins
  for (const auto& stem : stems) {
    if (auto parts = runid::Parse(stem); parts && parts->name == id && IsSafeRunId(stem)) named.push_back(stem);
  }
  std::vector<std::string> by_inner_id;  // files named otherwise whose run_id is `id`
  if (std::find(stems.begin(), stems.end(), id) == stems.end()) {
    for (const auto& item : ListRuns(dir)) {
      if (item.readable && item.run_id == id) {
        std::string base = item.path.substr(item.path.rfind('/') + 1);  // npos + 1 == 0
        std::string stem = base.substr(0, base.size() - 5);              // minus ".json"
        if (IsSafeRunId(stem)) by_inner_id.push_back(stem);
      }
    }
  }
  if (std::find(stems.begin(), stems.end(), id) != stems.end()) {
    matches = {id};
    found.exact = true;
  } else if (!by_inner_id.empty()) {
    // The run id a listing shows opens that file, whatever its name (a copied-in smoke.json).
    matches = by_inner_id;
    found.exact = true;
  } else if (!named.empty()) {
    // Stamps sort as dates, so the greatest id is the newest run of that name.
    matches = {*std::max_element(named.begin(), named.end())};
  } else {
    for (const auto& stem : stems) {
      if (stem.find(id) != std::string::npos && IsSafeRunId(stem)) matches.push_back(stem);
    }
  }
  if (matches.empty()) {
    found.error = "No result found for '" + id + "' in " + dir;
    return found;
  }
  if (matches.size() > 1) {
    found.status = FindStatus::kAmbiguous;
    found.matches = matches;
    found.error = "Ambiguous run ID '" + id + "' — matches: ";
    for (std::size_t i = 0; i < matches.size(); ++i) found.error += (i ? ", " : "") + matches[i];
    return found;
  }
  found.run_id = matches[0];
  found.path = JoinPath(dir, matches[0] + ".json");
  std::string why;
  if (!InsideDir(RealPath(dir), found.path, &why)) {
    found.status = FindStatus::kUnreadable;
    found.error = found.path + ": " + why;
    return found;
  }
  found.status = FindStatus::kFound;
  return found;
}

FoundRun LoadRun(const std::string& dir, const std::string& id) {
  FoundRun found = FindRun(dir, id);
  if (!found.ok()) return found;
  ResultsRead read = ReadResults(found.path);
  if (!read.file) {
    found.status = FindStatus::kUnreadable;
    found.error = found.path + ": " + read.error;
    return found;
  }
  found.data = std::move(read.file->data);
  return found;
}

}  // namespace ib::results
