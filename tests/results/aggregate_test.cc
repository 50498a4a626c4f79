// ib-aggregate end to end: the real binary, fed through pipes.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/events/events.h"
#include "lib/events/stream.h"
#include "lib/proc/proc.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

struct Outcome {
  std::string out;
  ib::proc::ExitStatus status;
};

// Starts ib-aggregate with args, writes input (then closes stdin unless keep_open), and
// collects stdout. on_started runs once the child is up (to send it a signal).
Outcome RunAggregate(const std::vector<std::string>& args, const std::string& input,
                 const std::function<void(pid_t, const std::function<std::string()>&)>&
                     after_input = nullptr) {
  ib::proc::SpawnOptions options;
  options.argv = {ib::proc::FindTool("ib-aggregate")};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.pipe_stdin = true;
  std::string error;
  auto child = ib::proc::Spawn(options, &error);
  EXPECT_TRUE(child) << error;
  if (!child) return {};
  std::string out;
  std::mutex mu;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = read(child->stdout_fd, buf, sizeof buf)) > 0) {
      std::lock_guard<std::mutex> lock(mu);
      out.append(buf, static_cast<std::size_t>(n));
    }
  });
  ib::events::WriteAll(child->stdin_fd, input);
  if (after_input) {
    after_input(child->pid, [&] {
      std::lock_guard<std::mutex> lock(mu);
      return out;
    });
  }
  close(child->stdin_fd);
  // Bounded: a hung filter is killed rather than hanging the test.
  ib::proc::ExitStatus status;
  for (int i = 0; i < 300; ++i) {
    if (auto s = ib::proc::TryWait(child->pid)) {
      status = *s;
      break;
    }
    if (i == 299) status = ib::proc::Terminate(child->pid, 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  reader.join();
  close(child->stdout_fd);
  return {out, status};
}

TEST(IbAggregate, PassesEveryLineThroughAndWritesOneFilePerRun) {
  std::string dir = TempDir("agg-golden");
  std::string input = Slurp("tests/results/golden-run.ndjson");
  Outcome run = RunAggregate({"--output-dir", dir}, input);
  ASSERT_TRUE(run.status.exited) << run.status.Describe();
  EXPECT_EQ(run.status.code, 0);
  std::vector<std::string> in = Lines(input), out = Lines(run.out);
  // Output = input in order, with the bad line's error event right after it and a summary
  // after each run's last line.
  std::size_t j = 0;
  int errors = 0, summaries = 0;
  for (const auto& line : out) {
    if (j < in.size() && line == in[j]) {
      ++j;
      continue;
    }
    auto parsed = ib::events::ParseEvent(line);
    ASSERT_TRUE(parsed.event) << line;
    if (auto* e = std::get_if<ib::events::Error>(&*parsed.event)) {
      ++errors;
      EXPECT_EQ(e->line, 6);
      EXPECT_EQ(in[j - 1], "this line is not JSON");
    } else if (auto* s = std::get_if<ib::events::Summary>(&*parsed.event)) {
      ++summaries;
      std::string path = s->data["result_path"];
      EXPECT_TRUE(fs::exists(path)) << path;
      if (summaries == 1) {
        EXPECT_EQ(s->run_id, "golden-c2-20261128-030000");
        EXPECT_EQ(s->data["status"], "completed");
        EXPECT_EQ(s->data["successful_requests"], 3);
        EXPECT_NE(in[j - 1].find("iteration_done"), std::string::npos);  // right after it
      } else {
        EXPECT_EQ(s->data["status"], "partial");
        EXPECT_EQ(s->data["stop_reason"], "end of stream before the run finished");
      }
    } else {
      ADD_FAILURE() << "unexpected line " << line;
    }
  }
  EXPECT_EQ(j, in.size());
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(summaries, 2);
  json file = json::parse(Slurp(dir + "/golden-c2-20261128-030000.json"));
  EXPECT_EQ(file["summary"]["total_requests"], 4);
  EXPECT_EQ(file["status"], "completed");

  // The same stream again: nothing is overwritten.
  Outcome again = RunAggregate({"--output-dir", dir}, input);
  EXPECT_EQ(again.status.code, 0);
  EXPECT_TRUE(fs::exists(dir + "/golden-c2-20261128-030000-2.json"));
  EXPECT_TRUE(fs::exists(dir + "/golden-c4-20261128-030005-2.json"));
}

TEST(IbAggregate, SigintWritesOpenRunsAsPartial) {
  std::string dir = TempDir("agg-sigint");
  std::string input = Slurp("tests/results/golden-run.ndjson");
  // Only the second run's lines, and stdin stays open until the signal.
  std::string second = input.substr(input.find("{\"v\":2,\"type\":\"phase\",\"run_id\":\"golden-c4"));
  Outcome run = RunAggregate({"--output-dir", dir}, second, [&](pid_t pid, const auto& output) {
    // Once every line was forwarded the filter waits on stdin (still open): interrupt it.
    for (int i = 0; i < 500 && output().size() < second.size(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGINT);
  });
  ASSERT_TRUE(run.status.exited) << run.status.Describe();
  EXPECT_EQ(run.status.code, 130);
  json file = json::parse(Slurp(dir + "/golden-c4-20261128-030005.json"));
  EXPECT_EQ(file["status"], "partial");
  EXPECT_EQ(file["stop_reason"], "interrupted by SIGINT");
  EXPECT_EQ(file["summary"]["successful_requests"], 1);
  EXPECT_NE(run.out.find("\"type\":\"summary\""), std::string::npos);
}

TEST(IbAggregate, OutputDirComesFromTheConfigWhenNoFlag) {
  std::string dir = TempDir("agg-config");
  std::string line =
      R"({"v":2,"type":"phase","run_id":"cfg-1","phase":"execution","data":{"experiment":{"metrics":{"output_dir":")" +
      dir + R"(/from-config"}}}})" "\n" R"({"v":2,"type":"phase","run_id":"cfg-1","phase":"iteration_done","data":{}})" "\n";
  Outcome run = RunAggregate({}, line);
  EXPECT_EQ(run.status.code, 0);
  EXPECT_TRUE(fs::exists(dir + "/from-config/cfg-1.json"));
}

TEST(IbAggregate, BadUsageAndUnwritableDirectory) {
  Outcome usage = RunAggregate({"--percentiles", "50,abc"}, "");
  EXPECT_EQ(usage.status.code, 2);
  std::string file = TempDir("agg-bad") + "/file";
  std::ofstream(file) << "x";
  Outcome unwritable = RunAggregate({"--output-dir", file + "/sub"},
                                R"({"v":2,"type":"phase","run_id":"u","phase":"execution","data":{}})" "\n");
  EXPECT_EQ(unwritable.status.code, 1);
  EXPECT_NE(unwritable.out.find("cannot write the results of u"), std::string::npos);
}

}  // namespace
