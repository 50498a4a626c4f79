#include "lib/orchestrate/signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace ib::orchestrate {
namespace {

std::atomic<int> g_count{0};
std::atomic<int> g_last{0};
int g_pipe[2] = {-1, -1};

void OnSignal(int sig) {
  int saved = errno;  // a handler must not clobber the interrupted code's errno
  g_count.fetch_add(1);
  g_last.store(sig);
  char byte = 1;
  ssize_t ignored = ::write(g_pipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

}  // namespace

void StopSignals::Install() {
  if (g_pipe[0] >= 0) return;
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int StopSignals::Count() { return g_count.load(); }
int StopSignals::Last() { return g_last.load(); }
int StopSignals::WakeFd() { return g_pipe[0]; }

void StopSignals::Drain() {
  if (g_pipe[0] < 0) return;
  char buf[64];
  while (::read(g_pipe[0], buf, sizeof buf) > 0) {
  }
}

void StopSignals::Raise(int signal) {
  if (g_pipe[0] < 0) Install();
  OnSignal(signal);
}

void StopSignals::Reset() {
  g_count.store(0);
  g_last.store(0);
  Drain();
}

}  // namespace ib::orchestrate
