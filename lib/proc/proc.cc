#include "lib/proc/proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace ib::proc {
namespace {

bool IsExecutable(const std::string& path) {
  struct stat st{};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

void WriteErrnoAndExit(int fd, const char* what) {
  int err = errno;
  std::string msg = std::string(what) + ": " + std::strerror(err);
  ssize_t ignored = ::write(fd, msg.data(), msg.size());
  (void)ignored;
  _exit(127);
}

}  // namespace

std::optional<Child> Spawn(const SpawnOptions& options, std::string* error) {
  if (options.argv.empty()) {
    *error = "empty argv";
    return std::nullopt;
  }
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if ((options.pipe_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0) ||
      (options.pipe_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    close_all();
    return std::nullopt;
  }
  // Build everything the child needs before fork: only async-signal-safe calls after it.
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    bool replaced = false;
    for (const auto& [k, v] : options.env) {
      if (entry.rfind(k + "=", 0) == 0) replaced = true;
    }
    if (!replaced) env_storage.push_back(entry);
  }
  for (const auto& [k, v] : options.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close_all();
    return std::nullopt;
  }
  if (pid == 0) {
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);  // the parent died before prctl took effect
    }
    if (options.new_process_group) ::setpgid(0, 0);
    // Children start with default signal handling and an empty mask.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD}) ::signal(s, SIG_DFL);
    if (options.pipe_stdin) {
      if (::dup2(in_pipe[0], 0) < 0) WriteErrnoAndExit(err_pipe[1], "dup2");
    } else {
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
    }
    if (options.pipe_stdout) {
      if (::dup2(out_pipe[1], 1) < 0) WriteErrnoAndExit(err_pipe[1], "dup2");
    } else if (options.stdout_fd >= 0) {
      ::dup2(options.stdout_fd, 1);
    }
    if (options.stderr_fd >= 0) ::dup2(options.stderr_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    std::string what = "cannot execute " + options.argv[0];
    WriteErrnoAndExit(err_pipe[1], what.c_str());
  }
  ::close(err_pipe[1]);
  err_pipe[1] = -1;
  char buf[512];
  ssize_t n;
  do {
    n = ::read(err_pipe[0], buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  err_pipe[0] = -1;
  if (n > 0) {
    *error = std::string(buf, static_cast<std::size_t>(n));
    ::waitpid(pid, nullptr, 0);
    close_all();
    return std::nullopt;
  }
  Child child;
  child.pid = pid;
  if (options.pipe_stdin) {
    ::close(in_pipe[0]);
    child.stdin_fd = in_pipe[1];
  }
  if (options.pipe_stdout) {
    ::close(out_pipe[1]);
    child.stdout_fd = out_pipe[0];
  }
  return child;
}

std::string ExitStatus::Describe() const {
  if (exited) return "exit " + std::to_string(code);
  if (signaled) {
    const char* name = sigabbrev_np(signal);
    return std::string("killed by SIG") + (name ? name : std::to_string(signal).c_str());
  }
  return "unknown";
}

namespace {
ExitStatus FromWaitStatus(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.exited = true;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signaled = true;
    s.signal = WTERMSIG(status);
  }
  return s;
}
}  // namespace

ExitStatus Wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ExitStatus{};
  }
  return FromWaitStatus(status);
}

std::optional<ExitStatus> TryWait(pid_t pid) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == 0) return std::nullopt;
  if (r < 0) return ExitStatus{};
  return FromWaitStatus(status);
}

ExitStatus Terminate(pid_t pid, int grace_ms) {
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto s = TryWait(pid)) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  return Wait(pid);
}

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<std::size_t>(n));
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string FindTool(const std::string& name) {
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("IB_BIN_DIR"); dir && *dir) {
    candidates.push_back(std::string(dir) + "/" + name);
    candidates.push_back(std::string(dir) + "/tools/" + name + "/" + name);
  }
  std::string self = SelfDir();
  candidates.push_back(self + "/" + name);
  candidates.push_back(self + "/../" + name + "/" + name);           // bazel-bin/tools/X/X
  candidates.push_back(self + "/../../tools/" + name + "/" + name);  // bazel-bin/tests/X/..
  candidates.push_back(self + "/../tools/" + name + "/" + name);
  candidates.push_back("tools/" + name + "/" + name);  // a test's runfiles directory
  if (const char* srcdir = std::getenv("TEST_SRCDIR"); srcdir && *srcdir) {
    candidates.push_back(std::string(srcdir) + "/ib/tools/" + name + "/" + name);
  }
  for (const auto& c : candidates) {
    if (IsExecutable(c)) {
      char resolved[4096];
      return ::realpath(c.c_str(), resolved) ? std::string(resolved) : c;
    }
  }
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    std::size_t start = 0;
    while (start <= p.size()) {
      std::size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      std::string candidate = p.substr(start, end - start) + "/" + name;
      if (IsExecutable(candidate)) return candidate;
      start = end + 1;
    }
  }
  return "";
}

}  // namespace ib::proc
