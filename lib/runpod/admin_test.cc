#include "lib/runpod/admin.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <gtest/gtest.h>

#include "lib/pricing/pricing.h"
#include "lib/runpod/launch.h"
#include "tests/fake_runpod/fake_runpod.h"

namespace ib::runpod {
namespace {

using ib::fake_runpod::FakeRunPod;

class AdminTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    ib::fake_runpod::Options o;
    o.running_after_ms = 0;
    fake_ = new FakeRunPod(o);
    std::string error;
    ASSERT_TRUE(fake_->Start(&error)) << error;
  }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    fake_->ClearFaults();
    const char* tmp = std::getenv("TEST_TMPDIR");
    home_ = std::string(tmp ? tmp : "/tmp") + "/admin-" + testing::UnitTest::GetInstance()->current_test_info()->name();
    ::mkdir(home_.c_str(), 0700);
    setenv("HOME", home_.c_str(), 1);
    unsetenv("XDG_CONFIG_HOME");
    setenv("RUNPOD_API_KEY", "test-key", 1);
    options_.api_base = fake_->ApiBase();
    options_.graphql_url = fake_->GraphqlUrl();
    options_.backoff_ms = 10;
    // Leave nothing from an earlier test alive.
    std::ostringstream out, err;
    Client c(ClientOptionsFor("test-key"));
    std::vector<Pod> pods;
    ApiError api;
    if (c.ListPods(&pods, &api)) {
      for (const auto& p : pods) c.DeletePod(p.id, &api);
    }
  }
  ClientOptions ClientOptionsFor(const std::string& key) {
    ClientOptions c;
    c.api_base = fake_->ApiBase();
    c.api_key = key;
    c.backoff_ms = 10;
    return c;
  }
  // Creates a pod the way ib-provision does, with the given owner.
  std::string MakePod(const std::string& run_id, const std::string& host, int64_t pid, bool keep = false,
                      const std::string& name_override = "") {
    LaunchSpec s;
    s.run_id = run_id;
    s.framework = "vllm";
    s.model = "Qwen/Qwen3-0.6B";
    s.gpu_type_id = "NVIDIA A100 80GB PCIe";
    s.owner_host = host;
    s.owner_pid = pid;
    s.keep = keep;
    nlohmann::json body;
    std::string error;
    EXPECT_TRUE(BuildCreateBody(s, &body, &error));
    if (!name_override.empty()) body["name"] = name_override;
    Client c(ClientOptionsFor("test-key"));
    Pod pod;
    ApiError api;
    EXPECT_TRUE(c.CreatePod(body, &pod, &api)) << api.message;
    return pod.id;
  }
  static FakeRunPod* fake_;
  std::string home_;
  AdminOptions options_;
};
FakeRunPod* AdminTest::fake_ = nullptr;

TEST_F(AdminTest, StatusListsIbPodsWithAgeAndCost) {
  std::ostringstream out, err;
  EXPECT_EQ(CmdServerStatus(options_, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "No ib pods running.\n");
  MakePod("status-1", HostName(), 999999999);
  MakePod("ignored", "", 0, false, "someone-elses-pod");
  out.str("");
  options_.now = std::time(nullptr) + 3600;  // an hour later
  EXPECT_EQ(CmdServerStatus(options_, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("ib-status-1"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("someone-elses-pod"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("$0.74"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("ORPHAN"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("1h00m"), std::string::npos) << out.str();
}

TEST_F(AdminTest, OrphansAreOnlyPodsNobodyHolds) {
  std::string mine_dead = MakePod("dead-owner", HostName(), 999999999);
  std::string no_owner = MakePod("no-owner", "", 0);
  std::string kept = MakePod("kept", HostName(), 999999999, /*keep=*/true);
  std::string other_host = MakePod("other-host", "some-other-machine", 1);
  std::string alive = MakePod("alive-but-not-ib-provision", HostName(), ::getpid());
  std::ostringstream out, err;
  EXPECT_EQ(CmdServerStopOrphans(options_, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("3 orphan pod(s) terminated"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("kept on purpose"), std::string::npos);
  EXPECT_NE(out.str().find("owned by some-other-machine:1"), std::string::npos);
  Client c(ClientOptionsFor("test-key"));
  Pod pod;
  ApiError api;
  EXPECT_FALSE(c.GetPod(mine_dead, &pod, &api));
  EXPECT_FALSE(c.GetPod(no_owner, &pod, &api));
  // This test binary's pid is alive but is not an ib-provision: a recycled pid is no owner.
  EXPECT_FALSE(c.GetPod(alive, &pod, &api));
  EXPECT_TRUE(c.GetPod(kept, &pod, &api));
  EXPECT_TRUE(c.GetPod(other_host, &pod, &api));
}

TEST_F(AdminTest, StopById) {
  std::string id = MakePod("stop-me", HostName(), 1);
  std::ostringstream out, err;
  EXPECT_EQ(CmdServerStop(options_, id, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("Terminated pod " + id + " (ib-stop-me)"), std::string::npos);
  EXPECT_EQ(CmdServerStop(options_, id, out, err), 1);
  EXPECT_NE(err.str().find("ib-run: error: no pod " + id), std::string::npos) << err.str();
  fake_->AddFault("delete", ib::fake_runpod::Fault{"500", -1});
  id = MakePod("stuck", HostName(), 1);
  std::ostringstream out2, err2;
  EXPECT_EQ(CmdServerStop(options_, id, out2, err2), 1);
  EXPECT_NE(err2.str().find("MANUAL ACTION REQUIRED"), std::string::npos) << err2.str();
}

TEST_F(AdminTest, NoKeyMeansExit2AndAHint) {
  unsetenv("RUNPOD_API_KEY");
  std::ostringstream out, err;
  EXPECT_EQ(CmdServerStatus(options_, out, err), 2);
  EXPECT_EQ(err.str().rfind("ib-run: error: No RunPod API key found", 0), 0u) << err.str();
  std::ostringstream out2, err2;
  EXPECT_EQ(CmdUpdatePricing(options_, out2, err2), 2);
  EXPECT_EQ(err2.str().rfind("ib-run: error: ", 0), 0u) << err2.str();
  EXPECT_EQ(CmdDoctor(options_, out, err), 1);
  EXPECT_NE(out.str().find("FAIL No RunPod API key found"), std::string::npos) << out.str();
}

TEST_F(AdminTest, DoctorChecksKeyPricingApiAndPods) {
  std::ostringstream out, err;
  options_.now = std::time(nullptr);
  EXPECT_EQ(CmdDoctor(options_, out, err), 0) << out.str();
  EXPECT_NE(out.str().find("OK   RunPod API key (from env RUNPOD_API_KEY)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("WARN GPU pricing data is"), std::string::npos) << out.str();  // built-in is old
  EXPECT_NE(out.str().find("OK   RunPod API reachable"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("OK   no ib pods running"), std::string::npos) << out.str();
  MakePod("doctor", HostName(), 1);
  setenv("RUNPOD_API_KEY", "wrong", 1);
  std::ostringstream out2;
  EXPECT_EQ(CmdDoctor(options_, out2, err), 1);
  EXPECT_NE(out2.str().find("FAIL RunPod rejected the API key"), std::string::npos) << out2.str();
  setenv("RUNPOD_API_KEY", "test-key", 1);
  std::ostringstream out3;
  EXPECT_EQ(CmdDoctor(options_, out3, err), 0);
  EXPECT_NE(out3.str().find("WARN 1 ib pod(s) running"), std::string::npos) << out3.str();
  AdminOptions unreachable = options_;
  unreachable.api_base = "http://127.0.0.1:1/v1";
  std::ostringstream out4;
  EXPECT_EQ(CmdDoctor(unreachable, out4, err), 0);
  EXPECT_NE(out4.str().find("WARN RunPod API not reachable"), std::string::npos) << out4.str();
}

TEST_F(AdminTest, UpdatePricingWritesADatedFileThatLoadPricingThenUses) {
  std::ostringstream out, err;
  options_.now = std::time(nullptr);
  ASSERT_EQ(CmdUpdatePricing(options_, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("Updated 2 GPU price(s), added 1 new type(s)"), std::string::npos) << out.str();
  std::string error;
  auto table = ib::pricing::LoadPricing(&error);
  ASSERT_TRUE(table) << error;
  EXPECT_EQ(table->source, ib::pricing::PricingPath());
  EXPECT_EQ(ib::pricing::AgeDays(*table, options_.now), 0);
  EXPECT_DOUBLE_EQ(table->Find("A100-80GB")->community_per_hr, 1.64);
  std::ostringstream out2;
  EXPECT_EQ(CmdDoctor(options_, out2, err), 0);
  EXPECT_NE(out2.str().find("OK   GPU pricing data (0 days old"), std::string::npos) << out2.str();
  fake_->AddFault("graphql", ib::fake_runpod::Fault{"500", 1});
  std::ostringstream err2;
  EXPECT_EQ(CmdUpdatePricing(options_, out, err2), 1);
  EXPECT_NE(err2.str().find("HTTP 500"), std::string::npos) << err2.str();
}

}  // namespace
}  // namespace ib::runpod
