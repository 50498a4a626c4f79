#include "lib/load/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "lib/cli/exit_codes.h"

namespace ib::load {
namespace {

std::atomic<int> g_interrupts{0};
std::atomic<int> g_wake_fd{-1};

void OnSignal(int) {
  int n = ++g_interrupts;
  if (n >= 2) _exit(exit_code::kInterrupted);  // twice: exit now
  int fd = g_wake_fd.load();
  if (fd >= 0) {
    char byte = 1;
    ssize_t ignored = write(fd, &byte, 1);
    (void)ignored;
  }
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a reader that goes away is seen as EPIPE on write
}

int Interrupts() { return g_interrupts.load(); }

void SetInterruptWakeFd(int fd) { g_wake_fd.store(fd); }

}  // namespace ib::load
