#include "lib/pricing/pricing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/appconfig/appconfig.h"
#include "lib/config/gpu_types.h"
#include "lib/http/http.h"

namespace ib::pricing {
namespace {

// Days since 1970-01-01 of a YYYY-MM-DD date; nullopt when malformed.
std::optional<int64_t> DaysSinceEpoch(const std::string& date) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (date.size() != 10 || std::sscanf(date.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
      m < 1 || m > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  return static_cast<int64_t>(timegm(&tm) / 86400);
}

std::string DateOf(std::time_t now) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::optional<double> PriceOf(const nlohmann::json& gpu, const char* alias) {
  auto it = gpu.find(alias);
  if (it == gpu.end() || !it->is_object()) return std::nullopt;
  auto p = it->find("uninterruptablePrice");
  if (p == it->end() || !p->is_number() || p->get<double>() <= 0) return std::nullopt;
  return p->get<double>();
}

}  // namespace

const GpuPrice* PricingTable::Find(const std::string& key_or_id) const {
  for (const auto& g : gpus) {
    if (g.key == key_or_id) return &g;
  }
  for (const auto& g : gpus) {
    if (g.gpu_type_id == key_or_id) return &g;
  }
  return nullptr;
}

std::vector<std::string> PricingTable::Keys() const {
  std::vector<std::string> keys;
  for (const auto& g : gpus) keys.push_back(g.key);
  return keys;
}

PricingTable BuiltinPricing() {
  // One source of truth for the built-in table: the GPU types configs may name (lib/config).
  PricingTable t;
  t.updated = ib::config::kBuiltinPricingDate;
  t.source = "built-in";
  for (const auto& g : ib::config::GpuTypes()) {
    t.gpus.push_back({g.key, g.runpod_id, g.community_usd_per_hr, g.secure_usd_per_hr,
                      g.memory_gb > 0 ? std::optional<int64_t>(g.memory_gb) : std::nullopt});
  }
  return t;
}

std::string PricingPath() { return ib::appconfig::ConfigDir() + "/pricing.json"; }

std::optional<PricingTable> LoadPricingFile(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot read the file";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto json = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    *error = path + ": not valid JSON (delete it or run ib-run update-pricing)";
    return std::nullopt;
  }
  std::string why;
  auto table = FromJson(json, &why);
  if (!table) {
    *error = path + ": " + why;
    return std::nullopt;
  }
  table->source = path;
  return table;
}

std::optional<PricingTable> LoadPricing(std::string* error) {
  struct stat st{};
  std::string path = PricingPath();
  if (::stat(path.c_str(), &st) == 0) return LoadPricingFile(path, error);
  return BuiltinPricing();
}

nlohmann::json ToJson(const PricingTable& table) {
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& g : table.gpus) {
    nlohmann::json j = {{"key", g.key},
                        {"gpu_type_id", g.gpu_type_id},
                        {"community_per_hr", g.community_per_hr},
                        {"secure_per_hr", g.secure_per_hr}};
    if (g.memory_gb) j["memory_gb"] = *g.memory_gb;
    gpus.push_back(j);
  }
  return {{"updated", table.updated}, {"gpus", gpus}};
}

std::optional<PricingTable> FromJson(const nlohmann::json& json, std::string* error) {
  if (!json.is_object() || !json.contains("updated") || !json["updated"].is_string() ||
      !json.contains("gpus") || !json["gpus"].is_array()) {
    *error = "expected {\"updated\": \"YYYY-MM-DD\", \"gpus\": [...]}";
    return std::nullopt;
  }
  PricingTable t;
  t.updated = json["updated"].get<std::string>();
  if (!DaysSinceEpoch(t.updated)) {
    *error = "'updated' is not a YYYY-MM-DD date: " + t.updated;
    return std::nullopt;
  }
  for (std::size_t i = 0; i < json["gpus"].size(); ++i) {
    const auto& g = json["gpus"][i];
    std::string where = "gpus[" + std::to_string(i) + "]";
    if (!g.is_object() || !g.contains("key") || !g["key"].is_string() ||
        !g.contains("gpu_type_id") || !g["gpu_type_id"].is_string()) {
      *error = where + ": needs string 'key' and 'gpu_type_id'";
      return std::nullopt;
    }
    GpuPrice p;
    p.key = g["key"].get<std::string>();
    p.gpu_type_id = g["gpu_type_id"].get<std::string>();
    for (auto [name, out] : {std::pair{"community_per_hr", &p.community_per_hr},
                             std::pair{"secure_per_hr", &p.secure_per_hr}}) {
      if (!g.contains(name)) continue;
      if (!g[name].is_number() || g[name].get<double>() < 0) {
        *error = where + ": '" + name + "' must be a number >= 0";
        return std::nullopt;
      }
      *out = g[name].get<double>();
    }
    if (g.contains("memory_gb") && g["memory_gb"].is_number_integer()) {
      p.memory_gb = g["memory_gb"].get<int64_t>();
    }
    t.gpus.push_back(p);
  }
  return t;
}

bool SavePricing(const PricingTable& table, const std::string& path, std::string* error) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    out << ToJson(table).dump(2) << "\n";
    if (!out) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      return false;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

int AgeDays(const PricingTable& table, std::time_t now) {
  auto then = DaysSinceEpoch(table.updated);
  if (!then) return -1;
  return static_cast<int>(static_cast<int64_t>(now / 86400) - *then);
}

std::string StalenessWarning(const PricingTable& table, std::time_t now) {
  int age = AgeDays(table, now);
  if (age >= 0 && age <= kStaleAfterDays) return "";
  std::string age_text = age < 0 ? "of unknown age" : std::to_string(age) + " days old";
  return "GPU pricing data is " + age_text + " (updated " + table.updated +
         "); costs may be inaccurate. Run: ib-run update-pricing";
}

std::optional<double> HourlyRate(const PricingTable& table, const std::string& gpu,
                                 int64_t count, const std::string& cloud_type) {
  const GpuPrice* p = table.Find(gpu);
  if (p == nullptr || count < 1) return std::nullopt;
  double rate = cloud_type == "secure" ? p->secure_per_hr : p->community_per_hr;
  if (rate <= 0) return std::nullopt;
  return rate * static_cast<double>(count);
}

std::string DefaultGraphqlUrl() {
  const char* env = std::getenv("IB_RUNPOD_GRAPHQL_URL");
  return env && *env ? env : "https://api.runpod.io/graphql";
}

std::string GpuTypesQuery() {
  // Aliases ask lowestPrice twice, once per tier (the field takes gpuCount and secureCloud).
  return "query { gpuTypes { id displayName memoryInGb "
         "community: lowestPrice(input: {gpuCount: 1, secureCloud: false}) { uninterruptablePrice } "
         "secure: lowestPrice(input: {gpuCount: 1, secureCloud: true}) { uninterruptablePrice } } }";
}

std::optional<UpdateResult> MergeGpuTypes(const nlohmann::json& body, const PricingTable& current,
                                          std::time_t now, std::string* error) {
  if (body.is_object() && body.contains("errors") && body["errors"].is_array() &&
      !body["errors"].empty()) {
    const auto& first = body["errors"][0];
    *error = "RunPod GraphQL error: " +
             (first.is_object() && first.contains("message") && first["message"].is_string()
                  ? first["message"].get<std::string>()
                  : first.dump());
    return std::nullopt;
  }
  if (!body.is_object() || !body.contains("data") || !body["data"].is_object() ||
      !body["data"].contains("gpuTypes") || !body["data"]["gpuTypes"].is_array()) {
    *error = "unexpected GraphQL answer: no data.gpuTypes array";
    return std::nullopt;
  }
  UpdateResult result;
  result.table = current;
  result.table.updated = DateOf(now);
  std::vector<bool> seen(current.gpus.size(), false);
  for (const auto& g : body["data"]["gpuTypes"]) {
    if (!g.is_object() || !g.contains("id") || !g["id"].is_string()) continue;
    std::string id = g["id"].get<std::string>();
    auto community = PriceOf(g, "community");
    auto secure = PriceOf(g, "secure");
    std::optional<int64_t> memory;
    if (g.contains("memoryInGb") && g["memoryInGb"].is_number_integer()) {
      memory = g["memoryInGb"].get<int64_t>();
    }
    bool matched = false;
    for (std::size_t i = 0; i < result.table.gpus.size(); ++i) {
      GpuPrice& row = result.table.gpus[i];
      if (row.gpu_type_id != id) continue;
      matched = true;
      if (i < seen.size()) seen[i] = true;
      if (community) row.community_per_hr = *community;
      if (secure) row.secure_per_hr = *secure;
      if (memory) row.memory_gb = memory;
      if (community || secure) {
        ++result.updated;
      } else {
        result.unpriced.push_back(row.key);
      }
    }
    if (matched || (!community && !secure)) continue;
    std::string key = g.contains("displayName") && g["displayName"].is_string()
                          ? g["displayName"].get<std::string>()
                          : id;
    if (result.table.Find(key) != nullptr) key = id;
    result.table.gpus.push_back({key, id, community.value_or(0), secure.value_or(0), memory});
    ++result.added;
  }
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) result.unpriced.push_back(current.gpus[i].key);
  }
  return result;
}

std::optional<UpdateResult> FetchPricing(const std::string& graphql_url, const std::string& api_key,
                                         const PricingTable& current, std::time_t now,
                                         std::string* error) {
  ib::http::Request req;
  req.method = "POST";
  req.url = graphql_url;
  req.headers = {{"Authorization", "Bearer " + api_key}, {"Content-Type", "application/json"}};
  req.body = nlohmann::json{{"query", GpuTypesQuery()}}.dump();
  req.timeout_ms = 30000;
  ib::http::Response resp = ib::http::Send(req);
  if (!resp.error.empty()) {
    *error = "cannot reach " + graphql_url + ": " + resp.error;
    return std::nullopt;
  }
  if (resp.status == 401 || resp.status == 403) {
    *error = "RunPod rejected the API key (HTTP " + std::to_string(resp.status) + ")";
    return std::nullopt;
  }
  if (resp.status < 200 || resp.status >= 300) {
    *error = graphql_url + " answered HTTP " + std::to_string(resp.status) + ": " +
             resp.body.substr(0, 200);
    return std::nullopt;
  }
  auto body = nlohmann::json::parse(resp.body, nullptr, false);
  if (body.is_discarded()) {
    *error = graphql_url + " answered with a body that is not JSON";
    return std::nullopt;
  }
  return MergeGpuTypes(body, current, now, error);
}

}  // namespace ib::pricing
