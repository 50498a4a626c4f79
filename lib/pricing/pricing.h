// GPU prices per hour, with the date they were last refreshed. The built-in table is the
// original tool's (dated 2026-02-11, keys such as "A100-80GB" that experiment configs use in
// infrastructure.gpu_type); `ib-run update-pricing` refreshes it from RunPod's GraphQL
// gpuTypes API into ~/.config/ib/pricing.json, which then wins over the built-in table.
//
//   std::string error;
//   auto table = ib::pricing::LoadPricing(&error);
//   std::string warning = ib::pricing::StalenessWarning(*table, std::time(nullptr));
//   auto rate = ib::pricing::HourlyRate(*table, "A100-80GB", 2, "community");  // $/hr for both GPUs
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::pricing {

inline constexpr int kStaleAfterDays = 30;

struct GpuPrice {
  std::string key;            // what configs write: "A100-80GB", "RTX 4090"
  std::string gpu_type_id;    // RunPod's id: "NVIDIA A100 80GB PCIe"
  double community_per_hr = 0;  // one GPU, on-demand; 0 when unknown/unavailable
  double secure_per_hr = 0;
  std::optional<int64_t> memory_gb;
};

struct PricingTable {
  std::string updated;  // YYYY-MM-DD
  std::string source;   // "built-in" or the file it was read from
  std::vector<GpuPrice> gpus;
  // By key first, then by RunPod gpu_type_id. nullptr when unknown.
  const GpuPrice* Find(const std::string& key_or_id) const;
  std::vector<std::string> Keys() const;
};

PricingTable BuiltinPricing();
// ConfigDir()/pricing.json (lib/appconfig).
std::string PricingPath();
// PricingPath() when it exists (an error if it is malformed), else BuiltinPricing().
std::optional<PricingTable> LoadPricing(std::string* error);
std::optional<PricingTable> LoadPricingFile(const std::string& path, std::string* error);

// {"updated":"2026-02-11","gpus":[{"key","gpu_type_id","community_per_hr","secure_per_hr","memory_gb"}]}
nlohmann::json ToJson(const PricingTable& table);
std::optional<PricingTable> FromJson(const nlohmann::json& json, std::string* error);
// Atomic (temp file + rename).
bool SavePricing(const PricingTable& table, const std::string& path, std::string* error);

// Whole days between `updated` and now (UTC); -1 if `updated` is not a valid date.
int AgeDays(const PricingTable& table, std::time_t now);
// "GPU pricing data is N days old (updated D); costs may be inaccurate. Run: ib-run
// update-pricing" when older than kStaleAfterDays (or undated); empty otherwise.
std::string StalenessWarning(const PricingTable& table, std::time_t now);

// Price per hour of `count` GPUs of this type in "community" or "secure" cloud; nullopt when the
// GPU is unknown or has no price in that tier.
std::optional<double> HourlyRate(const PricingTable& table, const std::string& gpu,
                                 int64_t count, const std::string& cloud_type);

// ---- update-pricing ----
// $IB_RUNPOD_GRAPHQL_URL, else https://api.runpod.io/graphql.
std::string DefaultGraphqlUrl();
// The GraphQL query sent: every GPU type with its lowest on-demand price for 1 GPU in each tier.
std::string GpuTypesQuery();

struct UpdateResult {
  PricingTable table;  // dated `now`
  int updated = 0;     // known rows whose prices came back
  int added = 0;       // new GPU types (keyed by RunPod's displayName)
  std::vector<std::string> unpriced;  // known keys RunPod returned no price for (kept as they were)
};
// POSTs GpuTypesQuery() with the bearer key and merges the answer into `current`. Errors: a
// transport failure, HTTP 401 (bad key), other non-2xx, a GraphQL `errors` array, or a body
// without data.gpuTypes. Never includes the key in *error.
std::optional<UpdateResult> FetchPricing(const std::string& graphql_url, const std::string& api_key,
                                         const PricingTable& current, std::time_t now,
                                         std::string* error);
// Merges a parsed GraphQL response body (exposed for tests).
std::optional<UpdateResult> MergeGpuTypes(const nlohmann::json& body, const PricingTable& current,
                                          std::time_t now, std::string* error);

}  // namespace ib::pricing
