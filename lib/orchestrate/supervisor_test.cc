#include "lib/orchestrate/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/orchestrate/signals.h"

namespace ib::orchestrate {
namespace {

proc::SpawnOptions Shell(const std::string& script) {
  proc::SpawnOptions o;
  o.argv = {"/bin/sh", "-c", script};
  return o;
}

struct Collected {
  std::vector<std::pair<std::string, std::string>> lines;  // (child name, line)
};

Supervisor::LineHandler Collect(Supervisor& sup, Collected& out) {
  return [&sup, &out](Supervisor::ChildId id, std::string line) {
    out.lines.emplace_back(sup.Name(id), std::move(line));
  };
}

TEST(Supervisor, DeliversWholeLinesFromEveryChildAndReaps) {
  Supervisor sup;
  Collected got;
  std::string error;
  // Two children writing lines far longer than PIPE_BUF in several pieces each.
  std::string big(70000, 'x');
  auto a = sup.Start("a", Shell("for i in 1 2 3; do printf 'a%s-' $i; printf '" + big + "\\n'; done"),
                     Collect(sup, got), &error);
  auto b = sup.Start("b", Shell("for i in 1 2 3; do printf 'b%s-" + big + "\\n' $i; done; exit 4"),
                     Collect(sup, got), &error);
  ASSERT_TRUE(a && b) << error;
  ASSERT_TRUE(sup.PumpUntil([&] { return sup.Finished(*a) && sup.Finished(*b); }, 20000));
  std::map<std::string, int> next = {{"a", 1}, {"b", 1}};
  ASSERT_EQ(got.lines.size(), 6u);
  for (auto& [name, line] : got.lines) {
    EXPECT_EQ(line, name + std::to_string(next[name]++) + "-" + big);  // whole and in order
  }
  EXPECT_EQ(sup.Status(*a)->code, 0);
  EXPECT_EQ(sup.Status(*b)->code, 4);
  EXPECT_TRUE(sup.Running().empty());
}

TEST(Supervisor, StderrIsASecondStreamThatPauseDoesNotHold) {
  Supervisor sup;
  std::vector<std::string> out, err;
  std::string error;
  auto id = sup.Start("e", Shell("echo o1; echo hold; echo e1 >&2; echo o2; printf e2 >&2"),
                      [&](Supervisor::ChildId cid, std::string line) {
                        if (line == "hold") sup.Pause(cid);
                        out.push_back(line);
                      },
                      &error, [&](Supervisor::ChildId, std::string line) { err.push_back(line); });
  ASSERT_TRUE(id) << error;
  sup.PumpUntil([&] { return sup.Exited(*id) && err.size() == 2; }, 20000);
  EXPECT_EQ(err, (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(out, (std::vector<std::string>{"o1", "hold"}));
  sup.Resume(*id);
  ASSERT_TRUE(sup.PumpUntil([&] { return sup.Finished(*id); }, 20000));
  EXPECT_EQ(out.back(), "o2");
}

TEST(Supervisor, UnterminatedLastLineBlankLinesAndCarriageReturns) {
  Supervisor sup;
  Collected got;
  std::string error;
  auto id = sup.Start("c", Shell("printf 'one\\r\\n\\n\\ntwo\\nthree'"), Collect(sup, got), &error);
  ASSERT_TRUE(id) << error;
  ASSERT_TRUE(sup.PumpUntil([&] { return sup.Finished(*id); }, 20000));
  ASSERT_EQ(got.lines.size(), 3u);
  EXPECT_EQ(got.lines[0].second, "one");
  EXPECT_EQ(got.lines[1].second, "two");
  EXPECT_EQ(got.lines[2].second, "three");
}

TEST(Supervisor, PauseHoldsBackLinesAlreadyRead) {
  Supervisor sup;
  std::vector<std::string> got;
  std::string error;
  Supervisor::ChildId self = -1;
  auto id = sup.Start("p", Shell("printf 'first\\nhold\\nafter1\\nafter2\\n'"),
                      [&](Supervisor::ChildId cid, std::string line) {
                        self = cid;
                        if (line == "hold") sup.Pause(cid);
                        got.push_back(line);
                      },
                      &error);
  ASSERT_TRUE(id) << error;
  // The child exits and its pipe reaches EOF, but the paused lines stay undelivered.
  sup.PumpUntil([&] { return sup.Exited(*id); }, 20000);
  for (int i = 0; i < 5; ++i) sup.Pump(10);
  EXPECT_EQ(got, (std::vector<std::string>{"first", "hold"}));
  EXPECT_FALSE(sup.Drained(*id));
  sup.Resume(*id);
  ASSERT_TRUE(sup.PumpUntil([&] { return sup.Finished(*id); }, 20000));
  EXPECT_EQ(got, (std::vector<std::string>{"first", "hold", "after1", "after2"}));
  EXPECT_EQ(self, *id);
}

TEST(Supervisor, OversizedLineBecomesAnErrorEventAndReadingGoesOn) {
  Supervisor sup;
  Collected got;
  std::string error;
  // 9 MiB without a newline, then a normal line.
  auto id = sup.Start("big", Shell("head -c 9437184 /dev/zero | tr '\\0' 'y'; printf '\\nok\\n'"),
                      Collect(sup, got), &error);
  ASSERT_TRUE(id) << error;
  ASSERT_TRUE(sup.PumpUntil([&] { return sup.Finished(*id); }, 60000));
  ASSERT_EQ(got.lines.size(), 2u);
  auto parsed = events::ParseEvent(got.lines[0].second);
  ASSERT_TRUE(parsed.event) << parsed.error;
  auto* err = std::get_if<events::Error>(&*parsed.event);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->source, "big");
  EXPECT_EQ(err->line, 1);
  EXPECT_NE(err->message.find("longer than"), std::string::npos);
  EXPECT_EQ(got.lines[1].second, "ok");
}

TEST(Supervisor, StopEscalatesToSigkillAndKeepsEarlierLines) {
  Supervisor sup;
  Collected got;
  std::string error;
  auto id = sup.Start("stubborn", Shell("trap '' TERM; echo ready; exec sleep 30"),
                      Collect(sup, got), &error);
  ASSERT_TRUE(id) << error;
  ASSERT_TRUE(sup.PumpUntil([&] { return !got.lines.empty(); }, 20000));
  auto status = sup.Stop(*id, 200);
  EXPECT_TRUE(status.signaled);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(got.lines.at(0).second, "ready");
}

TEST(Supervisor, WakeFdEndsAPumpEarlyAndStopPredicateIsHonoured) {
  StopSignals::Install();
  StopSignals::Reset();
  Supervisor sup;
  sup.WakeOn(StopSignals::WakeFd());
  Collected got;
  std::string error;
  auto id = sup.Start("sleeper", Shell("exec sleep 30"), Collect(sup, got), &error);
  ASSERT_TRUE(id) << error;
  StopSignals::Raise(SIGINT);
  bool done = sup.PumpUntil([&] { return sup.Finished(*id); }, -1,
                            [] { return StopSignals::Count() > 0; });
  EXPECT_FALSE(done);
  EXPECT_EQ(StopSignals::Last(), SIGINT);
  EXPECT_TRUE(sup.Stop(*id, 5000).signaled);
  StopSignals::Reset();
}

TEST(Supervisor, SpawnFailureIsAnError) {
  Supervisor sup;
  std::string error;
  proc::SpawnOptions o;
  o.argv = {"/nonexistent/ib-load"};
  EXPECT_FALSE(sup.Start("ib-load", o, [](Supervisor::ChildId, std::string) {}, &error));
  EXPECT_NE(error.find("cannot execute /nonexistent/ib-load"), std::string::npos);
}

TEST(Supervisor, DestructorKillsWhatStillRuns) {
  pid_t pid;
  {
    Supervisor sup;
    std::string error;
    auto id = sup.Start("long", Shell("exec sleep 30"), [](Supervisor::ChildId, std::string) {},
                        &error);
    ASSERT_TRUE(id) << error;
    pid = sup.Pid(*id);
  }
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: the pid no longer exists
}

}  // namespace
}  // namespace ib::orchestrate
