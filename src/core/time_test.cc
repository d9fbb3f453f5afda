#include "core/time.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/crypto.h"

namespace retention {
namespace {

TEST(TimeTest, ParsesRfc3339Forms) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"},
      {"2026-03-01T10:20:30.123456Z", "2026-03-01T10:20:30Z"},
      {"2026-03-01T02:00:00+02:00", "2026-03-01T00:00:00Z"},
      {"2026-02-28T23:00:00-01:00", "2026-03-01T00:00:00Z"},
      {"2026-03-01", "2026-03-01T00:00:00Z"},
  };
  for (const auto& c : cases) {
    auto t = ParseTime(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().ToString();
    EXPECT_EQ(FormatTime(*t), c.want) << c.text;
  }
}

TEST(TimeTest, RejectsMalformedTimesNamingThem) {
  for (const char* text : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-03-01T00:00:00",
                           "2026-03-01T00:00:00+0200", "2026-03-01T00:00:00Zjunk", "2026-3-1"}) {
    auto t = ParseTime(text);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(text), std::string::npos);
  }
}

TEST(TimeTest, Issue8Defect11SystemClockDoesNotReadTheEnvironment) {
  // The fixed clock of whole-process tests is chosen by app/, never by SystemClock.
  ::setenv("RETENTION_FAKE_NOW", "2001-01-01T00:00:00Z", 1);
  const TimePoint now = SystemClock().Now();
  ::unsetenv("RETENTION_FAKE_NOW");
  EXPECT_GT(now, *ParseTime("2020-01-01T00:00:00Z")) << FormatTime(now);
}

TEST(TimeTest, Issue11FastClockRunsFasterFromItsStart) {
  const TimePoint real = SystemClock().Now();
  const FastClock clock(real - std::chrono::seconds(10), 60);
  const auto ahead = clock.Now() - (real - std::chrono::seconds(10));
  EXPECT_GE(ahead, std::chrono::seconds(600));
  EXPECT_LT(ahead, std::chrono::seconds(600 + 120));  // a slow machine: two real seconds late
}

TEST(CryptoTest, Sha256MatchesKnownVector) {
  InitCrypto();
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(RandomToken(), RandomToken());
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace retention
