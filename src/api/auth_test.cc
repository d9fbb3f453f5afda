#include "api/auth.h"

#include <gtest/gtest.h>

namespace retention {
namespace {

TEST(TokenFromAuthorizationTest, AcceptsTokenAndBearerInAnyCase) {
  for (const char* header : {"Token abc", "token abc", "Bearer abc", "BEARER abc"}) {
    auto t = TokenFromAuthorization(header);
    ASSERT_TRUE(t.ok()) << header;
    EXPECT_EQ(*t, "abc") << header;
  }
}

TEST(TokenFromAuthorizationTest, RefusesMissingHeaderOtherSchemesAndMissingKey) {
  struct Case {
    const char* header;
    const char* message;
  };
  const Case cases[] = {
      {"", "Authentication credentials were not provided."},
      {"Basic abc", "use 'Authorization: Token <key>' or 'Bearer <key>'"},
      {"Token", "use 'Authorization: Token <key>' or 'Bearer <key>'"},
  };
  for (const auto& c : cases) {
    auto t = TokenFromAuthorization(c.header);
    ASSERT_FALSE(t.ok()) << c.header;
    EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated) << c.header;
    EXPECT_EQ(t.status().message(), c.message) << c.header;
  }
}

}  // namespace
}  // namespace retention
