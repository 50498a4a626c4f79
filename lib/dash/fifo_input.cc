#include "lib/dash/fifo_input.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ib::dash {

FifoInput::~FifoInput() { Stop(); }

bool FifoInput::Start(std::string* error) {
  struct stat st{};
  if (::stat(path_.c_str(), &st) == 0) {
    if (!S_ISFIFO(st.st_mode)) {
      *error = path_ + " exists and is not a FIFO";
      return false;
    }
  } else if (::mkfifo(path_.c_str(), 0600) != 0) {
    *error = "cannot create FIFO " + path_ + ": " + std::strerror(errno);
    return false;
  }
  thread_ = std::thread([this] { Loop(); });
  return true;
}

// The FIFO always has a reader open: the next stream's reader is opened before the current one
// is closed, so a writer that comes in between never loses its lines (a FIFO's buffered data
// is dropped when its last reader closes). A read end opened with O_NONBLOCK does not block
// in open(); poll() then waits for a writer (Linux reports no hang-up for writers that left
// before this end was opened).
void FifoInput::Loop() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    sink_.OnEvent("fifo", events::MakeLog("", "error",
                                          "cannot open FIFO " + path_ + ": " + std::strerror(errno),
                                          "ib-dash"));
    return;
  }
  while (!stopping_) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 200);
    if (ready <= 0 || (p.revents & (POLLIN | POLLHUP)) == 0) continue;
    int next = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // a writer is here: block on it
    PumpStream(fd, "fifo", sink_);
    ::close(fd);
    fd = next;
    if (fd < 0) return;
  }
  ::close(fd);
}

void FifoInput::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;  // the reader notices within its poll period
  thread_.join();
}

}  // namespace ib::dash
