#include "tests/run/run_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "lib/proc/proc.h"

namespace ib::run_test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

std::string MakeWorkDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/" + prefix + "XXXXXX";
  std::string dir = ::mkdtemp(tmpl.data());
  fs::create_directories(dir + "/bin");
  for (std::string tool : {"ib-sim", "ib-scrape", "ib-load", "ib-aggregate", "ib-provision"}) {
    fs::create_symlink(fs::absolute("tools/" + tool + "/" + tool), dir + "/bin/" + tool);
  }
  return dir;
}

void BecomeSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

std::vector<pid_t> ChildrenExcept(const std::vector<pid_t>& except) {
  std::vector<pid_t> out;
  pid_t self = ::getpid();
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string stat = Slurp("/proc/" + std::string(e->d_name) + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == self && std::find(except.begin(), except.end(), pid) == except.end()) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(d);
  return out;
}

bool WaitForNoChildren(const std::vector<pid_t>& except, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto children = ChildrenExcept(except);
    for (pid_t pid : children) ::waitpid(pid, nullptr, WNOHANG);  // zombies leave /proc once reaped
    if (ChildrenExcept(except).empty()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

RunResult RunIbRun(const std::string& dir, const RunSpec& spec) {
  RunResult r;
  proc::SpawnOptions o;
  o.argv = {fs::absolute("tools/ib-run/ib-run").string()};
  o.argv.insert(o.argv.end(), spec.args.begin(), spec.args.end());
  o.env = {{"IB_BIN_DIR", dir + "/bin"}};
  o.env.insert(o.env.end(), spec.env.begin(), spec.env.end());
  std::string err_path = dir + "/ib-run.stderr";
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  o.stderr_fd = err_fd;
  std::string error;
  auto child = proc::Spawn(o, &error);
  ::close(err_fd);
  if (!child) {
    ADD_FAILURE() << error;
    return r;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(spec.timeout_ms);
  std::string pending;
  bool signalled = false;
  Clock::time_point signal_time;
  char buf[65536];
  for (;;) {
    int left = MsLeft(deadline);
    if (left == 0) {
      r.timed_out = true;
      break;
    }
    pollfd p{child->stdout_fd, POLLIN, 0};
    if (::poll(&p, 1, std::min(left, 500)) <= 0) continue;
    ssize_t n = ::read(child->stdout_fd, buf, sizeof buf);
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      r.lines.push_back(line);
      auto parsed = events::ParseEvent(line);
      EXPECT_TRUE(parsed.event) << parsed.error << ": " << line.substr(0, 200);
      if (!parsed.event) continue;
      r.events.push_back(*parsed.event);
      if (spec.on_event && !signalled) {
        if (int sig = spec.on_event(r.events.back()); sig > 0) {
          ::kill(child->pid, sig);
          signalled = true;
          signal_time = Clock::now();
        }
      }
    }
  }
  EXPECT_TRUE(pending.empty()) << "unterminated last line: " << pending.substr(0, 200);
  ::close(child->stdout_fd);
  std::optional<proc::ExitStatus> status;
  while (!r.timed_out && !(status = proc::TryWait(child->pid))) {
    if (MsLeft(deadline) == 0) {
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (r.timed_out) {
    ADD_FAILURE() << "ib-run did not finish within " << spec.timeout_ms << " ms; killed";
    status = proc::Terminate(child->pid, 0);
  }
  if (signalled) r.signal_to_exit_s = std::chrono::duration<double>(Clock::now() - signal_time).count();
  r.signaled = status->signaled;
  r.signal = status->signal;
  r.code = status->exited ? status->code : 128 + status->signal;
  r.err = Slurp(err_path);
  return r;
}

bool FakeRunPod::Start(const std::string& dir, const std::vector<std::string>& flags, std::string* error) {
  std::string port_file = dir + "/fake.port";
  ledger_ = dir + "/ledger.json";
  proc::SpawnOptions so;
  so.argv = {fs::absolute("tests/fake_runpod/fake_runpod").string(), "--port-file", port_file, "--ledger",
             ledger_, "--work-dir", dir, "--sim-bin", fs::absolute("tools/ib-sim/ib-sim").string()};
  so.argv.insert(so.argv.end(), flags.begin(), flags.end());
  so.pipe_stdout = false;
  auto child = proc::Spawn(so, error);
  if (!child) return false;
  pid_ = child->pid;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::ifstream in(port_file);
    if (in >> port_ && port_ > 0) return true;
    if (auto st = proc::TryWait(pid_)) {
      *error = "fake_runpod exited: " + st->Describe();
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "fake_runpod did not start within 20 s";
  return false;
}

FakeRunPod::~FakeRunPod() {
  if (pid_ > 0) proc::Terminate(pid_, 5000);
}

std::vector<std::pair<std::string, std::string>> FakeRunPod::Env(const std::string& dir) const {
  return {{"RUNPOD_API_KEY", "test-key"},
          {"IB_RUNPOD_API_BASE", ApiBase()},
          {"IB_RUNPOD_PROXY_TEMPLATE", "http://{public_ip}:{public_port}"},
          {"HOME", dir},
          {"XDG_CONFIG_HOME", dir + "/config"}};
}

nlohmann::json FakeRunPod::Ledger() const {
  auto j = nlohmann::json::parse(Slurp(ledger_), nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

int FakeRunPod::Created() const {
  auto l = Ledger();
  return l.contains("pods") ? static_cast<int>(l["pods"].size()) : 0;
}

int FakeRunPod::Alive() const {
  auto l = Ledger();
  int n = 0;
  if (!l.contains("pods")) return 0;
  for (const auto& p : l["pods"]) n += p["deleted_ms"].is_null() ? 1 : 0;
  return n;
}

bool FakeRunPod::WaitAllDeleted(int timeout_ms) const {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Alive() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return Alive() == 0;
}

const events::Phase* FindPhase(const std::vector<events::Event>& events, const std::string& phase) {
  for (const auto& e : events) {
    if (auto* p = std::get_if<events::Phase>(&e); p && p->phase == phase) return p;
  }
  return nullptr;
}

const events::Phase* LastPhase(const std::vector<events::Event>& events) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (auto* p = std::get_if<events::Phase>(&*it)) return p;
  }
  return nullptr;
}

std::vector<std::string> Phases(const std::vector<events::Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (auto* p = std::get_if<events::Phase>(&e)) out.push_back(p->phase);
  }
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(Slurp(path), nullptr, /*allow_exceptions=*/false);
}

std::vector<std::string> JsonFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    bool study = name.size() > 11 && name.compare(name.size() - 11, 11, ".study.json") == 0;
    if (e.path().extension() == ".json" && !study) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ib::run_test
