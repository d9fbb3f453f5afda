#include "api/consent_rate_limiter.h"

#include <gtest/gtest.h>

namespace retention {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const ConsentRateLimiter::TimePoint kStart{seconds(1000)};

TEST(ConsentRateLimiterTest, AllowsThePerMinuteCountThenNamesTheWait) {
  ConsentRateLimiter limiter(2);
  EXPECT_EQ(limiter.Acquire(1, kStart), 0);
  EXPECT_EQ(limiter.Acquire(1, kStart + seconds(10)), 0);
  EXPECT_EQ(limiter.Acquire(1, kStart + seconds(20)), 40);
}

TEST(ConsentRateLimiterTest, CountsEachUserApart) {
  ConsentRateLimiter limiter(1);
  EXPECT_EQ(limiter.Acquire(1, kStart), 0);
  EXPECT_EQ(limiter.Acquire(2, kStart), 0);
  EXPECT_GT(limiter.Acquire(1, kStart), 0);
}

TEST(ConsentRateLimiterTest, ACallLeavesTheWindowAfterOneMinute) {
  ConsentRateLimiter limiter(1);
  EXPECT_EQ(limiter.Acquire(1, kStart), 0);
  EXPECT_EQ(limiter.Acquire(1, kStart + milliseconds(59999)), 1);
  EXPECT_EQ(limiter.Acquire(1, kStart + seconds(60)), 0);
}

TEST(ConsentRateLimiterTest, ARefusedCallIsNotCounted) {
  ConsentRateLimiter limiter(1);
  EXPECT_EQ(limiter.Acquire(1, kStart), 0);
  EXPECT_GT(limiter.Acquire(1, kStart + seconds(30)), 0);
  // Had the refused call counted, the window would still be full at kStart + 60 s.
  EXPECT_EQ(limiter.Acquire(1, kStart + seconds(60)), 0);
}

}  // namespace
}  // namespace retention
