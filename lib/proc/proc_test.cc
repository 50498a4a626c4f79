#include "lib/proc/proc.h"

#include <signal.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace ib::proc {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

TEST(Proc, SpawnsWithArgvAndCapturesStdout) {
  std::string error;
  SpawnOptions o;
  o.argv = {"/bin/echo", "a b", "$HOME;", "*"};  // no shell: nothing is expanded
  auto child = Spawn(o, &error);
  ASSERT_TRUE(child) << error;
  EXPECT_EQ(ReadAll(child->stdout_fd), "a b $HOME; *\n");
  auto status = Wait(child->pid);
  EXPECT_TRUE(status.exited);
  EXPECT_EQ(status.code, 0);
  EXPECT_EQ(status.Describe(), "exit 0");
}

TEST(Proc, MissingBinaryIsAnErrorNotAChild) {
  std::string error;
  SpawnOptions o;
  o.argv = {"/nonexistent/ib-nothing"};
  EXPECT_FALSE(Spawn(o, &error));
  EXPECT_EQ(error, "cannot execute /nonexistent/ib-nothing: No such file or directory");
}

TEST(Proc, StdinPipeAndEnvironment) {
  std::string error;
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "read x; echo \"$x-$IB_TEST_VAR\""};
  o.pipe_stdin = true;
  o.env = {{"IB_TEST_VAR", "set"}};
  auto child = Spawn(o, &error);
  ASSERT_TRUE(child) << error;
  ASSERT_EQ(write(child->stdin_fd, "hello\n", 6), 6);
  close(child->stdin_fd);
  EXPECT_EQ(ReadAll(child->stdout_fd), "hello-set\n");
  EXPECT_EQ(Wait(child->pid).code, 0);
}

TEST(Proc, TerminateEscalatesToSigkill) {
  std::string error;
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30"};
  auto child = Spawn(o, &error);
  ASSERT_TRUE(child) << error;
  char buf[6];
  ASSERT_EQ(read(child->stdout_fd, buf, 6), 6);  // the trap is installed
  auto status = Terminate(child->pid, 200);
  EXPECT_TRUE(status.signaled);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.Describe(), "killed by SIGKILL");
  close(child->stdout_fd);
}

TEST(Proc, TryWaitReportsRunningThenExited) {
  std::string error;
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "read x; exit 3"};
  o.pipe_stdin = true;
  o.pipe_stdout = false;
  auto child = Spawn(o, &error);
  ASSERT_TRUE(child) << error;
  EXPECT_FALSE(TryWait(child->pid));
  close(child->stdin_fd);
  auto status = Wait(child->pid);
  EXPECT_EQ(status.code, 3);
}

TEST(Proc, FindToolSearchesPath) {
  EXPECT_EQ(FindTool("sh").empty(), false);
  EXPECT_EQ(FindTool("ib-definitely-not-a-tool"), "");
}

}  // namespace
}  // namespace ib::proc
