#include "lib/orchestrate/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <stdexcept>

#include "lib/events/events.h"

namespace ib::orchestrate {

// One pipe from a child, cut into lines.
struct Supervisor::Stream {
  int fd = -1;
  LineHandler handler;
  std::string buffer;       // bytes read and not yet delivered
  std::size_t scanned = 0;  // no newline in buffer before this offset
  int64_t line_number = 0;
  bool skipping = false;    // inside an oversized line, dropping bytes until its newline
  bool eof = true;          // a stream that was never opened is at its end
  bool drained() const { return eof && buffer.empty(); }
};

struct Supervisor::ChildState {
  ChildId id = 0;
  std::string name;
  proc::Child proc;
  Stream out;
  Stream err;
  bool paused = false;  // applies to stdout only: stderr lines are never held
  std::optional<proc::ExitStatus> status;
};

Supervisor::Supervisor() = default;

Supervisor::~Supervisor() {
  for (auto& c : children_) {
    if (!c->status) {
      ::kill(c->proc.pid, SIGKILL);
      c->status = proc::Wait(c->proc.pid);
    }
    for (int fd : {c->out.fd, c->err.fd, c->proc.stdin_fd}) {
      if (fd >= 0) ::close(fd);
    }
  }
}

Supervisor::ChildState& Supervisor::At(ChildId id) {
  if (id < 0 || static_cast<std::size_t>(id) >= children_.size()) {
    throw std::out_of_range("no such child");
  }
  return *children_[static_cast<std::size_t>(id)];
}
const Supervisor::ChildState& Supervisor::At(ChildId id) const {
  return const_cast<Supervisor*>(this)->At(id);
}

std::optional<Supervisor::ChildId> Supervisor::Start(std::string name, proc::SpawnOptions options,
                                                     LineHandler handler, std::string* error,
                                                     LineHandler stderr_handler) {
  options.pipe_stdout = true;
  int err_pipe[2] = {-1, -1};
  if (stderr_handler) {
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
      *error = std::string("pipe: ") + std::strerror(errno);
      return std::nullopt;
    }
    options.stderr_fd = err_pipe[1];
  }
  auto child = proc::Spawn(options, error);
  if (err_pipe[1] >= 0) ::close(err_pipe[1]);
  if (!child) {
    if (err_pipe[0] >= 0) ::close(err_pipe[0]);
    return std::nullopt;
  }
  auto state = std::make_unique<ChildState>();
  state->name = std::move(name);
  state->proc = *child;
  state->out.fd = child->stdout_fd;
  state->out.eof = false;
  state->out.handler = std::move(handler);
  state->proc.stdout_fd = -1;  // owned by state->out from here on
  if (stderr_handler) {
    state->err.fd = err_pipe[0];
    state->err.eof = false;
    state->err.handler = std::move(stderr_handler);
  }
  state->id = static_cast<ChildId>(children_.size());
  children_.push_back(std::move(state));
  return static_cast<ChildId>(children_.size() - 1);
}

void Supervisor::ReadFrom(Stream& stream) {
  char chunk[65536];
  ssize_t n;
  do {
    n = ::read(stream.fd, chunk, sizeof chunk);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    stream.eof = true;
    ::close(stream.fd);
    stream.fd = -1;
    return;
  }
  if (stream.skipping) {
    // Still inside an oversized line: keep only what follows its newline.
    const char* nl = static_cast<const char*>(::memchr(chunk, '\n', static_cast<std::size_t>(n)));
    if (nl == nullptr) return;
    stream.skipping = false;
    stream.buffer.append(nl + 1, static_cast<std::size_t>(chunk + n - (nl + 1)));
    return;
  }
  stream.buffer.append(chunk, static_cast<std::size_t>(n));
}

void Supervisor::Deliver(ChildState& child, Stream& stream) {
  const bool holdable = &stream == &child.out;
  std::size_t start = 0;
  while (!(holdable && child.paused)) {
    std::size_t nl = stream.buffer.find('\n', std::max(start, stream.scanned));
    std::string line;
    if (nl != std::string::npos) {
      std::size_t end = nl;
      if (end > start && stream.buffer[end - 1] == '\r') --end;
      line.assign(stream.buffer, start, end - start);
      start = nl + 1;
      stream.scanned = start;
    } else if (stream.buffer.size() - start > events::kMaxLineBytes) {
      // Too long to ever deliver: report it and drop the rest of the line as it arrives.
      ++stream.line_number;
      stream.handler(child.id, events::Serialize(events::MakeError(
                                   "", "line longer than " + std::to_string(events::kMaxLineBytes) +
                                           " bytes skipped", child.name, stream.line_number)));
      stream.buffer.clear();
      stream.scanned = 0;
      stream.skipping = true;
      return;
    } else if (stream.eof && stream.buffer.size() > start) {
      line.assign(stream.buffer, start, std::string::npos);  // unterminated last line
      start = stream.buffer.size();
      stream.scanned = start;
    } else {
      stream.scanned = stream.buffer.size();
      break;
    }
    ++stream.line_number;
    if (line.empty()) continue;
    stream.handler(child.id, std::move(line));
  }
  stream.buffer.erase(0, start);
  stream.scanned = stream.scanned >= start ? stream.scanned - start : 0;
}

void Supervisor::ReapAll() {
  for (auto& c : children_) {
    if (!c->status) {
      if (auto s = proc::TryWait(c->proc.pid)) c->status = *s;
    }
  }
}

void Supervisor::Pump(int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<std::pair<ChildState*, Stream*>> owners;
  bool awaiting_exit = false;
  for (auto& c : children_) {
    for (Stream* stream : {&c->out, &c->err}) {
      bool held = stream == &c->out && c->paused;
      if (held) continue;
      if (!stream->buffer.empty()) Deliver(*c, *stream);  // lines left over from a pause
      if (stream->fd >= 0) {
        fds.push_back({stream->fd, POLLIN, 0});
        owners.emplace_back(c.get(), stream);
      }
    }
    if (!c->status) awaiting_exit = true;
  }
  if (wake_fd_ >= 0) fds.push_back({wake_fd_, POLLIN, 0});
  // Exits are noticed by polling waitpid, so wait in short slices while a child runs.
  int wait_ms = timeout_ms;
  if (awaiting_exit && (wait_ms < 0 || wait_ms > 20)) wait_ms = 20;
  int ready = ::poll(fds.data(), fds.size(), wait_ms);
  if (ready > 0) {
    for (std::size_t i = 0; i < owners.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ReadFrom(*owners[i].second);
        Deliver(*owners[i].first, *owners[i].second);
      }
    }
  }
  ReapAll();
}

bool Supervisor::PumpUntil(const std::function<bool()>& done, int timeout_ms,
                           const std::function<bool()>& stop) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (stop && stop()) return done();
    int slice = 100;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return done();
      slice = static_cast<int>(std::min<long>(left, 100));
    }
    Pump(slice);
  }
  return true;
}

void Supervisor::Pause(ChildId id) { At(id).paused = true; }
void Supervisor::Resume(ChildId id) { At(id).paused = false; }

bool Supervisor::Drained(ChildId id) const {
  const auto& c = At(id);
  return c.out.drained() && c.err.drained();
}
bool Supervisor::Exited(ChildId id) const { return At(id).status.has_value(); }
std::optional<proc::ExitStatus> Supervisor::Status(ChildId id) const { return At(id).status; }

void Supervisor::Signal(ChildId id, int sig) {
  auto& c = At(id);
  if (!c.status) ::kill(c.proc.pid, sig);
}

proc::ExitStatus Supervisor::Stop(ChildId id, int grace_ms, const std::function<bool()>& hurry) {
  // A paused child's pipe is not read, so for it "settled" means exited.
  auto settled = [&] { return Exited(id) && (Drained(id) || At(id).paused); };
  Signal(id, SIGTERM);
  if (!PumpUntil(settled, grace_ms, hurry)) {
    Signal(id, SIGKILL);
    // Bounded: a grandchild could hold the pipe open after the child died.
    PumpUntil(settled, 2000);
    auto& c = At(id);
    if (!c.status) c.status = proc::Wait(c.proc.pid);
  }
  return *At(id).status;
}

proc::ExitStatus Supervisor::Await(ChildId id, int wait_ms, int grace_ms) {
  if (!PumpUntil([&] { return Finished(id); }, wait_ms)) return Stop(id, grace_ms);
  return *At(id).status;
}

const std::string& Supervisor::Name(ChildId id) const { return At(id).name; }
pid_t Supervisor::Pid(ChildId id) const { return At(id).proc.pid; }
int Supervisor::StdinFd(ChildId id) const { return At(id).proc.stdin_fd; }

void Supervisor::CloseStdin(ChildId id) {
  auto& c = At(id);
  if (c.proc.stdin_fd >= 0) {
    ::close(c.proc.stdin_fd);
    c.proc.stdin_fd = -1;
  }
}

std::vector<Supervisor::ChildId> Supervisor::Running() const {
  std::vector<ChildId> out;
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (!Finished(static_cast<ChildId>(i))) out.push_back(static_cast<ChildId>(i));
  }
  return out;
}

}  // namespace ib::orchestrate
