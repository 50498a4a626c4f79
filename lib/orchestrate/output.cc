#include "lib/orchestrate/output.h"

#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "lib/events/stream.h"

namespace ib::orchestrate {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

StreamOutput::StreamOutput(int out_fd, std::string fifo_path)
    : out_fd_(out_fd), fifo_path_(std::move(fifo_path)) {}

StreamOutput::~StreamOutput() {
  if (fifo_fd_ >= 0) ::close(fifo_fd_);
}

bool StreamOutput::Open(std::string* error) {
  if (fifo_path_.empty()) return true;
  struct stat st{};
  if (::stat(fifo_path_.c_str(), &st) == 0) {
    if (!S_ISFIFO(st.st_mode)) {
      *error = fifo_path_ + " exists and is not a FIFO";
      return false;
    }
    return true;
  }
  if (::mkfifo(fifo_path_.c_str(), 0600) != 0) {
    *error = "cannot create FIFO " + fifo_path_ + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void StreamOutput::WriteFifo(std::string_view data) {
  if (fifo_path_.empty()) return;
  if (fifo_fd_ < 0) {
    // Opening for write fails (ENXIO) while no reader is connected; retry about once a second.
    int64_t now = NowMs();
    if (now < next_fifo_attempt_ms_) return;
    next_fifo_attempt_ms_ = now + 1000;
    fifo_fd_ = ::open(fifo_path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fifo_fd_ < 0) return;
    // Blocking from here on, so every line is written whole.
    ::fcntl(fifo_fd_, F_SETFL, ::fcntl(fifo_fd_, F_GETFL) & ~O_NONBLOCK);
  }
  if (!events::WriteAll(fifo_fd_, data)) {
    ::close(fifo_fd_);  // the reader left; a new one may connect later
    fifo_fd_ = -1;
  }
}

void StreamOutput::Write(std::string_view line) {
  std::string data;
  data.reserve(line.size() + 1);
  data.append(line);
  data.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  if (ok_ && !events::WriteAll(out_fd_, data)) ok_ = false;
  WriteFifo(data);
  ++lines_;
  for (auto& o : observers_) o(line);
}

void StreamOutput::Observe(std::function<void(std::string_view)> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observers_.push_back(std::move(observer));
}

bool StreamOutput::ok() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ok_;
}

int64_t StreamOutput::lines_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

AggregateStage::~AggregateStage() {
  if (!finished_ && child_.pid > 0) Finish(0);
}

bool AggregateStage::Start(std::vector<std::string> argv, std::string* error,
                           std::string log_run_id) {
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  proc::SpawnOptions options;
  options.argv = std::move(argv);
  options.pipe_stdin = true;
  options.pipe_stdout = true;
  options.stderr_fd = err_pipe[1];
  options.new_process_group = true;
  auto child = proc::Spawn(options, error);
  ::close(err_pipe[1]);
  if (!child) {
    ::close(err_pipe[0]);
    return false;
  }
  child_ = *child;
  stderr_fd_ = err_pipe[0];
  stderr_relay_ = std::thread([this, log_run_id] {
    events::LineReader reader(stderr_fd_);
    while (auto line = reader.Next()) {
      if (line->oversized || line->text.empty()) continue;
      downstream_.Write(events::Serialize(
          events::MakeLog(log_run_id, events::StderrLevel(line->text), line->text, "ib-aggregate")));
    }
  });
  int fd = child_.stdout_fd;
  relay_ = std::thread([this, fd] {
    events::LineReader reader(fd);
    while (auto line = reader.Next()) {
      if (line->oversized || line->text.empty()) continue;
      downstream_.Write(line->text);
    }
  });
  return true;
}

void AggregateStage::Write(std::string_view line) {
  if (!dead_ && child_.stdin_fd >= 0) {
    std::string data(line);
    data.push_back('\n');
    if (events::WriteAll(child_.stdin_fd, data)) return;
    dead_ = true;  // EPIPE: ib-aggregate is gone
  }
  downstream_.Write(line);
}

bool AggregateStage::exited() const {
  if (child_.pid <= 0) return true;
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(child_.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
  return info.si_pid == child_.pid;
}

proc::ExitStatus AggregateStage::Finish(int wait_ms) {
  finished_ = true;
  if (child_.stdin_fd >= 0) {
    ::close(child_.stdin_fd);
    child_.stdin_fd = -1;
  }
  proc::ExitStatus status;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    if (auto s = proc::TryWait(child_.pid)) {
      status = *s;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      status = proc::Terminate(child_.pid, 2000);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (relay_.joinable()) relay_.join();
  if (stderr_relay_.joinable()) stderr_relay_.join();
  ::close(child_.stdout_fd);
  child_.stdout_fd = -1;
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  stderr_fd_ = -1;
  return status;
}

}  // namespace ib::orchestrate
