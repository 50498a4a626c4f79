#include "lib/runid/runid.h"

#include <cstdlib>
#include <ctime>

#include <gtest/gtest.h>

namespace ib::runid {
namespace {

class RunIdTest : public testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(RunIdTest, MakesNameDashLocalStamp) {
  // 2026-01-05 14:30:07 UTC
  EXPECT_EQ(Make("baseline", 1767623407), "baseline-20260105-143007");
  EXPECT_EQ(Make("baseline", 1767623407, 1), "baseline-20260105-143007");
  EXPECT_EQ(Make("baseline", 1767623407, 2), "baseline-20260105-143007-2");
  EXPECT_EQ(Make("scrape", 0), "scrape-19700101-000000");
}

TEST_F(RunIdTest, ParsesWhatItMakes) {
  for (const char* name : {"baseline", "qwen-a100-c8", "x", "sweep-20250101-000000"}) {
    for (int seq : {1, 2, 17}) {
      std::string id = Make(name, 1767623407, seq);
      auto parts = Parse(id);
      ASSERT_TRUE(parts) << id;
      EXPECT_EQ(parts->name, name) << id;
      EXPECT_EQ(parts->stamp, "20260105-143007") << id;
      EXPECT_EQ(parts->seq, seq) << id;
      EXPECT_EQ(NameOf(id), name);
    }
  }
}

TEST_F(RunIdTest, AHandGivenIdIsNotParsedAndIsItsOwnName) {
  for (const char* id : {"", "baseline", "run-1", "baseline-2026010-143007", "baseline-20260105-14300x",
                         "baseline-20260105-143007-", "baseline-20260105-143007-2x", "20260105-143007"}) {
    EXPECT_FALSE(Parse(id)) << id;
    EXPECT_EQ(NameOf(id), id);
  }
  // An empty name is still a made id.
  auto parts = Parse("-20260105-143007");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->name, "");
}

}  // namespace
}  // namespace ib::runid
