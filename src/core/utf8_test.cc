#include "core/utf8.h"

#include <gtest/gtest.h>

namespace retention {
namespace {

TEST(Utf8Test, Issue8Defect12AcceptsWellFormedText) {
  for (const char* text : {"", "plain ascii", "caf\xc3\xa9", "o\xef\xbf\xbdk", "\xe2\x82\xac",
                           "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
  }
}

TEST(Utf8Test, Issue8Defect12RejectsIllFormedBytesAtTheirOffset) {
  struct Case {
    std::string text;
    std::size_t offset;
  };
  const Case cases[] = {
      {"o\xffk", 1},            // never valid
      {"ab\xc3", 2},            // truncated
      {"\xc0\xaf", 0},          // overlong '/'
      {"\xe0\x80\xaf", 0},      // overlong, three bytes
      {"x\xed\xa0\x80", 1},     // a surrogate
      {"\xf4\x90\x80\x80", 0},  // above U+10FFFF
      {"\xf5\x80\x80\x80", 0},  // invalid lead
      {"\xe2\x82", 0},          // truncated euro sign
      {"ok\xe2\x28\xa1", 2},    // bad continuation
      {"\x80", 0},              // lone continuation
  };
  for (const auto& c : cases) {
    auto at = FirstInvalidUtf8(c.text);
    ASSERT_TRUE(at.has_value()) << c.offset;
    EXPECT_EQ(*at, c.offset);
    EXPECT_NE(DescribeInvalidUtf8(c.text).find("not valid UTF-8"), std::string::npos);
  }
  EXPECT_EQ(DescribeInvalidUtf8("o\xffk"), "is not valid UTF-8 (byte 0xff at offset 1)");
}

TEST(Utf8Test, Issue8Defect12EscapesOnlyTheInvalidBytes) {
  EXPECT_EQ(EscapeInvalidUtf8("o\xffk caf\xc3\xa9 \xc3"), "o\\xffk caf\xc3\xa9 \\xc3");
  EXPECT_EQ(EscapeInvalidUtf8("plain"), "plain");
  EXPECT_TRUE(IsValidUtf8(EscapeInvalidUtf8("\xed\xa0\x80\xf5")));
}

}  // namespace
}  // namespace retention
