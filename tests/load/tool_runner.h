// Runs the real ib-load binary in a test and collects its events, exit code and stderr.
// Bounded: the child is killed after 60 s whatever happens.
//
//   ib::load::testing::ToolRun run = ib::load::testing::RunIbLoad({"--url", url, "--requests", "4"});
//   EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "lib/events/events.h"

namespace ib::load::testing {

struct ToolRun {
  std::vector<events::Event> events;
  int exit_code = -1;
  std::string stderr_text;
};

ToolRun RunIbLoad(std::vector<std::string> args,
                  const std::function<void(pid_t, const events::Event&)>& on_event = nullptr);

template <typename T>
std::vector<T> All(const ToolRun& run) {
  std::vector<T> out;
  for (auto& e : run.events)
    if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
  return out;
}

std::vector<events::Phase> Phases(const ToolRun& run, const std::string& name);

int64_t MonotonicNs();

}  // namespace ib::load::testing
