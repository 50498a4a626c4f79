// Helpers for ib-provision's end-to-end tests: a fake RunPod API process (with its ledger), an
// ib-provision process whose events are read with deadlines, and the config they share.
//
//   FakeApi api;  ASSERT_TRUE(api.Start(dir, {}, &error)) << error;
//   Provisioner p(...);  ASSERT_TRUE(p.WaitForPhase("provisioning_done", 30000));
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"
#include "lib/proc/proc.h"

namespace ib::provision_test {

// A fresh directory under TEST_TMPDIR with a config (e2e.yaml) and its prompts file.
std::string MakeWorkDir(const std::string& name, const std::string& framework = "vllm");

class FakeApi {
 public:
  // Starts fake_runpod with these extra flags; the ledger lives in dir.
  bool Start(const std::string& dir, const std::vector<std::string>& flags, std::string* error);
  ~FakeApi();
  std::string ApiBase() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  nlohmann::json Ledger() const;
  // Pods created / not deleted, per the ledger.
  int Created() const;
  int Alive() const;
  int Calls(const std::string& route) const;
  // Waits until the fake has made n pods.
  bool WaitCreated(int n, int timeout_ms) const;
  // Waits until no pod is alive (deadline in ms); true when so.
  bool WaitAllDeleted(int timeout_ms) const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string ledger_;
};

class Provisioner {
 public:
  // Spawns ib-provision --config dir/e2e.yaml with the fake's URLs, short timeouts, and flags.
  bool Start(const std::string& dir, const FakeApi& api, const std::vector<std::string>& flags,
             std::string* error);
  // The same, but through an intermediate parent process (killed by KillParent()), as ib-run
  // would be: ib-provision's stdin is the parent's pipe. The test process must be a child
  // subreaper (PR_SET_CHILD_SUBREAPER) to reap the orphaned ib-provision.
  bool StartViaParent(const std::string& dir, const FakeApi& api, const std::vector<std::string>& flags,
                      std::string* error);
  void KillParent();
  ~Provisioner();
  // Reads events until pred matches one (true) or the deadline/EOF (false).
  bool WaitFor(const std::function<bool(const ib::events::Event&)>& pred, int timeout_ms);
  bool WaitForPhase(const std::string& phase, int timeout_ms);
  bool WaitForLog(const std::string& fragment, int timeout_ms);
  void CloseStdin();
  void Kill(int sig);
  // Reads the rest of stdout and waits for the exit (SIGKILL after timeout_ms).
  ib::proc::ExitStatus Finish(int timeout_ms);
  const std::vector<ib::events::Event>& events() const { return events_; }
  std::string Transcript() const;  // every line read, for failure messages
  std::string Stderr() const;
  pid_t pid() const { return child_.pid; }

 private:
  bool ReadLine(int timeout_ms, std::string* line);
  ib::proc::SpawnOptions Options(const std::string& dir, const FakeApi& api, const std::vector<std::string>& flags);
  pid_t parent_ = -1;
  ib::proc::Child child_;
  std::string buffer_;
  std::vector<ib::events::Event> events_;
  std::vector<std::string> lines_;
  std::string stderr_path_;
  bool eof_ = false;
  bool reaped_ = false;
};

const ib::events::Phase* FindPhase(const std::vector<ib::events::Event>& events, const std::string& phase);
bool HasLogContaining(const std::vector<ib::events::Event>& events, const std::string& fragment);

}  // namespace ib::provision_test
