// ib-run's terminal behaviour with real terminals (pseudo-terminals from posix_openpt) and the
// real tools (provider local): the stderr display (phases, a progress bar with live TTFT and
// throughput, the summary table) appears only when stderr is a terminal and stdout is not a
// pipe (or with --progress); stdout is pure NDJSON whenever it is not a terminal, and a
// terminal stdout gets no NDJSON unless --ndjson.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/proc/proc.h"
#include "tests/run/run_harness.h"

namespace {

namespace fs = std::filesystem;
using namespace ib::run_test;
using Clock = std::chrono::steady_clock;

// A pseudo-terminal: the master is read by the test, the slave is the child's fd.
struct Pty {
  int master = -1, slave = -1;
  bool Open() {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return false;
    slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    termios t{};
    if (slave >= 0 && ::tcgetattr(slave, &t) == 0) {
      ::cfmakeraw(&t);  // no \n -> \r\n translation: the bytes as written
      ::tcsetattr(slave, TCSANOW, &t);
    }
    return slave >= 0;
  }
  ~Pty() {
    if (master >= 0) ::close(master);
    if (slave >= 0) ::close(slave);
  }
};

enum class Out { kPipe, kFile, kTty };

struct TtyRun {
  int code = -1;
  std::string stdout_text;  // whatever reached stdout (pipe, file or terminal)
  std::string stderr_text;  // what the terminal on stderr showed
};

class TtyRunTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeWorkDir("tty");
    config_ = dir_ + "/tty.yaml";
    std::ofstream(config_) << "name: \"tty\"\n"
                           << "model:\n  name: \"Qwen/Qwen3-0.6B\"\n"
                           << "framework: \"vllm\"\n"
                           << "infrastructure:\n  provider: \"local\"\n  sim:\n    preset: \"tiny-fast\"\n"
                           << "    speed: 4.0\n    load_time_s: 0\n"
                           << "workload:\n  type: \"concurrent\"\n  concurrency: 2\n"
                           << "  requests:\n    source: \"" << fs::absolute("prompts/baseline.jsonl").string()
                           << "\"\n    count: 8\n"
                           << "  parameters:\n    max_tokens: 16\n"
                           << "metrics:\n  sample_interval_ms: 50\n";
  }

  // Runs ib-run with stderr on a terminal and stdout as asked; bounded by 60 s.
  TtyRun Run(Out out, std::vector<std::string> extra = {}) {
    TtyRun r;
    Pty err_tty, out_tty;
    if (!err_tty.Open() || (out == Out::kTty && !out_tty.Open())) {
      ADD_FAILURE() << "no pseudo-terminal";
      return r;
    }
    std::string out_file = dir_ + "/stdout.ndjson";
    int file_fd = -1;
    ib::proc::SpawnOptions o;
    o.argv = {fs::absolute("tools/ib-run/ib-run").string(), config_, "--output-dir", dir_ + "/results"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.env = {{"IB_BIN_DIR", dir_ + "/bin"}};
    o.stderr_fd = err_tty.slave;
    if (out == Out::kPipe) {
      o.pipe_stdout = true;
    } else {
      o.pipe_stdout = false;
      file_fd = out == Out::kFile ? ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                                  : out_tty.slave;
      o.stdout_fd = file_fd;
    }
    std::string error;
    auto child = ib::proc::Spawn(o, &error);
    // Only the child holds the slaves now: the masters read EIO once it (and its children) exit.
    ::close(err_tty.slave);
    err_tty.slave = -1;
    if (out == Out::kTty) {
      ::close(out_tty.slave);
      out_tty.slave = -1;
    }
    if (out == Out::kFile) ::close(file_fd);
    if (!child) {
      ADD_FAILURE() << error;
      return r;
    }
    std::vector<pollfd> fds = {{err_tty.master, POLLIN, 0}};
    if (out == Out::kPipe) fds.push_back({child->stdout_fd, POLLIN, 0});
    if (out == Out::kTty) fds.push_back({out_tty.master, POLLIN, 0});
    auto deadline = Clock::now() + std::chrono::seconds(60);
    std::size_t open_fds = fds.size();
    char buf[65536];
    while (open_fds > 0 && Clock::now() < deadline) {
      if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {  // EOF on the pipe, EIO on a master whose slave closed
          fds[i].fd = -1;
          --open_fds;
          continue;
        }
        (i == 0 ? r.stderr_text : r.stdout_text).append(buf, static_cast<std::size_t>(n));
      }
    }
    EXPECT_EQ(open_fds, 0u) << "ib-run did not finish within 60 s";
    if (out == Out::kPipe) ::close(child->stdout_fd);
    auto status = ib::proc::Terminate(child->pid, open_fds == 0 ? 30000 : 0);
    r.code = status.exited ? status.code : 128 + status.signal;
    if (out == Out::kFile) r.stdout_text = Slurp(out_file);
    return r;
  }

  std::string dir_, config_;
};

// Every line parses as an event and the last is `phase done`.
void ExpectPureNdjson(const std::string& text) {
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::istringstream lines(text);
  std::string line, last;
  int n = 0;
  while (std::getline(lines, line)) {
    auto parsed = ib::events::ParseEvent(line);
    EXPECT_TRUE(parsed.event) << parsed.error << ": " << line.substr(0, 200);
    last = line;
    ++n;
  }
  EXPECT_GT(n, 10);
  EXPECT_NE(last.find("\"phase\":\"done\""), std::string::npos) << last;
}

void ExpectDisplay(const std::string& err) {
  EXPECT_NE(err.find("provisioning_done http://127.0.0.1:"), std::string::npos) << err;
  // No sweep: no "── Sweep iteration 1/1 ── {}" line.
  EXPECT_EQ(err.find("Sweep iteration"), std::string::npos) << err;
  // The bar, redrawn in place, with live TTFT and throughput; it ends full.
  EXPECT_NE(err.find("\r\033[K  ["), std::string::npos) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex("\\] 8/8  TTFT [0-9]+ ms  [0-9]+ tok/s  [0-9.]+ s")))
      << "no full bar with live figures: " << err;
  EXPECT_NE(err.find("Summary of tty-"), std::string::npos) << err;
  EXPECT_NE(err.find("Requests          8 ok / 0 failed"), std::string::npos) << err;
  EXPECT_NE(err.find("ttft (ms)"), std::string::npos) << err;
  EXPECT_NE(err.find("\ndone\n"), std::string::npos) << err;
  EXPECT_EQ(err.find("{\"v\":"), std::string::npos) << "NDJSON on the terminal: " << err;
}

TEST_F(TtyRunTest, PipedStdoutIsPureNdjsonAndTheTerminalStaysQuiet) {
  TtyRun r = Run(Out::kPipe);
  ASSERT_EQ(r.code, 0) << r.stderr_text;
  ExpectPureNdjson(r.stdout_text);
  EXPECT_EQ(r.stderr_text, "");
}

TEST_F(TtyRunTest, StdoutToAFileShowsTheDisplayOnTheTerminal) {
  TtyRun r = Run(Out::kFile);
  ASSERT_EQ(r.code, 0) << r.stderr_text;
  ExpectPureNdjson(r.stdout_text);
  ExpectDisplay(r.stderr_text);
}

TEST_F(TtyRunTest, TerminalStdoutGetsNoNdjsonUnlessAsked) {
  TtyRun r = Run(Out::kTty);
  ASSERT_EQ(r.code, 0) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "");
  ExpectDisplay(r.stderr_text);
  TtyRun both = Run(Out::kTty, {"--ndjson"});
  ASSERT_EQ(both.code, 0) << both.stderr_text;
  ExpectPureNdjson(both.stdout_text);
}

TEST_F(TtyRunTest, ProgressFlagShowsTheDisplayEvenWhenPiped) {
  TtyRun r = Run(Out::kPipe, {"--progress"});
  ASSERT_EQ(r.code, 0) << r.stderr_text;
  ExpectPureNdjson(r.stdout_text);
  ExpectDisplay(r.stderr_text);
  TtyRun quiet = Run(Out::kFile, {"--quiet"});
  ASSERT_EQ(quiet.code, 0) << quiet.stderr_text;
  EXPECT_EQ(quiet.stderr_text, "");
}

}  // namespace
