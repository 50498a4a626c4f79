#include "lib/pricing/pricing.h"

#include <civetweb.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace ib::pricing {
namespace {

std::time_t Date(int y, int m, int d) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  tm.tm_hour = 12;
  return timegm(&tm);
}

TEST(PricingTest, BuiltinTableIsTheOriginals) {
  PricingTable t = BuiltinPricing();
  EXPECT_EQ(t.updated, "2026-02-11");
  EXPECT_EQ(t.gpus.size(), 8u);
  ASSERT_NE(t.Find("A100-80GB"), nullptr);
  EXPECT_EQ(t.Find("A100-80GB")->gpu_type_id, "NVIDIA A100 80GB PCIe");
  EXPECT_EQ(t.Find("NVIDIA RTX 4000 Ada Generation")->key, "RTX 4000 Ada");
  EXPECT_EQ(t.Find("a100-80gb"), nullptr);  // keys are case-sensitive, as in the original
}

TEST(PricingTest, HourlyRateMultipliesByCountAndTier) {
  PricingTable t = BuiltinPricing();
  EXPECT_DOUBLE_EQ(*HourlyRate(t, "A100-80GB", 1, "community"), 1.99);
  EXPECT_DOUBLE_EQ(*HourlyRate(t, "A100-80GB", 2, "secure"), 6.58);
  EXPECT_FALSE(HourlyRate(t, "TPU", 1, "community"));
  EXPECT_FALSE(HourlyRate(t, "A100-80GB", 0, "community"));
}

TEST(PricingTest, StalenessAfterThirtyDays) {
  PricingTable t = BuiltinPricing();
  EXPECT_EQ(AgeDays(t, Date(2026, 2, 11)), 0);
  EXPECT_EQ(AgeDays(t, Date(2026, 3, 13)), 30);
  EXPECT_EQ(StalenessWarning(t, Date(2026, 3, 13)), "");
  std::string w = StalenessWarning(t, Date(2026, 3, 14));
  EXPECT_NE(w.find("31 days old"), std::string::npos) << w;
  EXPECT_NE(w.find("ib-run update-pricing"), std::string::npos);
  t.updated = "someday";
  EXPECT_EQ(AgeDays(t, Date(2026, 3, 14)), -1);
  EXPECT_NE(StalenessWarning(t, Date(2026, 3, 14)).find("unknown age"), std::string::npos);
}

TEST(PricingTest, JsonRoundTripAndFileErrors) {
  std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string path = dir + "/pricing.json";
  std::string error;
  ASSERT_TRUE(SavePricing(BuiltinPricing(), path, &error)) << error;
  auto loaded = LoadPricingFile(path, &error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(loaded->source, path);
  EXPECT_EQ(ToJson(*loaded), ToJson(BuiltinPricing()));

  std::ofstream(path) << "{not json";
  EXPECT_FALSE(LoadPricingFile(path, &error));
  EXPECT_NE(error.find("not valid JSON"), std::string::npos);
  std::ofstream(path) << R"({"updated":"2026-13-01","gpus":[]})";
  EXPECT_FALSE(LoadPricingFile(path, &error));
  EXPECT_NE(error.find("not a YYYY-MM-DD date"), std::string::npos);
  std::ofstream(path) << R"({"updated":"2026-01-01","gpus":[{"key":"X","gpu_type_id":"Y","community_per_hr":"1"}]})";
  EXPECT_FALSE(LoadPricingFile(path, &error));
  EXPECT_NE(error.find("gpus[0]: 'community_per_hr' must be a number"), std::string::npos);
  std::ofstream(path) << R"({"gpus":[]})";
  EXPECT_FALSE(LoadPricingFile(path, &error));
  EXPECT_FALSE(LoadPricingFile(dir + "/missing.json", &error));
  EXPECT_NE(error.find("cannot read"), std::string::npos);
}

TEST(PricingTest, LoadPricingPrefersTheUpdatedFile) {
  std::string home = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") + "/home-pricing";
  setenv("XDG_CONFIG_HOME", home.c_str(), 1);
  std::string error;
  auto t = LoadPricing(&error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->source, "built-in");
  ::mkdir(home.c_str(), 0700);
  ::mkdir((home + "/ib").c_str(), 0700);
  PricingTable mine = BuiltinPricing();
  mine.updated = "2026-11-01";
  ASSERT_TRUE(SavePricing(mine, PricingPath(), &error)) << error;
  t = LoadPricing(&error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->updated, "2026-11-01");
  EXPECT_EQ(t->source, PricingPath());
  unsetenv("XDG_CONFIG_HOME");
}

const char* kAnswer = R"({"data":{"gpuTypes":[
  {"id":"NVIDIA A100 80GB PCIe","displayName":"A100 PCIe","memoryInGb":80,
   "community":{"uninterruptablePrice":1.64},"secure":{"uninterruptablePrice":2.72}},
  {"id":"NVIDIA GeForce RTX 4090","displayName":"RTX 4090","memoryInGb":24,
   "community":null,"secure":{"uninterruptablePrice":null}},
  {"id":"NVIDIA B200","displayName":"B200","memoryInGb":180,
   "community":null,"secure":{"uninterruptablePrice":5.99}},
  {"id":"NVIDIA GeForce RTX 3070","displayName":"RTX 3070","memoryInGb":8}
]}})";

TEST(PricingTest, MergeUpdatesKnownAddsNewKeepsUnpriced) {
  std::string error;
  auto r = MergeGpuTypes(nlohmann::json::parse(kAnswer), BuiltinPricing(), Date(2026, 11, 28), &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->table.updated, "2026-11-28");
  EXPECT_EQ(r->updated, 1);
  EXPECT_EQ(r->added, 1);
  EXPECT_DOUBLE_EQ(r->table.Find("A100-80GB")->community_per_hr, 1.64);
  EXPECT_DOUBLE_EQ(r->table.Find("A100-80GB")->secure_per_hr, 2.72);
  EXPECT_DOUBLE_EQ(r->table.Find("RTX 4090")->community_per_hr, 0.69);  // kept
  ASSERT_NE(r->table.Find("B200"), nullptr);
  EXPECT_EQ(r->table.Find("B200")->gpu_type_id, "NVIDIA B200");
  EXPECT_FALSE(HourlyRate(r->table, "B200", 1, "community"));
  EXPECT_EQ(r->table.Find("RTX 3070"), nullptr);  // no price at all: not added
  // RTX 4090 came back without prices; the six GPUs not returned are unpriced too.
  EXPECT_EQ(r->unpriced.size(), 7u);
}

TEST(PricingTest, MergeReportsGraphqlErrorsAndOddShapes) {
  std::string error;
  EXPECT_FALSE(MergeGpuTypes(nlohmann::json::parse(R"({"errors":[{"message":"boom"}]})"),
                             BuiltinPricing(), 0, &error));
  EXPECT_EQ(error, "RunPod GraphQL error: boom");
  EXPECT_FALSE(MergeGpuTypes(nlohmann::json::parse(R"({"data":{}})"), BuiltinPricing(), 0, &error));
  EXPECT_NE(error.find("no data.gpuTypes"), std::string::npos);
}

// A real local GraphQL endpoint: answers by path.
int GraphqlHandler(mg_connection* conn, void*) {
  const mg_request_info* info = mg_get_request_info(conn);
  std::string uri = info->local_uri;
  char buf[4096];
  std::string body;
  int n;
  while ((n = mg_read(conn, buf, sizeof buf)) > 0) body.append(buf, n);
  const char* auth = mg_get_header(conn, "Authorization");
  std::string out;
  int status = 200;
  if (uri == "/ok") {
    auto q = nlohmann::json::parse(body, nullptr, false);
    bool good = !q.is_discarded() && q.value("query", "") == GpuTypesQuery() && auth &&
                std::string(auth) == "Bearer sekret-key";
    out = good ? kAnswer : R"({"errors":[{"message":"bad request"}]})";
  } else if (uri == "/401") {
    status = 401;
    out = R"({"message":"unauthorized"})";
  } else if (uri == "/500") {
    status = 500;
    out = "oops";
  } else {
    out = "<html>";
  }
  mg_printf(conn, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            status, out.size());
  mg_write(conn, out.data(), out.size());
  return status;
}

TEST(PricingTest, FetchAgainstALocalServer) {
  const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "2", nullptr};
  mg_context* ctx = mg_start(nullptr, nullptr, options);
  ASSERT_NE(ctx, nullptr);
  mg_set_request_handler(ctx, "/", GraphqlHandler, nullptr);
  mg_server_port ports[1];
  ASSERT_EQ(mg_get_server_ports(ctx, 1, ports), 1);
  std::string base = "http://127.0.0.1:" + std::to_string(ports[0].port);
  std::string error;
  auto r = FetchPricing(base + "/ok", "sekret-key", BuiltinPricing(), Date(2026, 11, 28), &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->updated, 1);
  EXPECT_FALSE(FetchPricing(base + "/401", "sekret-key", BuiltinPricing(), 0, &error));
  EXPECT_NE(error.find("rejected the API key"), std::string::npos);
  EXPECT_EQ(error.find("sekret"), std::string::npos);
  EXPECT_FALSE(FetchPricing(base + "/500", "sekret-key", BuiltinPricing(), 0, &error));
  EXPECT_NE(error.find("HTTP 500"), std::string::npos);
  EXPECT_FALSE(FetchPricing(base + "/html", "sekret-key", BuiltinPricing(), 0, &error));
  EXPECT_NE(error.find("not JSON"), std::string::npos);
  mg_stop(ctx);
  // Nothing listens any more.
  EXPECT_FALSE(FetchPricing(base + "/ok", "sekret-key", BuiltinPricing(), 0, &error));
  EXPECT_NE(error.find("cannot reach"), std::string::npos);
}

}  // namespace
}  // namespace ib::pricing
