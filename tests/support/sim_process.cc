#include "tests/support/sim_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "lib/http/http.h"
#include "lib/proc/proc.h"

namespace ib::testing {

std::string TmpPath(const std::string& name) {
  const char* d = std::getenv("TEST_TMPDIR");
  return std::string(d && *d ? d : "/tmp") + "/" + name;
}

std::vector<nlohmann::json> ReadNdjson(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}


namespace {
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

SimProcess::SimProcess(const std::vector<std::string>& flags, int timeout_ms) {
  std::string tool = ib::proc::FindTool("ib-sim");
  if (tool.empty()) {
    error_ = "ib-sim not found (add data = [\"//tools/ib-sim\"] to the test)";
    return;
  }
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ib-sim-XXXXXX";
  if (!mkdtemp(pattern.data())) {
    error_ = "mkdtemp failed for " + pattern;
    return;
  }
  dir_ = pattern;
  std::string port_file = dir_ + "/port";
  ib::proc::SpawnOptions o;
  o.argv = {tool, "--port", "0", "--port-file", port_file, "--die-with-parent"};
  o.argv.insert(o.argv.end(), flags.begin(), flags.end());
  o.pipe_stdout = false;
  auto child = ib::proc::Spawn(o, &error_);
  if (!child) return;
  pid_ = child->pid;

  const int64_t deadline = NowMs() + timeout_ms;
  while (port_ == 0) {
    if (auto status = ib::proc::TryWait(pid_)) {
      error_ = "ib-sim exited before listening: " + status->Describe();
      pid_ = -1;
      return;
    }
    std::ifstream in(port_file);
    int p = 0;
    if (in >> p && p > 0) {
      port_ = p;
      break;
    }
    if (NowMs() > deadline) {
      error_ = "ib-sim wrote no port file within " + std::to_string(timeout_ms) + " ms";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  while (true) {
    auto r = ib::http::Get(base_url() + "/health", 2000);
    if (r.status != 0) return;
    if (NowMs() > deadline) {
      error_ = "ib-sim's /health did not answer within " + std::to_string(timeout_ms) + " ms: " + r.error;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool SimProcess::WaitHealthy(int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() <= deadline) {
    if (ib::http::Get(base_url() + "/health", 2000).status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string SimProcess::Stop() {
  if (pid_ > 0) {
    stopped_ = ib::proc::Terminate(pid_, 5000).Describe();
    pid_ = -1;
  }
  return stopped_;
}

SimProcess::~SimProcess() {
  Stop();
  if (!dir_.empty()) {
    unlink((dir_ + "/port").c_str());
    rmdir(dir_.c_str());
  }
}

}  // namespace ib::testing
