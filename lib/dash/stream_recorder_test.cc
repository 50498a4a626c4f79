// StreamRecorder against a real results directory: a run is saved once, by ib-dash only when
// no other writer's file appeared within the grace, on shutdown too.
#include "lib/dash/stream_recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/results/file.h"

namespace ib::dash {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;

std::string FreshDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/recorder-" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

events::Phase Phase(const std::string& run, const std::string& name) { return {run, name, {}}; }

events::RequestComplete Request(const std::string& run, int64_t index) {
  events::RequestComplete r;
  r.run_id = run;
  r.request_index = index;
  r.start_ms = 1;
  r.end_ms = 20;
  r.ttft_ms = 5;
  r.e2e_latency_ms = 19;
  r.completion_tokens = 4;
  return r;
}

// Feeds a started run with two requests on `source` (not finished).
void FeedRun(StreamRecorder& recorder, const std::string& source, const std::string& run,
             bool from_ib_run = false) {
  if (from_ib_run) recorder.Add(source, Phase(run, events::phase::kSweepIteration));
  recorder.Add(source, Phase(run, events::phase::kExecution));
  recorder.Add(source, Request(run, 0));
  recorder.Add(source, Request(run, 1));
}

// What an ib-aggregate fed the same stream writes.
void WriteAsAnotherTool(const std::string& dir, const std::string& run) {
  results::StreamAggregator aggregator{results::AggregateOptions{}};
  for (events::Event e : std::vector<events::Event>{Phase(run, events::phase::kExecution),
                                                     Request(run, 0), Request(run, 1)}) {
    aggregator.Add(std::move(e));
  }
  auto runs = aggregator.Finish("end of stream");
  ASSERT_EQ(runs.size(), 1u);
  std::string path, error;
  ASSERT_TRUE(results::WriteRunFile(dir, runs[0], &path, &error)) << error;
}

struct Published {
  std::vector<events::Event> events;
  std::function<void(const events::Event&)> sink() {
    return [this](const events::Event& e) { events.push_back(e); };
  }
  bool HasLog(const std::string& part) const {
    for (const auto& e : events) {
      if (const auto* log = std::get_if<events::Log>(&e);
          log && log->message.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  int Summaries() const {
    int n = 0;
    for (const auto& e : events) n += std::holds_alternative<events::Summary>(e);
    return n;
  }
};

TEST(StreamRecorder, AStreamWithoutAWriterIsSavedOnceWhenItsGraceIsOver) {
  std::string dir = FreshDir("no-writer");
  Published published;
  StreamRecorder recorder(dir, published.sink(), milliseconds(0));
  FeedRun(recorder, "stdin", "solo-1");
  recorder.EndStream("stdin");
  recorder.Tick();
  EXPECT_EQ(Files(dir), std::vector<std::string>{"solo-1.json"});
  EXPECT_EQ(published.Summaries(), 1);
  EXPECT_EQ(recorder.pending(), 0u);
}

TEST(StreamRecorder, AFileWrittenWithinTheGraceIsKeptAndNotDuplicated) {
  std::string dir = FreshDir("writer");
  Published published;
  StreamRecorder recorder(dir, published.sink(), hours(1));
  FeedRun(recorder, "stdin", "both-1");
  recorder.EndStream("stdin");  // the stream ended: nothing is written at once
  EXPECT_EQ(Files(dir), std::vector<std::string>{});
  EXPECT_EQ(recorder.pending(), 1u);
  WriteAsAnotherTool(dir, "both-1");
  recorder.Tick();
  EXPECT_EQ(recorder.pending(), 0u);
  EXPECT_EQ(Files(dir), std::vector<std::string>{"both-1.json"});
  EXPECT_EQ(published.Summaries(), 0);
  EXPECT_TRUE(published.HasLog("ib-aggregate wrote it"));
}

TEST(StreamRecorder, ASummaryInTheStreamMeansTheRunIsSaved) {
  std::string dir = FreshDir("summary");
  Published published;
  StreamRecorder recorder(dir, published.sink(), milliseconds(0));
  FeedRun(recorder, "stdin", "sum-1");
  recorder.Add("stdin", Phase("sum-1", events::phase::kIterationDone));
  recorder.Add("stdin", events::Summary{"sum-1", {{"result_path", "elsewhere"}}});
  recorder.EndStream("stdin");
  recorder.Tick();
  EXPECT_EQ(Files(dir), std::vector<std::string>{});
}

TEST(StreamRecorder, AWriterStillWritingPostponesTheSave) {
  std::string dir = FreshDir("temp");
  Published published;
  StreamRecorder recorder(dir, published.sink(), milliseconds(0));
  FeedRun(recorder, "stdin", "slow-1");
  std::string temp = dir + "/.slow-1.json.tmp-4242";
  std::ofstream(temp) << "{";
  recorder.EndStream("stdin");
  recorder.Tick();
  EXPECT_EQ(recorder.pending(), 1u);
  EXPECT_EQ(Files(dir), std::vector<std::string>{".slow-1.json.tmp-4242"});
  fs::remove(temp);
  WriteAsAnotherTool(dir, "slow-1");
  recorder.Tick();
  EXPECT_EQ(Files(dir), std::vector<std::string>{"slow-1.json"});
  EXPECT_EQ(recorder.pending(), 0u);
}

TEST(StreamRecorder, ShutdownWaitsTheBoundedGraceThenSavesOnlyTheMissingRuns) {
  std::string dir = FreshDir("shutdown");
  Published published;
  StreamRecorder recorder(dir, published.sink(), hours(1));
  FeedRun(recorder, "a", "ended-written");
  recorder.EndStream("a");
  FeedRun(recorder, "b", "ended-alone");
  recorder.EndStream("b");
  FeedRun(recorder, "c", "open-piped");  // still open: saved as partial
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(100));
    WriteAsAnotherTool(dir, "ended-written");
  });
  // The deadline bounds the hour-long grace; the writer's file appears well before it.
  recorder.FlushAll("ib-dash stopped", StreamRecorder::Clock::now() + milliseconds(3000));
  writer.join();
  EXPECT_EQ(Files(dir), (std::vector<std::string>{"ended-alone.json", "ended-written.json",
                                                  "open-piped.json"}));
  EXPECT_EQ(published.Summaries(), 2);
  EXPECT_EQ(recorder.pending(), 0u);
}

TEST(StreamRecorder, ShutdownLeavesAnOpenIbRunStreamToItsIbAggregate) {
  std::string dir = FreshDir("ib-run");
  Published published;
  StreamRecorder recorder(dir, published.sink(), hours(1));
  FeedRun(recorder, "stdin", "sweep-c1", /*from_ib_run=*/true);
  recorder.FlushAll("ib-dash stopped", StreamRecorder::Clock::now());
  EXPECT_EQ(Files(dir), std::vector<std::string>{});
  EXPECT_TRUE(published.HasLog("left to ib-run's ib-aggregate"));
}

TEST(StreamRecorder, AnEndedIbRunStreamWithoutAFileIsStillSaved) {
  // ib-run and its ib-aggregate both killed: nobody else will write it.
  std::string dir = FreshDir("ib-run-ended");
  Published published;
  StreamRecorder recorder(dir, published.sink(), milliseconds(0));
  FeedRun(recorder, "stdin", "sweep-c2", /*from_ib_run=*/true);
  recorder.EndStream("stdin");
  recorder.Tick();
  EXPECT_EQ(Files(dir), std::vector<std::string>{"sweep-c2.json"});
}

}  // namespace
}  // namespace ib::dash
