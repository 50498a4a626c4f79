// Kill points: ib-provision is stopped at each phase of its life by each way a run can end
// (stdin EOF, SIGINT, SIGTERM, SIGKILL of itself, SIGKILL of its parent). Afterwards the fake's
// ledger must show every created pod deleted; after a SIGKILL of ib-provision itself, by
// `server stop --all-orphans` (CmdServerStopOrphans).
#include <signal.h>
#include <sys/prctl.h>

#include <sstream>
#include <tuple>

#include <gtest/gtest.h>

#include "lib/runpod/admin.h"
#include "tests/provision/harness.h"

namespace ib::provision_test {
namespace {

constexpr int kLong = 60000;

enum class Phase { kStart, kCreate, kRunning, kHealth, kHold };
enum class Action { kEof, kSigint, kSigterm, kSigkill, kParentSigkill };

std::string Name(Phase p) {
  switch (p) {
    case Phase::kStart: return "Start";
    case Phase::kCreate: return "DuringCreate";
    case Phase::kRunning: return "WaitingRunning";
    case Phase::kHealth: return "WaitingHealth";
    case Phase::kHold: return "Holding";
  }
  return "";
}
std::string Name(Action a) {
  switch (a) {
    case Action::kEof: return "StdinEof";
    case Action::kSigint: return "Sigint";
    case Action::kSigterm: return "Sigterm";
    case Action::kSigkill: return "Sigkill";
    case Action::kParentSigkill: return "ParentSigkill";
  }
  return "";
}

class KillPoint : public testing::TestWithParam<std::tuple<Phase, Action>> {
 protected:
  static void SetUpTestSuite() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
};

TEST_P(KillPoint, EveryCreatedPodIsDeleted) {
  auto [phase, action] = GetParam();
  std::string name = Name(phase) + Name(action);
  std::string dir = MakeWorkDir(name);
  std::vector<std::string> fake_flags;
  if (phase == Phase::kCreate) fake_flags = {"--fault", "create=timeout", "--fault-delay-ms", "1500"};
  if (phase == Phase::kRunning) fake_flags = {"--running-after-ms", "600000"};
  if (phase == Phase::kHealth) fake_flags = {"--never-healthy"};
  FakeApi api;
  std::string error;
  ASSERT_TRUE(api.Start(dir, fake_flags, &error)) << error;
  Provisioner prov;
  if (action == Action::kParentSigkill) {
    ASSERT_TRUE(prov.StartViaParent(dir, api, {"--api-timeout-ms", "5000"}, &error)) << error;
  } else {
    ASSERT_TRUE(prov.Start(dir, api, {"--api-timeout-ms", "5000"}, &error)) << error;
  }
  switch (phase) {
    case Phase::kStart: break;
    case Phase::kCreate:
      // The POST is in flight: the fake made the pod and holds the answer back for 1.5 s.
      ASSERT_TRUE(prov.WaitForLog("creating pod", kLong)) << prov.Transcript();
      ASSERT_TRUE(api.WaitCreated(1, kLong)) << api.Ledger().dump(2);
      break;
    case Phase::kRunning: ASSERT_TRUE(prov.WaitForLog("status CREATED", kLong)) << prov.Transcript(); break;
    case Phase::kHealth:
      ASSERT_TRUE(prov.WaitForLog("waiting for /health to answer 200", kLong)) << prov.Transcript();
      break;
    case Phase::kHold: ASSERT_TRUE(prov.WaitForPhase("provisioning_done", kLong)) << prov.Transcript(); break;
  }
  switch (action) {
    case Action::kEof: prov.CloseStdin(); break;
    case Action::kSigint: prov.Kill(SIGINT); break;
    case Action::kSigterm: prov.Kill(SIGTERM); break;
    case Action::kSigkill: prov.Kill(SIGKILL); break;
    case Action::kParentSigkill: prov.KillParent(); break;
  }
  auto st = prov.Finish(kLong);
  if (action == Action::kSigkill) {
    EXPECT_TRUE(st.signaled && st.signal == SIGKILL) << st.Describe();
    if (phase != Phase::kStart) {
      EXPECT_EQ(api.Alive(), 1) << "the kill left the pod running";
    }
    setenv("RUNPOD_API_KEY", "test-key", 1);
    ib::runpod::AdminOptions o;
    o.api_base = api.ApiBase();
    std::ostringstream out, err;
    EXPECT_EQ(ib::runpod::CmdServerStopOrphans(o, out, err), 0) << err.str();
    if (phase != Phase::kStart) {
      EXPECT_NE(out.str().find("Terminated orphan pod"), std::string::npos) << out.str();
    }
  } else if (phase == Phase::kHold) {
    EXPECT_TRUE(st.exited && st.code == 0) << st.Describe() << prov.Transcript();
  } else if (phase == Phase::kStart) {
    // A signal can land before main() installed its handlers: then nothing was created yet.
    EXPECT_TRUE((st.exited && (st.code == 130 || st.code == 0)) || st.signaled) << st.Describe() << prov.Transcript();
  } else {
    EXPECT_TRUE(st.exited && st.code == 130) << st.Describe() << prov.Transcript();
  }
  if (phase != Phase::kStart && action != Action::kSigkill) {
    EXPECT_EQ(api.Created(), 1) << api.Ledger().dump(2);
  }
  EXPECT_TRUE(api.WaitAllDeleted(5000)) << api.Ledger().dump(2) << "\n" << prov.Transcript();
}

INSTANTIATE_TEST_SUITE_P(
    AllPhasesAllWays, KillPoint,
    testing::Combine(testing::Values(Phase::kStart, Phase::kCreate, Phase::kRunning, Phase::kHealth, Phase::kHold),
                     testing::Values(Action::kEof, Action::kSigint, Action::kSigterm, Action::kSigkill,
                                     Action::kParentSigkill)),
    [](const testing::TestParamInfo<std::tuple<Phase, Action>>& info) {
      return Name(std::get<0>(info.param)) + Name(std::get<1>(info.param));
    });

}  // namespace
}  // namespace ib::provision_test
