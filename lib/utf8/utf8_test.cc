#include "lib/utf8/utf8.h"

#include <gtest/gtest.h>

namespace ib::utf8 {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsKept) {
  std::string ok = "ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
  EXPECT_EQ(ValidUtf8(ok), ok);
  EXPECT_EQ(FirstInvalidByte(ok), std::string_view::npos);
  EXPECT_EQ(FirstInvalidByte(""), std::string_view::npos);
}

TEST(Utf8, EachIllFormedByteBecomesOneReplacement) {
  EXPECT_EQ(ValidUtf8("\xFF"), kFffd);
  EXPECT_EQ(ValidUtf8("a\xC3"), "a" + kFffd);                          // truncated at the end
  EXPECT_EQ(ValidUtf8("\xC0\x80"), kFffd + kFffd);                      // overlong NUL
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);          // a UTF-16 surrogate
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // above U+10FFFF
  EXPECT_EQ(ValidUtf8("\xE2\x82x"), kFffd + kFffd + "x");
}

TEST(Utf8, FirstInvalidByteIsTheOffsetOfTheBadSequence) {
  EXPECT_EQ(FirstInvalidByte("m\xC3"), 1u);
  EXPECT_EQ(FirstInvalidByte("\xC3\xA9\xFF"), 2u);
  EXPECT_EQ(FirstInvalidByte("abc\xED\xA0\x80"), 3u);
}

}  // namespace
}  // namespace ib::utf8
