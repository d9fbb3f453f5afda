#include "domain/log_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "testing/test_support.h"

namespace retention {
namespace {

using ::retention::testing::T;

bool IsAllowed(int days) {
  return std::find(kAllowedLogRetentionDays.begin(), kAllowedLogRetentionDays.end(), days) !=
         kAllowedLogRetentionDays.end();
}

TEST(RoundUpToAllowedDaysTest, RoundsUpToTheNextCloudWatchValue) {
  struct Case {
    std::int64_t days;
    int want;
  };
  const Case cases[] = {
      {25, 30},   {100, 120},   {1000, 1096}, {0, 1},       {5000, 3653},      {-7, 1},
      {1, 1},     {2, 3},       {4, 5},       {8, 14},      {31, 60},          {181, 365},
      {366, 400}, {3289, 3653}, {3653, 3653}, {3654, 3653}, {1LL << 40, 3653},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RoundUpToAllowedDays(c.days), c.want) << c.days;
  }
}

TEST(RoundUpToAllowedDaysTest, EachAllowedValueMapsToItselfAndTheNextDayToTheNextValue) {
  for (std::size_t i = 0; i < kAllowedLogRetentionDays.size(); ++i) {
    const int v = kAllowedLogRetentionDays[i];
    EXPECT_EQ(RoundUpToAllowedDays(v), v);
    const int next = i + 1 < kAllowedLogRetentionDays.size() ? kAllowedLogRetentionDays[i + 1]
                                                             : kAllowedLogRetentionDays.back();
    EXPECT_EQ(RoundUpToAllowedDays(v + 1), next) << v << " + 1";
  }
}

TEST(RoundUpToAllowedDaysTest, AlwaysReturnsTheSmallestAllowedValueNotBelowTheRequest) {
  for (std::int64_t days = -2; days <= 4000; ++days) {
    const int got = RoundUpToAllowedDays(days);
    ASSERT_TRUE(IsAllowed(got)) << days;
    if (days <= 3653) {
      ASSERT_GE(got, days);
      for (int allowed : kAllowedLogRetentionDays) {
        if (allowed >= days) {
          ASSERT_EQ(got, allowed) << days;
          break;
        }
      }
    } else {
      ASSERT_EQ(got, 3653) << days;
    }
  }
}

TEST(LogGroupNameTest, FollowsTheWorkerNamingScheme) {
  EXPECT_EQ(LogGroupName(7, "production"), "challenge-pk-7-production-workers");
  EXPECT_EQ(LogGroupName(12345, "staging"), "challenge-pk-12345-staging-workers");
}

TEST(LatestLogHorizonTest, TakesTheLatestEndPlusDOverPrivateUnkeptPhases) {
  const TimePoint feb = T("2026-02-01T00:00:00Z");
  const TimePoint mar = T("2026-03-01T00:00:00Z");
  EXPECT_FALSE(LatestLogHorizon({}).has_value());
  // A later end with a short D loses to an earlier end with a long one.
  auto h = LatestLogHorizon({{mar, false, false, 7}, {feb, false, false, 90}});
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(FormatTime(h->latest_phase_end), "2026-02-01T00:00:00Z");
  EXPECT_EQ(h->retention_days, 90);
  // Kept, public and open-ended phases set no E.
  h = LatestLogHorizon({{mar, false, true, 365},
                        {mar, true, false, 365},
                        {std::nullopt, false, false, 365},
                        {feb, false, false, 30}});
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(FormatTime(h->latest_phase_end), "2026-02-01T00:00:00Z");
  EXPECT_EQ(h->retention_days, 30);
  EXPECT_FALSE(LatestLogHorizon({{mar, false, true, 30}}).has_value()) << "only a kept phase";
  // The same E: the larger D wins, so the value after E keeps the lines longest.
  h = LatestLogHorizon({{mar, false, false, 28}, {feb, false, false, 56}});
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->retention_days, 56);
}

TEST(DesiredLogRetentionTest, FollowsR8) {
  const TimePoint start = T("2026-01-01T00:00:00Z");
  const TimePoint end = T("2026-02-01T00:00:00Z");  // E = 2026-03-03 with D = 30
  struct Case {
    const char* name;
    bool has_consent;
    std::optional<TimePoint> end;
    std::optional<TimePoint> start;
    int days;
    TimePoint now;
    std::optional<int> want;
    const char* explained;  // a part of the explanation naming the case
    std::optional<TimePoint> lines_since = std::nullopt;
  };
  const Case cases[] = {
      {"no consent never expires", false, end, start, 30, T("2026-01-15T00:00:00Z"), std::nullopt,
       "no retention consent"},
      {"no consent after E still never expires", false, end, start, 30, T("2027-01-01T00:00:00Z"),
       std::nullopt, "no retention consent"},
      {"no end date never expires", true, std::nullopt, start, 30, T("2026-01-15T00:00:00Z"),
       std::nullopt, "no phase has an end date"},
      // 61 days from the start to E: 60 would purge the first day's lines on 2026-03-02.
      {"before E counts from the start", true, end, start, 30, T("2026-01-15T00:00:00Z"), 90,
       "61 days from the challenge start 2026-01-01"},
      {"before E the day before E", true, end, start, 30, T("2026-03-02T23:59:59Z"), 90,
       "eligible date 2026-03-03"},
      {"before E with override 90", true, end, start, 90, T("2026-02-10T00:00:00Z"), 150,
       "121 days"},
      {"part days round up", true, end, T("2026-01-31T23:00:00Z"), 1, T("2026-02-01T00:00:00Z"), 3,
       "2 days"},
      {"before E without a start counts from now", true, end, std::nullopt, 30,
       T("2026-02-20T00:00:00Z"), 14, "11 days from now 2026-02-20"},
      // Counting from the future start would give 30 days and purge today's lines on 2026-01-31.
      {"start in the future counts from now", true, end, T("2026-02-01T00:00:00Z"), 30,
       T("2026-01-01T00:00:00Z"), 90, "61 days from now 2026-01-01"},
      {"span beyond ten years is capped", true, end, T("2010-01-01T00:00:00Z"), 30,
       T("2026-01-15T00:00:00Z"), 3653, "rounded up to 3653"},
      {"at E uses D", true, end, start, 30, T("2026-03-03T00:00:00Z"), 30, "2026-03-03 has passed"},
      {"after E uses D", true, end, start, 30, T("2026-06-01T00:00:00Z"), 30, "retention days 30"},
      {"after E with override 100 rounds up", true, end, start, 100, T("2026-06-01T00:00:00Z"), 120,
       "100 rounded up to 120"},
      {"after E with D 3653", true, end, start, 3653, T("2036-06-01T00:00:00Z"), 3653,
       "has passed"},
      // Issue 8 defect 1: the stored first-seen time anchors the count when it is the earliest.
      {"without a start counts from the first-seen time", true, end, std::nullopt, 30,
       T("2026-02-20T00:00:00Z"), 60, "42 days from the first log line or reconcile 2026-01-20",
       T("2026-01-20T00:00:00Z")},
      {"a future start counts from the first-seen time", true, end, T("2026-02-15T00:00:00Z"), 30,
       T("2026-02-10T00:00:00Z"), 90, "61 days from the first log line or reconcile 2026-01-01",
       T("2026-01-01T00:00:00Z")},
      {"lines stored before the start count from the first-seen time", true, end, start, 30,
       T("2026-01-15T00:00:00Z"), 120, "91 days from the first log line or reconcile 2025-12-02",
       T("2025-12-02T00:00:00Z")},
      {"an earlier start wins over the first-seen time", true, end, start, 30,
       T("2026-02-20T00:00:00Z"), 90, "61 days from the challenge start 2026-01-01",
       T("2026-02-01T00:00:00Z")},
      {"a first-seen time after now is ignored", true, end, std::nullopt, 30,
       T("2026-02-20T00:00:00Z"), 14, "11 days from now 2026-02-20", T("2026-02-25T00:00:00Z")},
      {"after E the first-seen time does not matter", true, end, std::nullopt, 30,
       T("2026-03-03T00:00:00Z"), 30, "has passed", T("2026-01-01T00:00:00Z")},
  };
  for (const auto& c : cases) {
    const DesiredLogPolicy p =
        DesiredLogRetention(c.has_consent, c.end, c.start, c.lines_since, c.days, c.now);
    EXPECT_EQ(p.days.value_or(-1), c.want.value_or(-1)) << c.name << ": " << p.explanation;
    EXPECT_NE(p.explanation.find(c.explained), std::string::npos)
        << c.name << ": " << p.explanation;
  }
}

TEST(DesiredLogRetentionTest, NoLineIsPurgedBeforeEAndTheValueIsAlwaysAllowed) {
  // For every day from a year before the start to a year after E, the policy is allowed, and
  // before E a line written at the challenge start (or now, if that is earlier) survives until E.
  // (Spans above 3653 days cannot be covered; the table above checks they are capped.)
  const TimePoint start = T("2026-01-01T00:00:00Z");
  const TimePoint end = T("2026-06-30T12:00:00Z");
  for (int days : {1, 7, 30, 100, 400, 3000}) {
    const TimePoint e = end + Days(days);
    for (TimePoint now = start - Days(365); now < e + Days(365); now += Days(1)) {
      const DesiredLogPolicy p = DesiredLogRetention(true, end, start, std::nullopt, days, now);
      ASSERT_TRUE(p.days.has_value()) << p.explanation;
      ASSERT_TRUE(IsAllowed(*p.days)) << *p.days;
      if (now < e) {
        const TimePoint oldest_line = std::min(start, now);
        ASSERT_GE(oldest_line + Days(*p.days), e) << FormatTime(now) << ": " << p.explanation;
      } else {
        ASSERT_EQ(*p.days, RoundUpToAllowedDays(days));
      }
    }
  }
}

// Issue 8 defect 1: without a start date (or with one in the future), the before-E value must
// never shrink below what keeps a line ingested at the first reconcile until E, however many
// daily reconciles follow. Scenario: no start, phase end 2026-06-01, D = 30 (E = 2026-07-01), a
// line ingested 2026-03-01 (the first reconcile: 150 days); the reconcile of 2026-05-15 used to
// apply 60 and purge that line 47 days before E.
TEST(DesiredLogRetentionTest, Issue8Defect1DailyReconcilesNeverPurgeAStoredLineBeforeE) {
  const TimePoint end = T("2026-06-01T00:00:00Z");
  const TimePoint e = end + Days(30);
  const TimePoint first = T("2026-03-01T00:00:00Z");
  for (std::optional<TimePoint> start :
       {std::optional<TimePoint>(), std::optional<TimePoint>(T("2026-04-01T00:00:00Z"))}) {
    // The first reconcile finds no stored time (nullopt) and records `first`.
    const DesiredLogPolicy at_first =
        DesiredLogRetention(true, end, start, std::nullopt, 30, first);
    ASSERT_EQ(at_first.days, std::optional<int>(150)) << at_first.explanation;
    for (TimePoint now = first; now < e; now += Days(1)) {
      const DesiredLogPolicy p = DesiredLogRetention(true, end, start, first, 30, now);
      ASSERT_TRUE(p.days.has_value()) << p.explanation;
      ASSERT_GE(first + Days(*p.days), e)
          << "reconcile at " << FormatTime(now) << " applies " << *p.days
          << " days and purges the line ingested " << FormatTime(first) << ": " << p.explanation;
    }
  }
}

}  // namespace
}  // namespace retention
