// The RunPod API misbehaving at each step (500, 429, timeouts, lost answers), pods that never
// run or never get healthy, and bad inputs. After each, no pod the fake created is left alive
// (unless the test shows the leak being reported as MANUAL ACTION REQUIRED).
#include <signal.h>

#include <fstream>

#include <gtest/gtest.h>

#include "tests/provision/harness.h"

namespace ib::provision_test {
namespace {

constexpr int kLong = 60000;

struct Scenario {
  std::string name;
  std::vector<std::string> fake_flags;
  std::vector<std::string> provision_flags;
  bool ready;           // reaches provisioning_done
  int exit_code;        // after stdin EOF (when ready) or on its own
  int created;          // pods the fake made
  std::string message;  // in the event stream when not empty
};

class Fault : public testing::TestWithParam<Scenario> {};

TEST_P(Fault, EndsCleanly) {
  const Scenario& s = GetParam();
  std::string dir = MakeWorkDir(s.name);
  FakeApi api;
  std::string error;
  ASSERT_TRUE(api.Start(dir, s.fake_flags, &error)) << error;
  Provisioner prov;
  ASSERT_TRUE(prov.Start(dir, api, s.provision_flags, &error)) << error;
  if (s.ready) {
    ASSERT_TRUE(prov.WaitForPhase("provisioning_done", kLong)) << prov.Transcript();
    prov.CloseStdin();
  }
  auto st = prov.Finish(kLong);
  EXPECT_TRUE(st.exited && st.code == s.exit_code) << st.Describe() << "\n" << prov.Transcript();
  EXPECT_EQ(FindPhase(prov.events(), "provisioning_done") != nullptr, s.ready) << prov.Transcript();
  if (!s.message.empty()) {
    EXPECT_TRUE(HasLogContaining(prov.events(), s.message)) << prov.Transcript();
  }
  EXPECT_EQ(api.Created(), s.created) << api.Ledger().dump(2);
  EXPECT_TRUE(api.WaitAllDeleted(5000)) << api.Ledger().dump(2) << "\n" << prov.Transcript();
}

const std::vector<std::string> kTimeoutFault = {"--fault-delay-ms", "3000"};  // > --api-timeout-ms 2000

std::vector<std::string> Join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

INSTANTIATE_TEST_SUITE_P(
    Api, Fault,
    testing::Values(
        Scenario{"Create500Twice", {"--fault", "create=500x2"}, {}, true, 0, 1, "create failed, will retry"},
        Scenario{"Create429Twice", {"--fault", "create=429x2"}, {}, true, 0, 1, "HTTP 429"},
        Scenario{"CreateAnswerLost", {"--fault", "create=lostx1"}, {}, true, 0, 1, "create answer was lost"},
        Scenario{"CreateTimesOut", Join({"--fault", "create=timeoutx1"}, kTimeoutFault), {}, true, 0, 1,
                 "create answer was lost"},
        Scenario{"CreateAlways500", {"--fault", "create=500"}, {"--api-attempts", "3"}, false, 1, 0,
                 "cannot create the pod after 3 attempts"},
        Scenario{"CreateAlwaysLost", {"--fault", "create=lost"}, {}, true, 0, 1, "create answer was lost"},
        // The lost pod cannot be found (list fails), so a second one is made; the teardown's
        // sweep by name still finds and deletes both.
        Scenario{"CreateLostAndListDown", {"--fault", "create=lostx1", "--fault", "list=500x4"}, {}, true, 0, 2,
                 "terminating pod"},
        Scenario{"Get500Thrice", {"--fault", "get=500x3"}, {}, true, 0, 1, ""},
        Scenario{"GetTimesOutTwice", Join({"--fault", "get=timeoutx2"}, kTimeoutFault), {}, true, 0, 1, ""},
        Scenario{"GetAlways500", {"--fault", "get=500"}, {"--running-timeout-s", "2", "--api-attempts", "2"}, false,
                 1, 1, "was not running after"},
        Scenario{"Get429Always", {"--fault", "get=429"}, {"--running-timeout-s", "2", "--api-attempts", "2"}, false,
                 1, 1, "HTTP 429"},
        Scenario{"Delete500Six", {"--fault", "delete=500x6"}, {}, true, 0, 1, "terminate failed, will retry"},
        Scenario{"DeleteTimesOut", Join({"--fault", "delete=timeoutx1"}, kTimeoutFault), {}, true, 0, 1,
                 "terminated"},
        Scenario{"Delete429Twice", {"--fault", "delete=429x2"}, {}, true, 0, 1, "terminated"},
        Scenario{"NeverRunning", {"--never-running"}, {"--running-timeout-s", "2"}, false, 1, 1,
                 "was not running after"},
        Scenario{"NeverHealthy", {"--never-healthy"}, {"--health-timeout-s", "2"}, false, 1, 1,
                 "timed out after 2.0 s waiting for /health to answer 200"},
        Scenario{"BadKey", {"--api-key", "another-key"}, {}, false, 1, 0, "HTTP 401"}),
    [](const testing::TestParamInfo<Scenario>& info) { return info.param.name; });

TEST(FaultLeak, ATerminateThatNeverWorksIsReportedAsManualAction) {
  std::string dir = MakeWorkDir("DeleteAlways500");
  FakeApi api;
  std::string error;
  ASSERT_TRUE(api.Start(dir, {"--fault", "delete=500"}, &error)) << error;
  Provisioner prov;
  ASSERT_TRUE(prov.Start(dir, api, {"--teardown-timeout-s", "1", "--api-attempts", "2"}, &error)) << error;
  ASSERT_TRUE(prov.WaitForPhase("provisioning_done", kLong)) << prov.Transcript();
  prov.Kill(SIGINT);
  auto st = prov.Finish(kLong);
  EXPECT_TRUE(st.exited && st.code == 1) << st.Describe();
  EXPECT_NE(prov.Stderr().find("MANUAL ACTION REQUIRED"), std::string::npos) << prov.Stderr();
  std::string id = api.Ledger()["pods"][0]["id"];
  EXPECT_NE(prov.Stderr().find("ib-run server stop " + id), std::string::npos) << prov.Stderr();
  EXPECT_TRUE(HasLogContaining(prov.events(), "MANUAL ACTION REQUIRED"));
  EXPECT_EQ(api.Alive(), 1);  // the honest outcome: reported, not hidden
}

TEST(BadInput, UsageAndConfigErrorsExit2WithoutCreatingAnything) {
  std::string dir = MakeWorkDir("BadInput");
  FakeApi api;
  std::string error;
  ASSERT_TRUE(api.Start(dir, {}, &error)) << error;
  struct Case {
    std::string yaml_patch;  // replaces e2e.yaml when not empty
    std::vector<std::string> flags;
    std::string stderr_fragment;
  };
  std::vector<Case> cases = {
      {"", {"--config", dir + "/missing.yaml"}, "config file not found"},
      {"name: x\nmodel:\n  name: m\nframework: vllm\ninfrastructure:\n  provider: local\n"
       "workload:\n  type: single\n  requests:\n    source: prompts.jsonl\n    count: 1\n",
       {}, "only runpod needs a pod"},
      {"", {"--poll-interval-ms", "abc"}, "error"},
  };
  for (const auto& c : cases) {
    if (!c.yaml_patch.empty()) std::ofstream(dir + "/e2e.yaml") << c.yaml_patch;
    Provisioner prov;
    ASSERT_TRUE(prov.Start(dir, api, c.flags, &error)) << error;
    auto st = prov.Finish(kLong);
    EXPECT_TRUE(st.exited && st.code == 2) << st.Describe() << prov.Transcript();
    EXPECT_NE(prov.Stderr().find(c.stderr_fragment), std::string::npos) << prov.Stderr();
  }
  EXPECT_EQ(api.Created(), 0);
  EXPECT_EQ(api.Calls("create"), 0);
}

}  // namespace
}  // namespace ib::provision_test
