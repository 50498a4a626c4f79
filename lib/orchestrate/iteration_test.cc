#include "lib/orchestrate/iteration.h"

#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/orchestrate/signals.h"

namespace ib::orchestrate {
namespace {

const char* kFake = "tests/run/fake_tool";

struct Collector : LineSink {
  std::vector<std::string> lines;
  void Write(std::string_view line) override { lines.emplace_back(line); }
};

proc::SpawnOptions Fake(std::vector<std::string> args) {
  proc::SpawnOptions o;
  o.argv = {kFake};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  return o;
}

IterationPlan Plan(std::vector<std::string> load_args) {
  IterationPlan plan;
  plan.run_id = "r1";
  plan.scrape = Fake({"--as", "ib-scrape", "--run-id", "r1", "--interval-ms", "2"});
  std::vector<std::string> args = {"--as", "ib-load", "--run-id", "r1"};
  args.insert(args.end(), load_args.begin(), load_args.end());
  plan.load = Fake(args);
  return plan;
}

// Index of the first line containing `needle`, or -1.
int Find(const std::vector<std::string>& lines, const std::string& needle) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find(needle) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

TEST(IsIterationDone, RecognizesOnlyThePhase) {
  std::string reason;
  EXPECT_TRUE(IsIterationDone(
      R"({"v":2,"type":"phase","run_id":"r","phase":"iteration_done","data":{"reason":"completed"}})",
      &reason));
  EXPECT_EQ(reason, "completed");
  EXPECT_FALSE(IsIterationDone(
      R"({"v":2,"type":"log","run_id":"r","level":"info","message":"iteration_done","timestamp":"","source":"x"})"));
  EXPECT_FALSE(IsIterationDone("iteration_done but not JSON"));
}

TEST(RunIteration, IterationDoneComesAfterTheLastScrapeLine) {
  Supervisor sup;
  Collector sink;
  auto r = RunIteration(sup, sink, Plan({"--requests", "20", "--delay-ms", "3"}), nullptr);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.reason, "completed");
  int stopped = Find(sink.lines, "scrape stopped");
  int done = Find(sink.lines, "iteration_done");
  int exiting = Find(sink.lines, "load exiting");
  ASSERT_GE(stopped, 0);
  ASSERT_GE(done, 0);
  EXPECT_LT(stopped, done);
  EXPECT_EQ(exiting, done + 1);  // ib-load's later lines waited behind the held one
  EXPECT_EQ(r.scrape_status->code, 0);
  EXPECT_EQ(r.load_status->code, 0);
}

TEST(RunIteration, StopRequestInterruptsLoadAndStillOrdersTheStream) {
  StopSignals::Install();
  StopSignals::Reset();
  Supervisor sup;
  sup.WakeOn(StopSignals::WakeFd());
  Collector sink;
  std::thread stopper([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    StopSignals::Raise(SIGINT);
  });
  auto r = RunIteration(sup, sink, Plan({"--requests", "100000", "--delay-ms", "5"}),
                        [] { return StopSignals::Count() > 0; });
  stopper.join();
  EXPECT_TRUE(r.interrupted);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.reason, "interrupted");
  EXPECT_EQ(r.load_status->code, 130);
  EXPECT_LT(Find(sink.lines, "scrape stopped"), Find(sink.lines, "iteration_done"));
  StopSignals::Reset();
}

TEST(RunIteration, LoadIgnoringSigtermIsKilled) {
  StopSignals::Install();
  StopSignals::Reset();
  StopSignals::Raise(SIGTERM);  // already stopping when the iteration starts
  Supervisor sup;
  Collector sink;
  IterationPlan plan = Plan({"--requests", "100000", "--delay-ms", "5", "--ignore-term"});
  plan.stop_grace_ms = 300;
  auto r = RunIteration(sup, sink, plan, [] { return StopSignals::Count() > 0; });
  EXPECT_TRUE(r.interrupted);
  EXPECT_FALSE(r.iteration_done);
  ASSERT_TRUE(r.load_status);
  EXPECT_TRUE(r.load_status->signaled);
  EXPECT_TRUE(r.scrape_status);  // stopped (perhaps before it installed its handler) and reaped
  StopSignals::Reset();
}

TEST(RunIteration, LoadCrashIsAFailureAndScrapeIsStillStopped) {
  Supervisor sup;
  Collector sink;
  auto r = RunIteration(sup, sink, Plan({"--requests", "10", "--crash-after", "3"}), nullptr);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "ib-load ended (exit 3) before its workload finished");
  EXPECT_EQ(r.scrape_status->code, 0);
  EXPECT_GE(Find(sink.lines, "scrape stopped"), 0);
}

TEST(RunIteration, MissingScrapeIsAWarningNotAFailure) {
  Supervisor sup;
  Collector sink;
  IterationPlan plan = Plan({"--requests", "3"});
  plan.scrape->argv[0] = "/nonexistent/ib-scrape";
  auto r = RunIteration(sup, sink, plan, nullptr);
  EXPECT_TRUE(r.ok()) << r.error;
  int warn = Find(sink.lines, "no GPU metrics: cannot execute /nonexistent/ib-scrape");
  EXPECT_EQ(warn, 0);
}

TEST(RunIteration, MissingLoadIsAnError) {
  Supervisor sup;
  Collector sink;
  IterationPlan plan = Plan({});
  plan.load.argv[0] = "/nonexistent/ib-load";
  auto r = RunIteration(sup, sink, plan, nullptr);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("cannot start ib-load: cannot execute"), std::string::npos);
  EXPECT_EQ(r.scrape_status->code, 0);
}

}  // namespace
}  // namespace ib::orchestrate
