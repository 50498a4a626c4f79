#include "lib/results/filter.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "lib/cli/exit_codes.h"
#include "lib/events/stream.h"
#include "lib/results/file.h"

namespace ib::results {
namespace {

constexpr const char* kTool = "ib-aggregate";

class Output {
 public:
  explicit Output(int fd) : fd_(fd) { buffer_.reserve(1 << 17); }
  void Line(std::string_view line) {
    buffer_.append(line);
    buffer_.push_back('\n');
  }
  void Event(const events::Event& event) { Line(events::Serialize(event)); }
  void Flush() {
    if (buffer_.empty()) return;
    if (!dead_ && !events::WriteAll(fd_, buffer_)) {
      dead_ = true;
      std::fprintf(stderr, "%s: error: cannot write to stdout: %s; still aggregating\n", kTool,
                   std::strerror(errno));
    }
    buffer_.clear();
  }
  bool dead() const { return dead_; }

 private:
  int fd_;
  bool dead_ = false;
  std::string buffer_;
};

// Waits for input or a termination signal. False when a signal arrived (*signal_name set).
bool WaitForInput(int in_fd, int signal_fd, std::string* signal_name) {
  if (signal_fd < 0) return true;
  pollfd fds[2] = {{in_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;  // let read() report the problem
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) == sizeof info) {
        *signal_name = info.ssi_signo == SIGINT ? "SIGINT" : info.ssi_signo == SIGTERM
                                                                 ? "SIGTERM"
                                                                 : "a signal";
      } else {
        *signal_name = "a signal";
      }
      return false;
    }
    return true;  // input ready, or hung up (read() sees EOF)
  }
}

class Filter {
 public:
  explicit Filter(const FilterOptions& options)
      : options_(options), out_(options.out_fd), aggregator_(options.aggregate) {}

  int Run() {
    events::EventReader reader(options_.in_fd, options_.source);
    reader.set_fast_request_complete(true);
    reader.set_before_read([this] {
      out_.Flush();  // everything read so far is forwarded before we may block
      return WaitForInput(options_.in_fd, options_.signal_fd, &signal_name_);
    });
    while (auto item = reader.Next()) {
      if (!item->raw.empty()) out_.Line(item->raw);
      if (!item->valid) {
        out_.Event(item->event);
        continue;
      }
      for (RunRecord& run : aggregator_.Add(std::move(item->event))) Save(run);
    }
    std::string reason;
    if (!signal_name_.empty()) {
      reason = "interrupted by " + signal_name_;
    } else if (!reader.error().empty()) {
      reason = "input " + reader.error();
    } else {
      reason = "end of stream before the run finished";
    }
    for (RunRecord& run : aggregator_.Finish(reason)) Save(run);
    out_.Flush();
    if (aggregator_.late_events() > 0) {
      std::fprintf(stderr, "%s: warning: ignored %lld events that arrived after their run ended\n",
                   kTool, static_cast<long long>(aggregator_.late_events()));
    }
    if (!signal_name_.empty()) return exit_code::kInterrupted;
    return failed_ || out_.dead() ? 1 : 0;
  }

 private:
  void Save(RunRecord& run) {
    std::string stream_run_id = run.run_id;
    std::string dir = !options_.output_dir.empty()      ? options_.output_dir
                      : !run.output_dir_hint.empty() ? run.output_dir_hint
                                                     : "results";
    std::string path, error;
    if (!WriteRunFile(dir, run, &path, &error)) {
      failed_ = true;
      std::fprintf(stderr, "%s: error: %s\n", kTool, error.c_str());
      out_.Event(events::MakeError(stream_run_id, "cannot write the results of " + stream_run_id +
                                                      ": " + error,
                                   kTool));
      return;
    }
    std::fprintf(stderr, "%s: %s %s (%s)\n", kTool, "wrote", path.c_str(), run.status.c_str());
    out_.Event(SavedRunSummary(run, stream_run_id, path));
    out_.Flush();  // a summary is news: do not hold it back behind a read
  }

  const FilterOptions& options_;
  Output out_;
  StreamAggregator aggregator_;
  std::string signal_name_;
  bool failed_ = false;
};

}  // namespace

int RunFilter(const FilterOptions& options) { return Filter(options).Run(); }

int BlockTerminationSignals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (::pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return -1;
  return ::signalfd(-1, &set, SFD_CLOEXEC);
}

}  // namespace ib::results
