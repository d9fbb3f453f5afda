#include "domain/cron.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/test_support.h"

namespace retention {
namespace {

using ::retention::testing::T;

using std::chrono::Friday;
using std::chrono::Monday;
using std::chrono::Sunday;

CronSchedule MustParse(const std::string& expr) {
  auto s = CronSchedule::Parse(expr);
  EXPECT_TRUE(s.ok()) << expr << ": " << s.status().ToString();
  if (!s.ok()) {
    std::abort();
  }
  return *s;
}

// The civil fields of a fire time, computed independently of the code under test.
struct Civil {
  std::chrono::year_month_day ymd;
  std::chrono::weekday weekday;
  long hour;
  long minute;
  long second;
};

Civil ToCivil(TimePoint t) {
  const auto day = std::chrono::floor<Days>(t);
  const long s = static_cast<long>((t - day).count());
  return {std::chrono::year_month_day(day), std::chrono::weekday(day), s / 3600, s / 60 % 60,
          s % 60};
}

unsigned Dom(const Civil& c) { return static_cast<unsigned>(c.ymd.day()); }
unsigned Month(const Civil& c) { return static_cast<unsigned>(c.ymd.month()); }

// All fire times in [from, to), by iterating NextAfter.
std::vector<TimePoint> Fires(const CronSchedule& s, TimePoint from, TimePoint to) {
  std::vector<TimePoint> out;
  for (TimePoint t = s.NextAfter(from - std::chrono::seconds(1)); t < to; t = s.NextAfter(t)) {
    out.push_back(t);
  }
  return out;
}

TEST(CronScheduleTest, FiresTheExpectedTimesOverTheYear2027) {
  struct Case {
    const char* expr;
    std::size_t count;
    bool (*ok)(const Civil&);
  };
  const Case cases[] = {
      // The four default job schedules of DESIGN.md section 4.
      {"0 2 1 * *", 12, [](const Civil& c) { return Dom(c) == 1 && c.hour == 2 && c.minute == 0; }},
      {"0 10 * * 1", 52,
       [](const Civil& c) { return c.weekday == Monday && c.hour == 10 && c.minute == 0; }},
      {"0 1 * * 0", 52,
       [](const Civil& c) { return c.weekday == Sunday && c.hour == 1 && c.minute == 0; }},
      {"30 3 * * *", 365, [](const Civil& c) { return c.hour == 3 && c.minute == 30; }},
      // 4 per hour, every hour of the year.
      {"*/15 * * * *", 365 * 24 * 4, [](const Civil& c) { return c.minute % 15 == 0; }},
      {"0 1 * * 7", 52,
       [](const Civil& c) { return c.weekday == Sunday && c.hour == 1 && c.minute == 0; }},
      // Weekdays of January (21) and July (22) 2027.
      {"0 0 * jan,jul mon-fri", 43,
       [](const Civil& c) {
         return (Month(c) == 1 || Month(c) == 7) && c.weekday != Sunday &&
                c.weekday != std::chrono::Saturday && c.hour == 0 && c.minute == 0;
       }},
      {"0 0 * JAN,Jul MON-Fri", 43,
       [](const Civil& c) {
         return (Month(c) == 1 || Month(c) == 7) && c.weekday != Sunday &&
                c.weekday != std::chrono::Saturday && c.hour == 0 && c.minute == 0;
       }},
      // Vixie OR rule: the 1st of each month (12) or any Monday (52); Feb, Mar, Nov 1 are Mondays.
      {"0 0 1 * mon", 12 + 52 - 3,
       [](const Civil& c) { return (Dom(c) == 1 || c.weekday == Monday) && c.hour == 0; }},
      // 2027 starts on a Friday, so it has 53 Fridays; only August 13 is one: 12 + 53 - 1.
      {"0 0 13 * fri", 64,
       [](const Civil& c) { return (Dom(c) == 13 || c.weekday == Friday) && c.hour == 0; }},
      // A day-of-month starting with '*' keeps the AND rule: Mondays only.
      {"0 0 */1 * mon", 52, [](const Civil& c) { return c.weekday == Monday && c.hour == 0; }},
      // Both restricted, so OR: every day.
      {"0 0 1-31 * mon", 365, [](const Civil& c) { return c.hour == 0 && c.minute == 0; }},
      {"5/20 4-6 * * *", 365 * 9,
       [](const Civil& c) { return c.hour >= 4 && c.hour <= 6 && c.minute % 20 == 5; }},
      {"15 14 1 1-12/3 *", 4,
       [](const Civil& c) {
         return Dom(c) == 1 && Month(c) % 3 == 1 && c.hour == 14 && c.minute == 15;
       }},
      {"0 9,17 * * sat,sun", 2 * 104,
       [](const Civil& c) {
         return (c.weekday == Sunday || c.weekday == std::chrono::Saturday) &&
                (c.hour == 9 || c.hour == 17) && c.minute == 0;
       }},
      {"0 12 29 2 *", 0, [](const Civil&) { return false; }},
  };
  const TimePoint from = T("2027-01-01T00:00:00Z");
  const TimePoint to = T("2028-01-01T00:00:00Z");
  for (const auto& c : cases) {
    const CronSchedule s = MustParse(c.expr);
    const std::vector<TimePoint> fires = Fires(s, from, to);
    EXPECT_EQ(fires.size(), c.count) << c.expr;
    for (std::size_t i = 0; i < fires.size(); ++i) {
      const Civil civil = ToCivil(fires[i]);
      ASSERT_TRUE(c.ok(civil)) << c.expr << " fired at " << FormatTime(fires[i]);
      ASSERT_EQ(civil.second, 0) << c.expr;
      ASSERT_GE(fires[i], from) << c.expr;
      if (i > 0) {
        ASSERT_GT(fires[i], fires[i - 1]) << c.expr;
      }
    }
  }
}

TEST(CronScheduleTest, NextAfterIsStrictlyAfter) {
  const CronSchedule s = MustParse("0 2 1 * *");
  EXPECT_EQ(FormatTime(s.NextAfter(T("2027-03-01T02:00:00Z"))), "2027-04-01T02:00:00Z");
  EXPECT_EQ(FormatTime(s.NextAfter(T("2027-03-01T01:59:59Z"))), "2027-03-01T02:00:00Z");
  EXPECT_EQ(FormatTime(s.NextAfter(T("2027-12-01T02:00:01Z"))), "2028-01-01T02:00:00Z");
  EXPECT_EQ(FormatTime(*s.LatestAtOrBefore(T("2027-03-01T02:00:00Z"))), "2027-03-01T02:00:00Z");
  EXPECT_EQ(FormatTime(*s.LatestAtOrBefore(T("2027-03-01T01:59:59Z"))), "2027-02-01T02:00:00Z");
  EXPECT_EQ(FormatTime(*s.LatestAtOrBefore(T("2027-01-01T00:00:00Z"))), "2026-12-01T02:00:00Z");
}

const char* const kConsistencyExprs[] = {
    "0 2 1 * *",     "0 10 * * 1",      "0 1 * * 0",         "30 3 * * *",  "*/15 * * * *",
    "0 0 1 * mon",   "0 0 * jan,jul *", "59 23 31 12 *",     "0 12 29 2 *", "5/20 4-6 * * *",
    "* * * * *",     "0 0 */10 * *",    "7 7 7 7 sun",       "0 0 31 * *",  "0 0 29 2 */6",
    "45 22 * * fri", "0 0 1 1,6 *",     "1-5,58 0,23 * * *",
};

TEST(CronScheduleTest, NextAfterAndLatestAtOrBeforeAreConsistent) {
  const char* const instants[] = {
      "2027-01-01T00:00:00Z", "2027-02-28T23:59:59Z", "2028-02-29T12:00:00Z",
      "2027-06-15T10:07:31Z", "2027-12-31T23:59:00Z", "2099-12-31T23:30:00Z",
      "1970-01-01T00:00:00Z", "2030-03-01T00:00:01Z",
  };
  for (const char* expr : kConsistencyExprs) {
    const CronSchedule s = MustParse(expr);
    for (const char* instant : instants) {
      const TimePoint t = T(instant);
      const TimePoint next = s.NextAfter(t);
      ASSERT_GT(next, t) << expr << " at " << instant;
      ASSERT_TRUE(s.Matches(next)) << expr << " at " << instant;
      ASSERT_EQ(s.LatestAtOrBefore(next), next) << expr << " at " << instant;
      const std::optional<TimePoint> latest = s.LatestAtOrBefore(t);
      ASSERT_TRUE(latest.has_value()) << expr << " at " << instant;
      ASSERT_LE(*latest, t) << expr << " at " << instant;
      ASSERT_TRUE(s.Matches(*latest)) << expr << " at " << instant;
      ASSERT_GT(s.NextAfter(*latest), t) << expr << " at " << instant;
      ASSERT_EQ(s.NextAfter(*latest), next) << expr << " at " << instant;
    }
  }
}

TEST(CronScheduleTest, SkippingAgreesWithAMinuteByMinuteScan) {
  // Every minute from 2028-02-27 to 2028-03-02 (over a leap day and a month end): NextAfter and
  // LatestAtOrBefore must agree with testing each minute with Matches.
  const TimePoint from = T("2028-02-27T00:00:00Z");
  const TimePoint to = T("2028-03-02T00:00:00Z");
  for (const char* expr : kConsistencyExprs) {
    const CronSchedule s = MustParse(expr);
    std::vector<TimePoint> scanned;
    for (TimePoint t = from; t < to; t += std::chrono::minutes(1)) {
      if (s.Matches(t)) {
        scanned.push_back(t);
      }
    }
    EXPECT_EQ(Fires(s, from, to), scanned) << expr;
    std::optional<TimePoint> last = s.LatestAtOrBefore(from - std::chrono::seconds(1));
    for (TimePoint t = from; t < to; t += std::chrono::minutes(1)) {
      if (s.Matches(t)) {
        last = t;
      }
      ASSERT_EQ(s.LatestAtOrBefore(t + std::chrono::seconds(59)), last) << expr << FormatTime(t);
    }
  }
}

TEST(CronScheduleTest, MatchesFollowsTheFields) {
  const CronSchedule s = MustParse("30 3 * * *");
  EXPECT_TRUE(s.Matches(T("2027-05-05T03:30:00Z")));
  EXPECT_TRUE(s.Matches(T("2027-05-05T03:30:59Z")));
  EXPECT_FALSE(s.Matches(T("2027-05-05T03:31:00Z")));
  EXPECT_FALSE(s.Matches(T("2027-05-05T04:30:00Z")));
  const CronSchedule vixie = MustParse("0 0 1 * mon");
  EXPECT_TRUE(vixie.Matches(T("2027-04-01T00:00:00Z")));   // a Thursday, the 1st
  EXPECT_TRUE(vixie.Matches(T("2027-04-05T00:00:00Z")));   // a Monday, the 5th
  EXPECT_FALSE(vixie.Matches(T("2027-04-06T00:00:00Z")));  // neither
}

TEST(CronScheduleTest, LeapDaySchedulesSkipToTheNextLeapYear) {
  const CronSchedule s = MustParse("0 12 29 2 *");
  EXPECT_FALSE(s.NeverFires());
  EXPECT_EQ(FormatTime(s.NextAfter(T("2027-01-01T00:00:00Z"))), "2028-02-29T12:00:00Z");
  // 2100 is not a leap year: eight years pass.
  EXPECT_EQ(FormatTime(s.NextAfter(T("2096-03-01T00:00:00Z"))), "2104-02-29T12:00:00Z");
  EXPECT_EQ(FormatTime(*s.LatestAtOrBefore(T("2104-01-01T00:00:00Z"))), "2096-02-29T12:00:00Z");

  // AND rule ('*' day-of-week): a leap day that is a Saturday or Sunday. Found from the calendar.
  const CronSchedule weekend = MustParse("0 0 29 2 */6");
  std::chrono::year y{2027};
  while (true) {
    if (y.is_leap()) {
      const std::chrono::weekday wd{std::chrono::sys_days{y / 2 / 29}};
      if (wd == Sunday || wd == std::chrono::Saturday) {
        break;
      }
    }
    ++y;
  }
  const TimePoint want{std::chrono::sys_days{y / 2 / 29}};
  EXPECT_EQ(FormatTime(weekend.NextAfter(T("2027-01-01T00:00:00Z"))), FormatTime(want));
}

TEST(CronScheduleTest, ImpossibleSchedulesNeverFireAndTerminate) {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 feb *", "* * 31 2 */2"}) {
    const CronSchedule s = MustParse(expr);
    EXPECT_TRUE(s.NeverFires()) << expr;
    EXPECT_EQ(s.NextAfter(T("2027-01-01T00:00:00Z")), TimePoint::max()) << expr;
    EXPECT_EQ(s.LatestAtOrBefore(T("2027-01-01T00:00:00Z")), std::nullopt) << expr;
  }
  // With the OR rule a day-of-week still fires: Mondays in February.
  const CronSchedule or_rule = MustParse("0 0 30 2 mon");
  EXPECT_FALSE(or_rule.NeverFires());
  EXPECT_EQ(FormatTime(or_rule.NextAfter(T("2027-01-01T00:00:00Z"))), "2027-02-01T00:00:00Z");
}

TEST(CronScheduleTest, ExtremeTimesDoNotOverflow) {
  const CronSchedule s = MustParse("0 2 1 * *");
  EXPECT_EQ(s.NextAfter(TimePoint::max()), TimePoint::max());
  EXPECT_EQ(s.LatestAtOrBefore(TimePoint::min()), std::nullopt);
  EXPECT_EQ(FormatTime(*s.LatestAtOrBefore(TimePoint::max())), "9999-12-01T02:00:00Z");
  EXPECT_EQ(FormatTime(s.NextAfter(TimePoint::min())), "0001-01-01T02:00:00Z");
}

TEST(CronScheduleTest, KeepsTheExpressionAndToleratesExtraSpaces) {
  const CronSchedule s = MustParse("  0\t2 1  * *  ");
  EXPECT_EQ(s.expression(), "  0\t2 1  * *  ");
  EXPECT_EQ(FormatTime(s.NextAfter(T("2027-01-01T00:00:00Z"))), "2027-01-01T02:00:00Z");
}

TEST(CronScheduleTest, RejectsInvalidExpressionsNamingTheField) {
  struct Case {
    const char* expr;
    const char* message;  // the whole message after "cron 'EXPR': "
  };
  const Case cases[] = {
      {"0 25 * * *", "hour 25 is out of range 0-23"},
      {"60 * * * *", "minute 60 is out of range 0-59"},
      {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 4"},
      {"* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 6"},
      {"", "expected 5 fields (minute hour day-of-month month day-of-week), found 0"},
      {"a b c d e", "minute 'a' is not a number"},
      {"*/0 * * * *", "minute step 0 in '*/0' must be at least 1"},
      {"*/x * * * *", "minute step 'x' in '*/x' is not a number"},
      {"5-1 * * * *", "minute range '5-1' runs backwards (write it low-high)"},
      {"1,,2 * * * *", "minute '1,,2' has an empty list item"},
      {"0 0 0 * *", "day-of-month 0 is out of range 1-31"},
      {"0 0 32 * *", "day-of-month 32 is out of range 1-31"},
      {"0 0 * 13 *", "month 13 is out of range 1-12"},
      {"0 0 * mon *", "month 'mon' is not a number or a month name"},
      {"0 0 * * 8", "day-of-week 8 is out of range 0-7"},
      {"0 0 * * jan", "day-of-week 'jan' is not a number or a weekday name"},
      {"0 0 * * sat-sun", "day-of-week range 'sat-sun' runs backwards (write it low-high)"},
      {"0 0 * * mon-", "day-of-week '' is not a number or a weekday name"},
      {"0 -1 * * *", "hour '' is not a number"},
      {"0 99999 * * *", "hour '99999' is not a number"},
  };
  for (const auto& c : cases) {
    auto s = CronSchedule::Parse(c.expr);
    ASSERT_FALSE(s.ok()) << c.expr;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << c.expr;
    EXPECT_EQ(s.status().message(), "cron '" + std::string(c.expr) + "': " + c.message);
  }
}

}  // namespace
}  // namespace retention
