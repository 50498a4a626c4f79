#include "lib/cli/flags.h"

#include <gtest/gtest.h>

namespace ib::cli {
namespace {

struct Args {
  std::vector<std::string> storage;
  std::vector<char*> ptrs;
  explicit Args(std::vector<std::string> a) : storage(std::move(a)) {
    for (auto& s : storage) ptrs.push_back(s.data());
  }
  int argc() { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
};

TEST(Flags, ParsesEveryKind) {
  std::string url;
  int64_t n = 1;
  double rate = 0.5;
  bool verbose = false, color = true;
  std::vector<std::string> tags, positional;
  Flags f("t", "test");
  f.String("url", &url, "u", true);
  f.Int("n", &n, "n");
  f.Double("rate", &rate, "r");
  f.Bool("verbose", &verbose, "v");
  f.Bool("color", &color, "c");
  f.List("tag", &tags, "t");
  f.Positional("FILE", &positional, 1, 1);
  Args a({"t", "--url=http://x", "--n", "5", "--rate", "2.5", "--verbose", "--no-color", "--tag", "a",
          "--tag=b", "cfg.yaml"});
  EXPECT_EQ(f.Parse(a.argc(), a.argv()), -1);
  EXPECT_EQ(url, "http://x");
  EXPECT_EQ(n, 5);
  EXPECT_DOUBLE_EQ(rate, 2.5);
  EXPECT_TRUE(verbose);
  EXPECT_FALSE(color);
  EXPECT_EQ(tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(positional, (std::vector<std::string>{"cfg.yaml"}));
}

TEST(Flags, UsageErrorsExitTwo) {
  std::string url;
  int64_t n = 1;
  Flags f("t", "test");
  f.String("url", &url, "u", true);
  f.Int("n", &n, "n");
  Args missing({"t"});
  EXPECT_EQ(f.Parse(missing.argc(), missing.argv()), 2);
  Args bad({"t", "--url", "x", "--n", "five"});
  EXPECT_EQ(f.Parse(bad.argc(), bad.argv()), 2);
  Args unknown({"t", "--url", "x", "--bogus"});
  EXPECT_EQ(f.Parse(unknown.argc(), unknown.argv()), 2);
  Args stray({"t", "--url", "x", "extra"});
  EXPECT_EQ(f.Parse(stray.argc(), stray.argv()), 2);
  Args no_value({"t", "--url"});
  EXPECT_EQ(f.Parse(no_value.argc(), no_value.argv()), 2);
}

TEST(Flags, HelpExitsZeroAndListsFlags) {
  std::string url;
  Flags f("ib-x", "does x");
  f.String("url", &url, "where to go", true);
  f.Epilog("Exit codes: 0 ok");
  Args a({"ib-x", "--help"});
  testing::internal::CaptureStdout();
  EXPECT_EQ(f.Parse(a.argc(), a.argv()), 0);
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("Usage: ib-x"), std::string::npos);
  EXPECT_NE(out.find("--url VALUE"), std::string::npos);
  EXPECT_NE(out.find("(required)"), std::string::npos);
  EXPECT_NE(out.find("Exit codes: 0 ok"), std::string::npos);
}

TEST(Flags, AHelpTextThatStatesItsDefaultGetsNoSecondOne) {
  double timeout = 0;
  int64_t n = 5;
  Flags f("ib-x", "does x");
  f.Double("health-timeout-s", &timeout, "give up after this long (default 600; local: load time + 120)");
  f.Int("count", &n, "how many");
  std::string help = f.Help();
  EXPECT_NE(help.find("(default 600; local: load time + 120)\n"), std::string::npos) << help;
  EXPECT_EQ(help.find("(default 0)"), std::string::npos) << help;
  EXPECT_NE(help.find("how many (default 5)"), std::string::npos) << help;
}

}  // namespace
}  // namespace ib::cli
