// The shared AWS pieces that need no server: URI encoding, parameter decoding, regions, backoff
// bounds and credential resolution.
#include "aws/aws_uri.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "aws/aws_credentials.h"
#include "aws/backoff.h"

namespace retention {
namespace {

using namespace std::chrono_literals;

TEST(AwsUriTest, EncodesAllButUnreservedBytesAndKeepsSlashesOnlyInPaths) {
  EXPECT_EQ(AwsUriEncode("submissions/700/in put+€.zip", true),
            "submissions/700/in%20put%2B%E2%82%AC.zip");
  EXPECT_EQ(AwsUriEncode("a/b~c-d_e.f", false), "a%2Fb~c-d_e.f");
  EXPECT_EQ(AwsUriEncode("", false), "");
}

TEST(AwsUriTest, DecodesEscapesAndRefusesMalformedOnes) {
  EXPECT_EQ(PercentDecode("http%3A%2F%2Fh%3a1"), "http://h:1");
  EXPECT_FALSE(PercentDecode("bad%2").has_value());
  EXPECT_FALSE(PercentDecode("bad%zz").has_value());
}

TEST(AwsUriTest, SplitsTheQueryIntoRawParametersInOrder) {
  const UrlQuerySplit split = SplitUrlQuery("bkt/p?region=us-east-1&&endpoint=http%3A%2F%2Fh&flag");
  EXPECT_EQ(split.rest, "bkt/p");
  ASSERT_EQ(split.params.size(), 3U);
  EXPECT_EQ(split.params[0], std::make_pair(std::string("region"), std::string("us-east-1")));
  EXPECT_EQ(split.params[1].second, "http%3A%2F%2Fh") << "values stay encoded";
  EXPECT_EQ(split.params[2], std::make_pair(std::string("flag"), std::string()));
  EXPECT_TRUE(SplitUrlQuery("bkt").params.empty());
}

TEST(AwsUriTest, AcceptsOnlyRegionLikeNames) {
  EXPECT_TRUE(IsValidAwsRegion("eu-west-3"));
  EXPECT_FALSE(IsValidAwsRegion(""));
  EXPECT_FALSE(IsValidAwsRegion("US-EAST-1"));
  EXPECT_FALSE(IsValidAwsRegion("us east"));
}

TEST(BackoffTest, StaysWithinHalfToFullOfTheCappedDoubling) {
  for (int i = 0; i < 50; ++i) {
    const auto first = BackoffDelay(100ms, 1000ms, 1);
    EXPECT_GE(first, 50ms);
    EXPECT_LE(first, 100ms);
    const auto third = BackoffDelay(100ms, 1000ms, 3);
    EXPECT_GE(third, 200ms);
    EXPECT_LE(third, 400ms);
    const auto late = BackoffDelay(100ms, 1000ms, 30);
    EXPECT_GE(late, 500ms);
    EXPECT_LE(late, 1000ms);
  }
}

TEST(AwsCredentialsTest, NamesEveryMissingVariable) {
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  auto none = ResolveAwsCredentials(std::nullopt, "storage url 's3://b'");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(none.status().message(),
            "storage url 's3://b': AWS credentials missing: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY");
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  setenv("AWS_SESSION_TOKEN", "TOK", 1);
  auto env = ResolveAwsCredentials(std::nullopt, "x");
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->access_key_id, "AK");
  EXPECT_EQ(env->secret_access_key, "SK");
  EXPECT_EQ(env->session_token, "TOK");
  auto given = ResolveAwsCredentials(AwsCredentials{"A:B", "S", ""}, "x");
  EXPECT_EQ(given.status().code(), StatusCode::kInvalidArgument);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
}

}  // namespace
}  // namespace retention
