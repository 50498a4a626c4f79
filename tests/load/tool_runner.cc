#include "tests/load/tool_runner.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include "lib/events/stream.h"
#include "lib/proc/proc.h"

namespace ib::load::testing {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

ToolRun RunIbLoad(std::vector<std::string> args, const std::function<void(pid_t, const events::Event&)>& on_event) {
  ToolRun run;
  std::string bin = proc::FindTool("ib-load");
  EXPECT_FALSE(bin.empty()) << "ib-load not found";
  args.insert(args.begin(), bin);
  char err_path[] = "/tmp/ib-load-test-stderr-XXXXXX";
  int err_fd = mkstemp(err_path);
  std::string error;
  auto child = proc::Spawn({.argv = args, .stderr_fd = err_fd}, &error);
  EXPECT_TRUE(child.has_value()) << error;
  if (!child) {
    close(err_fd);
    unlink(err_path);
    return run;
  }
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && !finished; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!finished) kill(child->pid, SIGKILL);
  });
  events::EventReader reader(child->stdout_fd, "ib-load");
  while (auto item = reader.Next()) {
    EXPECT_TRUE(item->valid) << item->raw;
    if (on_event) on_event(child->pid, item->event);
    run.events.push_back(item->event);
  }
  close(child->stdout_fd);
  proc::ExitStatus st = proc::Wait(child->pid);
  finished = true;
  watchdog.join();
  run.exit_code = st.exited ? st.code : 128 + st.signal;
  std::ifstream in(err_path);
  run.stderr_text.assign(std::istreambuf_iterator<char>(in), {});
  close(err_fd);
  unlink(err_path);
  return run;
}

std::vector<events::Phase> Phases(const ToolRun& run, const std::string& name) {
  std::vector<events::Phase> out;
  for (auto& p : All<events::Phase>(run))
    if (p.phase == name) out.push_back(p);
  return out;
}

}  // namespace ib::load::testing
