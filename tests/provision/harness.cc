#include "tests/provision/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace ib::provision_test {
namespace {

using Clock = std::chrono::steady_clock;

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string MakeWorkDir(const std::string& name, const std::string& framework) {
  std::string dir = TmpDir() + "/" + name;
  ::mkdir(dir.c_str(), 0700);
  std::ofstream(dir + "/prompts.jsonl") << R"({"messages":[{"role":"user","content":"hi"}]})" << "\n";
  std::ofstream(dir + "/e2e.yaml") << "name: e2e-" << name << "\n"
                                   << "model:\n  name: Qwen/Qwen3-0.6B\n"
                                   << "framework: " << framework << "\n"
                                   << "infrastructure:\n  provider: runpod\n  gpu_type: RTX 4000 Ada\n  gpu_count: 1\n"
                                   << "workload:\n  type: single\n  requests:\n    source: prompts.jsonl\n    count: 1\n";
  return dir;
}

bool FakeApi::Start(const std::string& dir, const std::vector<std::string>& flags, std::string* error) {
  std::string bin = ib::proc::FindTool("fake_runpod");
  if (bin.empty()) bin = ib::proc::SelfDir() + "/../fake_runpod/fake_runpod";
  std::string port_file = dir + "/fake.port";
  ledger_ = dir + "/ledger.json";
  ::unlink(port_file.c_str());
  ib::proc::SpawnOptions so;
  so.argv = {bin, "--port-file", port_file, "--ledger", ledger_, "--work-dir", dir, "--sim-bin",
             ib::proc::FindTool("ib-sim")};
  so.argv.insert(so.argv.end(), flags.begin(), flags.end());
  so.pipe_stdout = false;
  auto child = ib::proc::Spawn(so, error);
  if (!child) return false;
  pid_ = child->pid;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::ifstream in(port_file);
    if (in >> port_ && port_ > 0) return true;
    if (auto st = ib::proc::TryWait(pid_)) {
      *error = "fake_runpod exited: " + st->Describe();
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "fake_runpod did not start";
  return false;
}

FakeApi::~FakeApi() {
  if (pid_ > 0) ib::proc::Terminate(pid_, 5000);
}

nlohmann::json FakeApi::Ledger() const {
  auto j = nlohmann::json::parse(Slurp(ledger_), nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

int FakeApi::Created() const {
  auto l = Ledger();
  return l.contains("pods") ? static_cast<int>(l["pods"].size()) : 0;
}

int FakeApi::Alive() const {
  int n = 0;
  auto l = Ledger();
  if (!l.contains("pods")) return 0;
  for (const auto& p : l["pods"]) n += p["deleted_ms"].is_null() ? 1 : 0;
  return n;
}

int FakeApi::Calls(const std::string& route) const {
  auto l = Ledger();
  if (!l.contains("calls") || !l["calls"].contains(route)) return 0;
  return l["calls"][route].get<int>();
}

bool FakeApi::WaitCreated(int n, int timeout_ms) const {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (Created() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Created() >= n;
}

bool FakeApi::WaitAllDeleted(int timeout_ms) const {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (Alive() == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Alive() == 0;
}

ib::proc::SpawnOptions Provisioner::Options(const std::string& dir, const FakeApi& api,
                                            const std::vector<std::string>& flags) {
  ib::proc::SpawnOptions so;
  so.argv = {ib::proc::FindTool("ib-provision"), "--config", dir + "/e2e.yaml", "--poll-interval-ms", "50",
             "--backoff-ms", "50", "--api-timeout-ms", "2000", "--health-request-timeout-ms", "1000",
             "--running-timeout-s", "20", "--proxy-timeout-s", "20", "--health-timeout-s", "20",
             "--teardown-timeout-s", "20"};
  so.argv.insert(so.argv.end(), flags.begin(), flags.end());
  so.pipe_stdin = true;
  so.pipe_stdout = true;
  stderr_path_ = dir + "/provision.stderr";
  so.env = {{"RUNPOD_API_KEY", "test-key"}, {"HOME", dir}, {"XDG_CONFIG_HOME", dir + "/config"},
            {"IB_RUNPOD_API_BASE", api.ApiBase()},
            {"IB_RUNPOD_PROXY_TEMPLATE", "http://{public_ip}:{public_port}"}, {"HF_TOKEN", "hf_e2e_secret"}};
  return so;
}

bool Provisioner::Start(const std::string& dir, const FakeApi& api, const std::vector<std::string>& flags,
                        std::string* error) {
  ib::proc::SpawnOptions so = Options(dir, api, flags);
  int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  so.stderr_fd = err_fd;
  auto child = ib::proc::Spawn(so, error);
  if (err_fd >= 0) ::close(err_fd);
  if (!child) return false;
  child_ = *child;
  return true;
}

bool Provisioner::StartViaParent(const std::string& dir, const FakeApi& api, const std::vector<std::string>& flags,
                                 std::string* error) {
  ib::proc::SpawnOptions so = Options(dir, api, flags);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return false;
  }
  so.pipe_stdout = false;
  so.stdout_fd = out[1];
  int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  so.stderr_fd = err_fd;
  std::string pid_file = dir + "/provision.pid";
  ::unlink(pid_file.c_str());
  pid_t mid = ::fork();
  if (mid == 0) {
    std::string e;
    auto c = ib::proc::Spawn(so, &e);  // holds the write end of ib-provision's stdin
    if (!c) _exit(1);
    std::ofstream(pid_file + ".tmp") << c->pid << "\n";
    ::rename((pid_file + ".tmp").c_str(), pid_file.c_str());
    for (;;) ::pause();
  }
  ::close(out[1]);
  if (err_fd >= 0) ::close(err_fd);
  if (mid < 0) {
    *error = "fork failed";
    return false;
  }
  parent_ = mid;
  child_.stdout_fd = out[0];
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::ifstream in(pid_file);
    pid_t pid = 0;
    if (in >> pid && pid > 0) {
      child_.pid = pid;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "the intermediate parent did not start ib-provision";
  return false;
}

void Provisioner::KillParent() {
  if (parent_ <= 0) return;
  ::kill(parent_, SIGKILL);
  ib::proc::Wait(parent_);
  parent_ = -1;
}

Provisioner::~Provisioner() {
  KillParent();
  if (child_.pid > 0 && !reaped_) ib::proc::Terminate(child_.pid, 30000);
  if (child_.stdin_fd >= 0) ::close(child_.stdin_fd);
  if (child_.stdout_fd >= 0) ::close(child_.stdout_fd);
}

bool Provisioner::ReadLine(int timeout_ms, std::string* line) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    if (eof_) return false;
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) return false;
    pollfd p{child_.stdout_fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(child_.stdout_fd, buf, sizeof buf);
    if (n <= 0) {
      eof_ = true;
    } else {
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }
}

bool Provisioner::WaitFor(const std::function<bool(const ib::events::Event&)>& pred, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    std::string line;
    if (left <= 0 || !ReadLine(left, &line)) return false;
    lines_.push_back(line);
    auto parsed = ib::events::ParseEvent(line);
    if (!parsed.event) continue;
    events_.push_back(*parsed.event);
    if (pred(*parsed.event)) return true;
  }
}

bool Provisioner::WaitForPhase(const std::string& phase, int timeout_ms) {
  return WaitFor([&](const ib::events::Event& e) {
    auto* p = std::get_if<ib::events::Phase>(&e);
    return p && p->phase == phase;
  }, timeout_ms);
}

bool Provisioner::WaitForLog(const std::string& fragment, int timeout_ms) {
  return WaitFor([&](const ib::events::Event& e) {
    auto* l = std::get_if<ib::events::Log>(&e);
    return l && l->message.find(fragment) != std::string::npos;
  }, timeout_ms);
}

void Provisioner::CloseStdin() {
  if (child_.stdin_fd >= 0) ::close(child_.stdin_fd);
  child_.stdin_fd = -1;
}

void Provisioner::Kill(int sig) { ::kill(child_.pid, sig); }

ib::proc::ExitStatus Provisioner::Finish(int timeout_ms) {
  WaitFor([](const ib::events::Event&) { return false; }, timeout_ms);  // drain to EOF
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (auto st = ib::proc::TryWait(child_.pid)) {
      reaped_ = true;
      return *st;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  reaped_ = true;
  return ib::proc::Terminate(child_.pid, 0);
}

std::string Provisioner::Transcript() const {
  std::string out;
  for (const auto& l : lines_) out += l + "\n";
  return out + "-- stderr:\n" + Stderr();
}

std::string Provisioner::Stderr() const { return Slurp(stderr_path_); }

const ib::events::Phase* FindPhase(const std::vector<ib::events::Event>& events, const std::string& phase) {
  for (const auto& e : events) {
    if (auto* p = std::get_if<ib::events::Phase>(&e); p && p->phase == phase) return p;
  }
  return nullptr;
}

bool HasLogContaining(const std::vector<ib::events::Event>& events, const std::string& fragment) {
  for (const auto& e : events) {
    if (auto* l = std::get_if<ib::events::Log>(&e); l && l->message.find(fragment) != std::string::npos) return true;
    if (auto* r = std::get_if<ib::events::Error>(&e); r && r->message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

}  // namespace ib::provision_test
