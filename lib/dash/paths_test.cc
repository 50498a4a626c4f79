#include "lib/dash/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace ib::dash {
namespace {

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ib-dash-paths-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/root";
    ::mkdir(root_.c_str(), 0755);
    ::mkdir((root_ + "/sub").c_str(), 0755);
    std::ofstream(root_ + "/run-1.json") << "{}";
    std::ofstream(root_ + "/sub/x.yaml") << "name: x";
    std::ofstream(base_ + "/secret.json") << "{}";
    ::symlink((base_ + "/secret.json").c_str(), (root_ + "/out.json").c_str());
    ::symlink((root_ + "/run-1.json").c_str(), (root_ + "/in.json").c_str());
  }
  void TearDown() override {
    std::string cmd_free_cleanup[] = {root_ + "/out.json", root_ + "/in.json", root_ + "/run-1.json",
                                      root_ + "/sub/x.yaml", base_ + "/secret.json"};
    for (auto& f : cmd_free_cleanup) ::unlink(f.c_str());
    ::rmdir((root_ + "/sub").c_str());
    ::rmdir(root_.c_str());
    ::rmdir(base_.c_str());
  }
  std::string base_, root_;
};

TEST(RunIdTest, AcceptsOrdinaryIdsAndRefusesOddOnes) {
  EXPECT_TRUE(IsValidRunId("sim-demo-c4-20261128-030000"));
  EXPECT_TRUE(IsValidRunId("a.b_c-2"));
  for (const char* bad : {"", ".", "..", ".hidden", "-flag", "a/b", "a\\b", "a b", "a\nb", "é",
                          "a%2e", "a\x01"}) {
    EXPECT_FALSE(IsValidRunId(bad)) << bad;
  }
  EXPECT_FALSE(IsValidRunId(std::string(201, 'a')));
  EXPECT_FALSE(IsValidRunId(std::string("a\0b", 3)));
}

TEST(RelativePathTest, RefusesTraversalAbsoluteAndEmptyComponents) {
  EXPECT_TRUE(IsSafeRelativePath("examples/sim-smoke.yaml"));
  for (const char* bad : {"/etc/passwd", "../x", "a/../b", "a//b", "a/", "./a", "a/./b", "..",
                          "vendor/.git"}) {
    EXPECT_FALSE(IsSafeRelativePath(bad)) << bad;
  }
}

TEST_F(PathsTest, ResolvesFilesInsideTheRoot) {
  auto r = ResolveUnder(root_, "run-1.json");
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  EXPECT_EQ(std::get<std::string>(r).substr(std::get<std::string>(r).size() - 10), "run-1.json");
  EXPECT_TRUE(std::holds_alternative<std::string>(ResolveUnder(root_, "sub/x.yaml")));
  EXPECT_TRUE(std::holds_alternative<std::string>(ResolveUnder(root_, "in.json")));
}

TEST_F(PathsTest, RefusesSymlinksOutMissingFilesAndBadNames) {
  auto out = ResolveUnder(root_, "out.json");
  ASSERT_TRUE(std::holds_alternative<ResolveError>(out));
  EXPECT_EQ(std::get<ResolveError>(out).http_status, 404);
  auto missing = ResolveUnder(root_, "nope.json");
  ASSERT_TRUE(std::holds_alternative<ResolveError>(missing));
  EXPECT_EQ(std::get<ResolveError>(missing).http_status, 404);
  auto traversal = ResolveUnder(root_, "../secret.json");
  ASSERT_TRUE(std::holds_alternative<ResolveError>(traversal));
  EXPECT_EQ(std::get<ResolveError>(traversal).http_status, 400);
  auto absolute = ResolveUnder(root_, base_ + "/secret.json");
  ASSERT_TRUE(std::holds_alternative<ResolveError>(absolute));
  EXPECT_EQ(std::get<ResolveError>(absolute).http_status, 400);
  auto no_root = ResolveUnder(base_ + "/none", "run-1.json");
  ASSERT_TRUE(std::holds_alternative<ResolveError>(no_root));
  EXPECT_EQ(std::get<ResolveError>(no_root).http_status, 404);
}

}  // namespace
}  // namespace ib::dash
