#include "lib/orchestrate/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/events/events.h"
#include "lib/orchestrate/signals.h"

namespace ib::orchestrate {
namespace {

std::string ReadAvailable(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

std::string TempDir() {
  std::string tmpl = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                     "/outXXXXXX";
  return ::mkdtemp(tmpl.data());
}

struct Collector : LineSink {
  std::vector<std::string> lines;
  void Write(std::string_view line) override { lines.emplace_back(line); }
};

TEST(StreamOutput, WritesLinesObservesAndCopiesIntoAFifo) {
  StopSignals::Install();  // SIGPIPE ignored
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::string fifo = TempDir() + "/stream.fifo";
  StreamOutput out(p[1], fifo);
  std::string error;
  ASSERT_TRUE(out.Open(&error)) << error;
  struct stat st{};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  std::vector<std::string> seen;
  out.Observe([&](std::string_view line) { seen.emplace_back(line); });
  out.Write(R"({"a":1})");
  out.Write(R"({"b":2})");
  ::close(p[1]);
  EXPECT_EQ(ReadAvailable(p[0]), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(ReadAvailable(reader), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(seen, (std::vector<std::string>{R"({"a":1})", R"({"b":2})"}));
  EXPECT_EQ(out.lines_written(), 2);
  ::close(reader);
  ::close(p[0]);
}

TEST(StreamOutput, NoFifoReaderIsNotAnErrorAndAClosedStdoutIsReported) {
  StopSignals::Install();
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  StreamOutput out(p[1], TempDir() + "/nobody.fifo");
  std::string error;
  ASSERT_TRUE(out.Open(&error)) << error;
  out.Write("one");
  EXPECT_TRUE(out.ok());
  ::close(p[0]);  // the reader of stdout goes away
  out.Write("two");
  EXPECT_FALSE(out.ok());
  ::close(p[1]);
}

TEST(StreamOutput, FifoPathThatIsAFileIsAnError) {
  std::string path = TempDir() + "/plain";
  std::ofstream(path) << "x";
  StreamOutput out(1, path);
  std::string error;
  EXPECT_FALSE(out.Open(&error));
  EXPECT_EQ(error, path + " exists and is not a FIFO");
}

TEST(AggregateStage, RelaysTheFilterOutputAndFinishesAtEof) {
  Collector down;
  AggregateStage agg(down);
  std::string error;
  // A filter that passes lines through and adds one line when its input ends.
  ASSERT_TRUE(agg.Start({"/bin/sh", "-c", "cat; echo summary-at-eof"}, &error)) << error;
  agg.Write("l1");
  agg.Write(std::string(100000, 'z'));
  agg.Write("l3");
  auto status = agg.Finish(20000);
  EXPECT_EQ(status.code, 0);
  ASSERT_EQ(down.lines.size(), 4u);
  EXPECT_EQ(down.lines[0], "l1");
  EXPECT_EQ(down.lines[1].size(), 100000u);
  EXPECT_EQ(down.lines[2], "l3");
  EXPECT_EQ(down.lines[3], "summary-at-eof");
}

TEST(AggregateStage, StderrLinesBecomeLogEvents) {
  Collector down;
  AggregateStage agg(down);
  std::string error;
  ASSERT_TRUE(agg.Start({"/bin/sh", "-c", "cat; echo 'ib-aggregate: error: disk full' >&2"}, &error,
                        "run-1"))
      << error;
  agg.Write("l1");
  EXPECT_EQ(agg.Finish(20000).code, 0);
  ASSERT_EQ(down.lines.size(), 2u);
  // Two relay threads: the log may land on either side of "l1".
  bool first_is_data = down.lines[0] == "l1";
  EXPECT_EQ(down.lines[first_is_data ? 0 : 1], "l1");
  auto parsed = events::ParseEvent(down.lines[first_is_data ? 1 : 0]);
  ASSERT_TRUE(parsed.event) << parsed.error;
  const auto& log = std::get<events::Log>(*parsed.event);
  EXPECT_EQ(log.run_id, "run-1");
  EXPECT_EQ(log.level, "error");
  EXPECT_EQ(log.source, "ib-aggregate");
  EXPECT_EQ(log.message, "ib-aggregate: error: disk full");
}

TEST(AggregateStage, LinesStillFlowWhenTheFilterDies) {
  StopSignals::Install();
  Collector down;
  AggregateStage agg(down);
  std::string error;
  ASSERT_TRUE(agg.Start({"/bin/sh", "-c", "exit 5"}, &error)) << error;
  siginfo_t info{};
  ::waitid(P_PID, static_cast<id_t>(agg.pid()), &info, WEXITED | WNOWAIT);  // exited, not reaped
  for (int i = 0; i < 3; ++i) agg.Write("line" + std::to_string(i));
  EXPECT_FALSE(agg.alive());
  EXPECT_EQ(agg.Finish(20000).code, 5);
  // Whatever the dead filter could not take went straight downstream.
  ASSERT_FALSE(down.lines.empty());
  EXPECT_EQ(down.lines.back(), "line2");
}

TEST(AggregateStage, MissingBinaryIsAnError) {
  Collector down;
  AggregateStage agg(down);
  std::string error;
  EXPECT_FALSE(agg.Start({"/nonexistent/ib-aggregate"}, &error));
  EXPECT_NE(error.find("cannot execute"), std::string::npos);
}

}  // namespace
}  // namespace ib::orchestrate
