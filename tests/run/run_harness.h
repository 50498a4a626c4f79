// Helpers for ib-run's end-to-end tests against the real tools: a work directory whose bin/
// holds the real ib-sim, ib-scrape, ib-load, ib-aggregate and ib-provision (IB_BIN_DIR), an
// ib-run process whose stream is read with a deadline (a callback may signal it on any event),
// the fake RunPod API as a process with its ledger, and a check that no process ib-run started
// outlives it (the test is a child subreaper, so orphans become its children).
//
//   std::string dir = MakeWorkDir("sweep");
//   RunResult r = RunIbRun(dir, {.args = {"config.yaml", "--ndjson"}});
//   EXPECT_EQ(r.code, 0) << r.err;
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/events/events.h"

namespace ib::run_test {

// A fresh directory under TEST_TMPDIR with bin/ holding symlinks to the real tools.
std::string MakeWorkDir(const std::string& prefix);

// Makes this process a child subreaper (orphans of ib-run become our children). Idempotent.
void BecomeSubreaper();

// Children of this process other than `except`, by pid.
std::vector<pid_t> ChildrenExcept(const std::vector<pid_t>& except);
// Waits (reaping) until no child other than `except` is left; true when so.
bool WaitForNoChildren(const std::vector<pid_t>& except, int timeout_ms);

struct RunResult {
  int code = -1;           // exit code, or 128 + signal
  bool signaled = false;
  int signal = 0;
  bool timed_out = false;  // the deadline passed: ib-run was SIGKILLed
  std::string err;         // ib-run's stderr
  std::vector<std::string> lines;
  std::vector<events::Event> events;
  double signal_to_exit_s = -1;  // when the callback sent a signal: until EOF + exit
};

struct RunSpec {
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  int timeout_ms = 120000;
  // Called for each event as it arrives; returns a signal to send to ib-run (0: none).
  // Only the first signal is sent.
  std::function<int(const events::Event&)> on_event;
  bool stdin_devnull = true;
};

// Spawns tools/ib-run/ib-run with IB_BIN_DIR=dir/bin and spec.env, reads its stdout to EOF with
// a deadline, waits for it. Every stdout line must parse as an event (EXPECTs).
RunResult RunIbRun(const std::string& dir, const RunSpec& spec);

// The fake RunPod API (tests/fake_runpod) as a process, its pods ib-sim processes.
class FakeRunPod {
 public:
  bool Start(const std::string& dir, const std::vector<std::string>& flags, std::string* error);
  ~FakeRunPod();
  std::string ApiBase() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  // The environment ib-run (and so ib-provision) needs to reach it.
  std::vector<std::pair<std::string, std::string>> Env(const std::string& dir) const;
  nlohmann::json Ledger() const;
  int Created() const;
  int Alive() const;  // created and not deleted
  bool WaitAllDeleted(int timeout_ms) const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string ledger_;
};

const events::Phase* FindPhase(const std::vector<events::Event>& events, const std::string& phase);
const events::Phase* LastPhase(const std::vector<events::Event>& events);
std::vector<std::string> Phases(const std::vector<events::Event>& events);
std::string Slurp(const std::string& path);
// Parses a results file; a discarded value when it is missing or not JSON.
nlohmann::json ReadJson(const std::string& path);
// Results files (*.json) in dir; study files (*.study.json) are not results files.
std::vector<std::string> JsonFiles(const std::string& dir);

}  // namespace ib::run_test
