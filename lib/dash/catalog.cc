#include "lib/dash/catalog.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <variant>

#include "lib/config/config.h"
#include "lib/config/gpu_types.h"
#include "lib/dash/json_check.h"
#include "lib/dash/paths.h"
#include "lib/pricing/estimate.h"
#include "lib/pricing/pricing.h"
#include "lib/results/report.h"
#include "lib/results/store.h"

namespace ib::dash {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The pricing `ib-run --dry-run` would use, read once per listing; null with the reason when the
// user's pricing file is malformed (then no total is guessed).
struct Pricing {
  std::optional<pricing::PricingTable> table;
  std::string warning;
};

Pricing LoadPricing() {
  Pricing p;
  std::string error;
  p.table = pricing::LoadPricing(&error);
  p.warning = p.table ? pricing::StalenessWarning(*p.table, std::time(nullptr)) : error;
  return p;
}

json DescribeConfigPriced(const std::string& file, const std::string& path, const Pricing& prices) {
  json entry = {{"path", path},          {"name", nullptr},          {"description", nullptr},
                {"framework", nullptr},  {"model", nullptr},         {"provider", nullptr},
                {"gpu_type", nullptr},   {"gpu_count", nullptr},     {"workload_type", nullptr},
                {"iterations", nullptr}, {"total_requests", nullptr}, {"estimated_cost_usd", nullptr},
                {"cost_per_hr_usd", nullptr}, {"cost_estimate", nullptr},
                {"pricing_warning", nullptr}, {"errors", json::array()}};
  config::LoadResult loaded;
  try {
    loaded = config::LoadExperiment(file);
  } catch (const std::exception& e) {  // lib/config reports problems as diagnostics; be safe
    entry["errors"].push_back(std::string("cannot load: ") + e.what());
    return entry;
  }
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) entry["errors"].push_back(d.Format("ib-dash"));
    return entry;
  }
  const config::ExperimentConfig& c = *loaded.config;
  const auto& infra = c.infrastructure;
  entry["name"] = c.name;
  if (c.description) entry["description"] = *c.description;
  entry["framework"] = c.framework;
  entry["model"] = c.model.name;
  entry["provider"] = infra.provider;
  entry["gpu_type"] = infra.gpu_type;
  entry["gpu_count"] = infra.gpu_count;
  entry["workload_type"] = c.workload.type;
  auto iterations = config::ExpandSweep(c);
  entry["iterations"] = iterations.size();
  int64_t total = 0;
  for (const auto& it : iterations) total += it.config.TotalRequests();
  entry["total_requests"] = total;
  if (infra.provider != "runpod") {
    entry["estimated_cost_usd"] = 0.0;
    entry["cost_per_hr_usd"] = 0.0;
  } else if (prices.table) {
    auto estimate = pricing::EstimateCost(c, *prices.table);
    if (estimate.total_usd) entry["estimated_cost_usd"] = *estimate.total_usd;
    if (estimate.hourly_usd) entry["cost_per_hr_usd"] = *estimate.hourly_usd;
    entry["cost_estimate"] = estimate.Describe();
    if (!prices.warning.empty()) entry["pricing_warning"] = prices.warning;
  } else {
    entry["pricing_warning"] = prices.warning;
    if (const auto* gpu = config::FindGpuType(infra.gpu_type)) {  // at least the hourly rate
      double per_gpu = infra.cloud_type == "secure" ? gpu->secure_usd_per_hr : gpu->community_usd_per_hr;
      entry["cost_per_hr_usd"] = per_gpu * static_cast<double>(infra.gpu_count);
    }
  }
  return entry;
}

}  // namespace

json DescribeConfig(const std::string& file, const std::string& path) {
  return DescribeConfigPriced(file, path, LoadPricing());
}

json ListConfigs(const std::string& experiments_dir) {
  json out = json::array();
  std::string root = CanonicalDir(experiments_dir);
  if (root.empty()) return out;
  std::vector<std::string> relatives;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || !(name.ends_with(".yaml") || name.ends_with(".yml"))) continue;
    relatives.push_back(fs::relative(it->path(), root, ec).string());
  }
  std::sort(relatives.begin(), relatives.end());
  Pricing prices = LoadPricing();
  for (const auto& rel : relatives) {
    auto resolved = ResolveUnder(root, rel);  // drops odd names and symlinks out of the tree
    if (!std::holds_alternative<std::string>(resolved)) continue;
    json entry = DescribeConfigPriced(std::get<std::string>(resolved), "experiments/" + rel, prices);
    // experiments/base/ holds configs meant to be extended (their relative paths resolve from
    // the config that extends them), not experiments to start: listed as such, not "invalid".
    entry["base"] = rel.starts_with("base/");
    out.push_back(std::move(entry));
  }
  return out;
}

json ListResults(const std::string& results_dir) {
  json out = json::array();
  for (const auto& item : results::ListRuns(results_dir)) out.push_back(results::ToJson(item));
  return out;
}

namespace {
// One read into a buffer of the file's size (no stream copies of a 50 MB file).
bool ReadWholeFile(const std::string& path, std::string* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  out->resize(ec ? 0 : size);
  std::size_t got = out->empty() ? 0 : std::fread(out->data(), 1, out->size(), f);
  std::fclose(f);
  out->resize(got);
  return !ec && got == size;
}

// Results files are written once (atomically) and never rewritten, so a file's verdict holds
// while its inode, size and mtime do: a 100k-request run is validated once, not per load.
std::string CachedValidation(const std::string& path, const std::string& body) {
  struct Verdict {
    struct stat st;
    std::string error;
  };
  static std::mutex mu;
  static std::map<std::string, Verdict> cache;
  struct stat st{};
  bool stat_ok = ::stat(path.c_str(), &st) == 0;
  auto same = [&](const struct stat& a) {
    return a.st_dev == st.st_dev && a.st_ino == st.st_ino && a.st_size == st.st_size &&
           a.st_mtim.tv_sec == st.st_mtim.tv_sec && a.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
           static_cast<std::size_t>(st.st_size) == body.size();
  };
  if (stat_ok) {
    std::lock_guard lock(mu);
    if (auto it = cache.find(path); it != cache.end() && same(it->second.st)) return it->second.error;
  }
  std::string error = ResultsFileProblem(body);
  if (stat_ok) {
    std::lock_guard lock(mu);
    if (cache.size() >= 1024) cache.clear();
    cache[path] = {st, error};
  }
  return error;
}

}  // namespace

ResultFile ReadResultFile(const std::string& results_dir, const std::string& run_id) {
  auto error = [&](int status, const std::string& message) {
    return ResultFile{status, json{{"error", message}, {"run_id", run_id}}.dump(), ""};
  };
  if (!IsValidRunId(run_id)) return error(400, "bad run id");
  // ib-results' lookup, exact matches only: a listed run opens whatever its file is called.
  results::FoundRun found = results::FindRun(results_dir, run_id);
  if (!found.ok() || !found.exact) return error(404, "no run " + run_id);
  auto resolved = ResolveUnder(results_dir, found.run_id + ".json");
  if (auto* e = std::get_if<ResolveError>(&resolved)) return error(404, "no run " + run_id);
  const std::string& path = std::get<std::string>(resolved);
  std::string body;
  if (!ReadWholeFile(path, &body)) return error(500, "cannot read " + run_id);
  // ib's own files are strict JSON: serve their bytes once checked. The original tool's may
  // hold NaN. A corrupt or truncated file is never served raw: 422 says what is wrong with it.
  if (body.find("NaN") != std::string::npos || body.find("Infinity") != std::string::npos) {
    auto read = results::ReadResults(path);
    if (read.file && read.file->run_id.empty()) read.error = "no run_id";
    if (!read.file || !read.error.empty()) {
      return error(422, "results file " + found.run_id + ".json is unreadable: " + read.error);
    }
    body = read.file->data.dump(-1, ' ', false, json::error_handler_t::replace);
  } else if (std::string why = CachedValidation(path, body); !why.empty()) {
    return error(422, "results file " + found.run_id + ".json is unreadable: " + why);
  }
  struct stat st{};
  std::string identity;
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) == body.size()) {
    identity = path + ":" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
               std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec);
  }
  return {200, std::move(body), path, identity};
}

CompareReply CompareRuns(const std::string& results_dir, std::string_view ids) {
  std::vector<std::string> list;
  for (std::size_t start = 0; start <= ids.size();) {
    std::size_t comma = ids.find(',', start);
    if (comma == std::string_view::npos) comma = ids.size();
    list.emplace_back(ids.substr(start, comma - start));
    start = comma + 1;
  }
  auto error = [](int status, const std::string& message) {
    return CompareReply{status, json{{"error", message}}.dump()};
  };
  if (list.size() < 2 || list.size() > 16) return error(400, "compare takes 2 to 16 run ids, comma-separated");
  std::vector<json> runs;
  for (const auto& id : list) {
    ResultFile file = ReadResultFile(results_dir, id);  // the same lookup and checks as History
    if (file.status != 200) return {file.status, file.body};
    json j = json::parse(file.body, nullptr, false);
    if (j.is_discarded()) return error(422, "results file " + id + " is unreadable");
    runs.push_back(std::move(j));
  }
  return {200, results::Compare(runs).dump(-1, ' ', false, json::error_handler_t::replace)};
}

}  // namespace ib::dash
