#include "notify/mail.h"

#include <gtest/gtest.h>

#include <string>

namespace retention {
namespace {

// Issue 8 defect 10: a user's address is exactly one plain address; anything else is refused
// with a one-line message naming the field and the reason.
TEST(ValidateEmailAddressTest, Issue8Defect10AcceptsOnePlainAddressOnly) {
  const std::string good[] = {"alice@example.org", "a@b", "first.last+tag@sub.example.co.uk",
                              "o'neil@example.org", std::string(242, 'x') + "@example.org"};
  for (const std::string& ok : good) {
    EXPECT_TRUE(ValidateEmailAddress(ok, "email").ok()) << ok;
  }
  struct Case {
    std::string address;
    std::string why;
  };
  const Case bad[] = {
      {"", "empty"},
      {"alice@example.org\nBcc: all@example.org", "line break"},
      {"alice@example.org\r", "line break"},
      {"alice@exa\tmple.org", "control character"},
      {std::string("alice@example.org\0", 18), "control character"},
      {"alice@\x7f"
       "example.org",
       "control character"},
      {"al\xc3\xaf"
       "ce@example.org",
       "non-ASCII"},
      {"alice @example.org", "space"},
      {"alice@example.org, bob@example.org", "list"},
      {"alice@example.org;bob@example.org", "list"},
      {"<alice@example.org>", "'<'"},
      {"\"alice\"@example.org", "'\"'"},
      {"alice@a@example.org", "more than one '@'"},
      {"alice.example.org", "no '@'"},
      {"@example.org", "before the '@'"},
      {"alice@", "no domain"},
      {"alice@.example.org", "malformed"},
      {"alice@example..org", "malformed"},
      {std::string(243, 'x') + "@example.org", "longer than 254"},
  };
  for (const Case& c : bad) {
    const Status s = ValidateEmailAddress(c.address, "$.users[3].email");
    ASSERT_FALSE(s.ok()) << c.address;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.address;
    EXPECT_NE(s.message().find("$.users[3].email: '"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.why), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find_first_of("\r\n"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace retention
