// ib-provision end to end: the real binary against the fake RunPod API, whose pods are real
// ib-sim processes. After every scenario the fake's ledger must show every created pod deleted.
#include <signal.h>

#include <gtest/gtest.h>

#include "lib/runpod/admin.h"
#include "tests/provision/harness.h"

namespace ib::provision_test {
namespace {

constexpr int kLong = 60000;  // generous bound for each wait on a loaded 2-core machine

class ProvisionE2E : public testing::Test {
 protected:
  void Begin(const std::vector<std::string>& fake_flags, const std::vector<std::string>& provision_flags = {},
             const std::string& framework = "vllm") {
    dir_ = MakeWorkDir(testing::UnitTest::GetInstance()->current_test_info()->name(), framework);
    std::string error;
    ASSERT_TRUE(api_.Start(dir_, fake_flags, &error)) << error;
    ASSERT_TRUE(prov_.Start(dir_, api_, provision_flags, &error)) << error;
  }
  // Every pod the fake created has been deleted.
  void ExpectNoLeak() {
    EXPECT_TRUE(api_.WaitAllDeleted(5000)) << api_.Ledger().dump(2) << "\n" << prov_.Transcript();
  }
  std::string dir_;
  FakeApi api_;
  Provisioner prov_;
};

TEST_F(ProvisionE2E, FullRunProvisionReadyTeardown) {
  Begin({});
  ASSERT_TRUE(prov_.WaitForPhase("provisioning_done", kLong)) << prov_.Transcript();
  const auto* first = FindPhase(prov_.events(), "provisioning");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->data["gpu_type"], "RTX 4000 Ada");
  const auto* done = FindPhase(prov_.events(), "provisioning_done");
  ASSERT_NE(done, nullptr);
  std::string pod_id = done->data["pod_id"];
  std::string url = done->data["server_url"];
  EXPECT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
  EXPECT_DOUBLE_EQ(done->data["cost_per_hr"].get<double>(), 0.74);
  EXPECT_EQ(done->data["gpu_count"], 1);
  EXPECT_GT(done->data["elapsed_s"].get<double>(), 0);
  EXPECT_TRUE(HasLogContaining(prov_.events(), "/health answered 200"));
  // The pod is named for the run and got the HF token; the server really answers.
  auto ledger = api_.Ledger();
  ASSERT_EQ(ledger["pods"].size(), 1u);
  EXPECT_EQ(ledger["pods"][0]["name"].get<std::string>().rfind("ib-e2e-", 0), 0u);
  EXPECT_EQ(ledger["pods"][0]["model"], "Qwen/Qwen3-0.6B");
  EXPECT_EQ(api_.Alive(), 1);
  // Still held while stdin is open.
  EXPECT_FALSE(prov_.WaitFor([](const ib::events::Event&) { return true; }, 300));
  prov_.CloseStdin();
  auto st = prov_.Finish(kLong);
  EXPECT_TRUE(st.exited && st.code == 0) << st.Describe() << prov_.Transcript();
  EXPECT_TRUE(HasLogContaining(prov_.events(), "pod " + pod_id + " terminated"));
  ExpectNoLeak();
  // Secrets never reach the stream or stderr.
  EXPECT_EQ(prov_.Transcript().find("test-key"), std::string::npos);
  EXPECT_EQ(prov_.Transcript().find("hf_e2e_secret"), std::string::npos);
}

TEST_F(ProvisionE2E, SglangPodComesUpToo) {
  Begin({}, {}, "sglang");
  ASSERT_TRUE(prov_.WaitForPhase("provisioning_done", kLong)) << prov_.Transcript();
  EXPECT_EQ(api_.Ledger()["pods"][0]["framework"], "sglang");
  prov_.Kill(SIGTERM);
  auto st = prov_.Finish(kLong);
  EXPECT_TRUE(st.exited && st.code == 0) << st.Describe();
  ExpectNoLeak();
}

TEST_F(ProvisionE2E, KeepServerKeepsThePodAndSaysHowToStopIt) {
  Begin({}, {"--keep-server"});
  ASSERT_TRUE(prov_.WaitForPhase("provisioning_done", kLong)) << prov_.Transcript();
  prov_.CloseStdin();
  auto st = prov_.Finish(kLong);
  EXPECT_TRUE(st.exited && st.code == 0) << st.Describe();
  EXPECT_TRUE(HasLogContaining(prov_.events(), "ib-run server stop")) << prov_.Transcript();
  EXPECT_EQ(api_.Alive(), 1);
  // Kept pods are not orphans; stopping it by id works.
  setenv("RUNPOD_API_KEY", "test-key", 1);
  ib::runpod::AdminOptions o;
  o.api_base = api_.ApiBase();
  std::ostringstream out, err;
  EXPECT_EQ(ib::runpod::CmdServerStopOrphans(o, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("kept on purpose"), std::string::npos) << out.str();
  EXPECT_EQ(api_.Alive(), 1);
  std::string id = api_.Ledger()["pods"][0]["id"];
  EXPECT_EQ(ib::runpod::CmdServerStop(o, id, out, err), 0) << err.str();
  ExpectNoLeak();
}

}  // namespace
}  // namespace ib::provision_test
