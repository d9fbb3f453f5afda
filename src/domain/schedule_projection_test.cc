#include "domain/schedule_projection.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/test_support.h"

namespace retention {
namespace {

using ::retention::testing::T;

std::string Show(std::optional<TimePoint> t) { return t ? FormatTime(*t) : "none"; }

RetentionSchedule Schedule(const char* notices, const char* sweep, int notice_days) {
  RetentionSchedule s;
  s.notices = *CronSchedule::Parse(notices);
  s.sweep = *CronSchedule::Parse(sweep);
  s.notice_days = notice_days;
  return s;
}

// The notice job as DESIGN.md section 4 states it, run by run: the first run N at or after `now`
// at which eligible < (the job's next run after N) + notice_days. A second way to the same
// answer, to check ProjectDeletion's shortcut against.
std::optional<TimePoint> NoticeBySteppingRuns(const CronSchedule& cron, TimePoint eligible,
                                              TimePoint now, int notice_days) {
  TimePoint run = cron.NextAfter(now - std::chrono::seconds(1));
  for (int i = 0; i < 2000 && run != TimePoint::max(); ++i) {
    const TimePoint next = cron.NextAfter(run);
    if (next == TimePoint::max() || eligible < next + std::chrono::days(notice_days)) return run;
    run = next;
  }
  return std::nullopt;
}

struct Case {
  const char* what;
  const char* now;
  const char* eligible;
  const char* noticed;  // recorded notice, or nullptr
  const char* want_notice;
  const char* want_deletion;
  const char* want_sweep;
};

void Check(const RetentionSchedule& s, const Case& c) {
  const std::optional<TimePoint> noticed =
      c.noticed ? std::optional<TimePoint>(T(c.noticed)) : std::nullopt;
  const ProjectedDeletion p = ProjectDeletion(T(c.eligible), noticed, T(c.now), s);
  EXPECT_EQ(Show(p.notice_at), c.want_notice) << c.what;
  EXPECT_EQ(p.notice_recorded, c.noticed != nullptr) << c.what;
  EXPECT_EQ(Show(p.deletion_date), c.want_deletion) << c.what;
  EXPECT_EQ(Show(p.sweep_at), c.want_sweep) << c.what;
}

// The seed's schedule: notices on Mondays at 10:00, the sweep on the 1st at 02:00, 14 days.
TEST(ProjectDeletionTest, FollowsTheSeedSchedule) {
  const RetentionSchedule s = DefaultRetentionSchedule();
  const Case cases[] = {
      // Wednesday 2 Dec: the next notice run is Monday 7 Dec; 14 days later is 21 Dec; the sweep
      // of 1 Jan acts (not the "in 14 days" of a notice sent now).
      {"eligible in 18 days", "2026-12-02T12:00:00Z", "2026-12-20T00:00:00Z", nullptr,
       "2026-12-07T10:00:00Z", "2026-12-21T10:00:00Z", "2027-01-01T02:00:00Z"},
      // Far ahead: noticed by the run whose next run + 14 days passes the eligible date (22 Feb:
      // next run 1 Mar + 14 = 15 Mar 10:00 > 15 Mar 00:00), so the notice does not delay it.
      {"eligible in 3 months", "2026-12-02T12:00:00Z", "2027-03-15T00:00:00Z", nullptr,
       "2027-02-22T10:00:00Z", "2027-03-15T00:00:00Z", "2027-04-01T02:00:00Z"},
      // Exactly next run + 14 days is not earlier than the cutoff: one run later.
      {"eligible on a cutoff", "2026-12-02T12:00:00Z", "2027-03-15T10:00:00Z", nullptr,
       "2027-03-01T10:00:00Z", "2027-03-15T10:00:00Z", "2027-04-01T02:00:00Z"},
      {"one second before a cutoff", "2026-12-02T12:00:00Z", "2027-03-15T09:59:59Z", nullptr,
       "2027-02-22T10:00:00Z", "2027-03-15T09:59:59Z", "2027-04-01T02:00:00Z"},
      // Overdue and never noticed: the next notice run, then 14 days.
      {"overdue, not noticed", "2027-01-11T09:00:00Z", "2027-01-04T00:00:00Z", nullptr,
       "2027-01-11T10:00:00Z", "2027-01-25T10:00:00Z", "2027-02-01T02:00:00Z"},
      // A run at the very instant counts; one a second ago does not.
      {"now is a notice run", "2027-01-11T10:00:00Z", "2027-01-04T00:00:00Z", nullptr,
       "2027-01-11T10:00:00Z", "2027-01-25T10:00:00Z", "2027-02-01T02:00:00Z"},
      {"a notice run just passed", "2027-01-11T10:00:01Z", "2027-01-04T00:00:00Z", nullptr,
       "2027-01-18T10:00:00Z", "2027-02-01T10:00:00Z", "2027-03-01T02:00:00Z"},
      // Already noticed (or suppressed for inform_hosts = false, recorded the same way).
      {"noticed, gap decides", "2026-12-02T12:00:00Z", "2026-12-01T00:00:00Z",
       "2026-11-30T10:00:07Z", "2026-11-30T10:00:07Z", "2026-12-14T10:00:07Z",
       "2027-01-01T02:00:00Z"},
      {"noticed early, eligible decides", "2026-12-02T12:00:00Z", "2027-02-01T02:00:00Z",
       "2026-11-30T10:00:07Z", "2026-11-30T10:00:07Z", "2027-02-01T02:00:00Z",
       "2027-02-01T02:00:00Z"},
      // Deletion date just before, at and just after a sweep run.
      {"deletable a second before a sweep", "2026-12-02T12:00:00Z", "2027-02-01T01:59:59Z",
       "2026-11-30T10:00:07Z", "2026-11-30T10:00:07Z", "2027-02-01T01:59:59Z",
       "2027-02-01T02:00:00Z"},
      {"deletable a second after a sweep", "2026-12-02T12:00:00Z", "2027-02-01T02:00:01Z",
       "2026-11-30T10:00:07Z", "2026-11-30T10:00:07Z", "2027-02-01T02:00:01Z",
       "2027-03-01T02:00:00Z"},
      // Noticed long ago and overdue: the next sweep from now, not one in the past.
      {"overdue and noticed", "2027-01-05T00:00:00Z", "2026-11-01T00:00:00Z",
       "2026-11-02T10:00:03Z", "2026-11-02T10:00:03Z", "2026-11-16T10:00:03Z",
       "2027-02-01T02:00:00Z"},
  };
  for (const Case& c : cases) Check(s, c);
}

TEST(ProjectDeletionTest, NoticeDaysZeroDeletesOnTheEligibleDate) {
  const RetentionSchedule s = Schedule("0 10 * * 1", "0 2 1 * *", 0);
  const Case cases[] = {
      // The notice still goes out (for the mail) but does not move the deletion date.
      {"not noticed", "2026-12-02T12:00:00Z", "2026-12-20T00:00:00Z", nullptr,
       "2026-12-14T10:00:00Z", "2026-12-20T00:00:00Z", "2027-01-01T02:00:00Z"},
      // A notice run that falls on the deletion date (Monday 10:00).
      {"notice run on the deletion date", "2026-12-02T12:00:00Z", "2027-01-11T10:00:00Z", nullptr,
       "2027-01-11T10:00:00Z", "2027-01-11T10:00:00Z", "2027-02-01T02:00:00Z"},
      {"on a sweep run", "2026-12-02T12:00:00Z", "2027-01-01T02:00:00Z", nullptr,
       "2026-12-28T10:00:00Z", "2027-01-01T02:00:00Z", "2027-01-01T02:00:00Z"},
  };
  for (const Case& c : cases) Check(s, c);
}

TEST(ProjectDeletionTest, FollowsCronsChangedInConfig) {
  // Notices on Wednesdays at 08:00, a daily sweep at 03:00, 7 days.
  const RetentionSchedule s = Schedule("0 8 * * wed", "0 3 * * *", 7);
  const Case cases[] = {
      // Wed 2 Dec 12:00: next notice Wed 9 Dec 08:00 (cutoff 16 Dec + 7 = 23 Dec > 20 Dec).
      {"eligible in 18 days", "2026-12-02T12:00:00Z", "2026-12-20T00:00:00Z", nullptr,
       "2026-12-09T08:00:00Z", "2026-12-20T00:00:00Z", "2026-12-20T03:00:00Z"},
      {"overdue", "2026-12-02T12:00:00Z", "2026-11-20T00:00:00Z", nullptr, "2026-12-09T08:00:00Z",
       "2026-12-16T08:00:00Z", "2026-12-17T03:00:00Z"},
  };
  for (const Case& c : cases) Check(s, c);
}

TEST(ProjectDeletionTest, NoRunLeftMeansNoDate) {
  RetentionSchedule s = Schedule("0 0 30 2 *", "0 2 1 * *", 14);  // notices never fire
  ProjectedDeletion p =
      ProjectDeletion(T("2027-01-01T00:00:00Z"), std::nullopt, T("2026-12-02T00:00:00Z"), s);
  EXPECT_EQ(Show(p.notice_at), "none");
  EXPECT_EQ(Show(p.deletion_date), "none");  // the gate is on and no notice comes
  EXPECT_EQ(Show(p.sweep_at), "none");
  s.notices.reset();  // not scheduled at all: the same
  p = ProjectDeletion(T("2027-01-01T00:00:00Z"), std::nullopt, T("2026-12-02T00:00:00Z"), s);
  EXPECT_EQ(Show(p.deletion_date), "none");
  s = Schedule("0 10 * * 1", "0 0 30 2 *", 14);  // the sweep never fires
  p = ProjectDeletion(T("2027-01-01T00:00:00Z"), std::nullopt, T("2026-12-02T00:00:00Z"), s);
  EXPECT_EQ(Show(p.deletion_date), "2027-01-01T00:00:00Z");
  EXPECT_EQ(Show(p.sweep_at), "none");
}

// A phase ending on each weekday, at several hours, with several notice gaps: the projected notice
// is the run the job itself would pick, found by stepping through its runs one by one.
TEST(ProjectDeletionTest, MatchesTheNoticeJobRunByRunOnEveryWeekday) {
  const TimePoint now = T("2026-12-02T12:00:00Z");  // a Wednesday
  for (int gap : {0, 1, 6, 7, 14, 30}) {
    const RetentionSchedule s = Schedule("0 10 * * 1", "0 2 1 * *", gap);
    for (int day = -10; day < 120; ++day) {
      for (int hour : {0, 9, 10, 11, 23}) {
        const TimePoint eligible =
            T("2026-12-07T00:00:00Z") + std::chrono::days(day) + std::chrono::hours(hour);
        const ProjectedDeletion p = ProjectDeletion(eligible, std::nullopt, now, s);
        const std::optional<TimePoint> want = NoticeBySteppingRuns(*s.notices, eligible, now, gap);
        ASSERT_EQ(Show(p.notice_at), Show(want))
            << "gap " << gap << ", eligible " << FormatTime(eligible);
        ASSERT_TRUE(p.deletion_date.has_value());
        const TimePoint deletion =
            gap == 0 ? eligible : std::max(eligible, *want + std::chrono::days(gap));
        EXPECT_EQ(*p.deletion_date, deletion) << FormatTime(eligible);
        ASSERT_TRUE(p.sweep_at.has_value());
        EXPECT_GE(*p.sweep_at, deletion);
        EXPECT_TRUE(s.sweep->Matches(*p.sweep_at));
        // No sweep run between the deletion date and the one projected.
        EXPECT_EQ(s.sweep->NextAfter(std::max(deletion, now) - std::chrono::seconds(1)),
                  *p.sweep_at);
      }
    }
  }
}

}  // namespace
}  // namespace retention
