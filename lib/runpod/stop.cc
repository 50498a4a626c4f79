#include "lib/runpod/stop.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace ib::runpod {
namespace {

StopToken* g_token = nullptr;

void OnSignal(int sig) {
  if (g_token != nullptr) g_token->Request(sig);
}

}  // namespace

StopToken::StopToken() { ::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK); }

StopToken::~StopToken() {
  if (g_token == this) g_token = nullptr;
  for (int fd : pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void StopToken::Request(int reason) {
  int expected = 0;
  reason_.compare_exchange_strong(expected, reason);
  char b = 1;
  ssize_t ignored = ::write(pipe_[1], &b, 1);  // non-blocking: a full pipe is already "woken"
  (void)ignored;
}

bool StopToken::WaitFor(int ms) const {
  if (stopped()) return true;
  pollfd p{pipe_[0], POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, ms);
  } while (r < 0 && errno == EINTR && !stopped());
  return stopped();
}

std::string StopToken::Describe() const {
  int r = reason();
  if (r == 0) return "";
  if (r == kEof) return "end of stdin";
  if (r == kBrokenPipe) return "stdout closed";
  const char* abbrev = sigabbrev_np(r);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(r);
}

void InstallStopSignals(StopToken* token) {
  g_token = token;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

void WatchStdinForEof(StopToken* token) {
  std::thread([token] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n > 0) continue;  // input is ignored; only its end matters
      if (n < 0 && errno == EINTR) continue;
      token->Request(StopToken::kEof);
      return;
    }
  }).detach();
}

bool StopWhenParentDies() {
  pid_t parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  return ::getppid() == parent;
}

}  // namespace ib::runpod
