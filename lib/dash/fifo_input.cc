#include "lib/dash/fifo_input.h"

#include <fcntl.h>
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

void FifoInput::Loop() {
  while (!stopping_) {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);  // blocks until a writer opens it
    if (fd < 0) {
      if (errno == EINTR) continue;
      sink_.OnEvent("fifo", events::MakeLog("", "error",
                                            "cannot open FIFO " + path_ + ": " + std::strerror(errno),
                                            "ib-dash"));
      return;
    }
    if (stopping_) {
      ::close(fd);
      return;
    }
    PumpStream(fd, "fifo", sink_);
    ::close(fd);
  }
}

void FifoInput::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  // A reader blocked in open() waits for a writer: become one for a moment.
  int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) ::close(fd);
  thread_.join();
}

}  // namespace ib::dash
