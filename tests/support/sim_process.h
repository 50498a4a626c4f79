// Starts the real ib-sim binary for a test and stops it when the test is done.
//   ib::testing::SimProcess sim({"--deterministic", "--ttft-ms", "20", "--itl-ms", "5"});
//   ASSERT_TRUE(sim.ok()) << sim.error();
//   auto r = ib::http::Get(sim.base_url() + "/health");
// The binary is found with ib::proc::FindTool("ib-sim"): add data = ["//tools/ib-sim"] to the
// cc_test. ib-sim listens on an ephemeral 127.0.0.1 port (--port 0 --port-file), dies with the
// test (--die-with-parent), and the constructor returns once /health answers at all (200, or
// 503 while a --load-time-s is running), or fails after timeout_ms.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ib::testing {

// A path under the test's TEST_TMPDIR (else /tmp), e.g. for ib-sim's --truth file.
std::string TmpPath(const std::string& name);
// Every line of an NDJSON file (a truth file), parsed.
std::vector<nlohmann::json> ReadNdjson(const std::string& path);

class SimProcess {
 public:
  explicit SimProcess(const std::vector<std::string>& flags = {}, int timeout_ms = 20000);
  ~SimProcess();
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Waits until /health answers 200 (after --load-time-s). False on timeout.
  bool WaitHealthy(int timeout_ms = 20000);
  // SIGTERM, then SIGKILL after 5 s; returns a description such as "exit 0". Idempotent.
  std::string Stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
  std::string error_;
  std::string stopped_;
};

}  // namespace ib::testing
