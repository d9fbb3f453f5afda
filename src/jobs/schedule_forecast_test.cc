// Issue 13 item 1: the dry run as of each of the next twelve sweep runs lists exactly what the
// scheduled jobs then delete when the clock is stepped through the year.
#include <gtest/gtest.h>

#include <set>

#include "scheduler/scheduler.h"
#include "service/sweep.h"
#include "testing/job_fixtures.h"

namespace retention {
namespace {

using testing::AddChallenge;
using testing::BaseData;
using testing::FakeMailSender;
using testing::Import;
using testing::JobTest;
using testing::SeedEnvironment;
using testing::T;

class ScheduleForecastTest : public JobTest {
 protected:
  ScheduleForecastTest() : JobTest(T("2027-01-01T00:00:00Z"), /*notice_days=*/14) {}

  std::set<std::int64_t> Deleted() {
    auto conn = node_->db->Lock();
    auto rows = conn->Query("SELECT id FROM submissions WHERE is_artifact_deleted = 1");
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::set<std::int64_t> ids;
    if (rows.ok()) {
      for (const SqlRow& r : *rows) ids.insert(r.Int(0));
    }
    return ids;
  }

  FakeMailSender mail_;
};

TEST_F(ScheduleForecastTest, EachOfTheNextTwelveSweepsDeletesWhatTheForecastListed) {
  auto data = BaseData();
  // Challenge 7: a private phase ending on each day of three weeks before now (overdue, some
  // noticed below), and on 40 days spread over the year at different hours (every weekday).
  std::vector<std::string> ends;
  for (int k = 0; k < 21; ++k) {
    ends.push_back(FormatTime(T("2026-11-10T00:00:00Z") + std::chrono::days(k) +
                              std::chrono::hours((k * 7) % 24)));
  }
  for (int k = 0; k < 40; ++k) {
    ends.push_back(FormatTime(T("2026-12-20T00:00:00Z") + std::chrono::days(k * 9) +
                              std::chrono::hours((k * 5) % 24)));
  }
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", ends, 1);
  // A public phase and one without an end date: never eligible.
  data["challenges"][0]["phases"][25]["is_public"] = true;
  data["challenges"][0]["phases"][26].erase("end_date");
  // Challenge 8 does not inform its hosts (the notice is recorded as suppressed); 9 goes on
  // legal hold; 10 has no consent.
  AddChallenge(data, 8, "2026-06-02T00:00:00Z",
               {"2026-12-29T00:00:00Z", "2027-02-11T13:00:00Z", "2027-05-03T00:00:00Z"}, 2,
               /*inform_hosts=*/false);
  AddChallenge(data, 9, "2026-06-02T00:00:00Z", {"2026-12-01T00:00:00Z"}, 2);
  AddChallenge(data, 10, "2026-06-02T00:00:00Z", {"2026-12-01T00:00:00Z"}, 2);
  data["challenges"][3].erase("consent");
  Import(node_->ctx, *store_, data);
  ASSERT_TRUE(SetChallengeHold(node_->ctx, 9, true, "litigation", "admin").ok());
  ASSERT_TRUE(SetSubmissionHold(node_->ctx, 70030, true, "appeal", "admin").ok());  // phase 30

  JobEnvironment env = SeedEnvironment(&node_->ctx, &mail_);
  // A notice run by hand now (Friday 1 Jan): these submissions carry a recorded notice.
  ASSERT_TRUE(RunJob(env, kNotificationsJob, clock_.Now(), nullptr).ok());

  // The forecast, made once from now, for each of the next twelve sweep runs.
  const CronSchedule& sweep = env.schedule.at(std::string(kCleanupJob));
  std::vector<TimePoint> runs;
  for (TimePoint t = clock_.Now(); runs.size() < 12;) {
    t = sweep.NextAfter(t);
    runs.push_back(t);
  }
  std::vector<std::set<std::int64_t>> forecast;
  for (TimePoint run : runs) {
    SweepOptions o;
    o.dry_run = true;
    o.as_of = run;
    auto r = RunSweep(node_->ctx, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::set<std::int64_t> ids;
    for (const SweptSubmission& s : r->items) {
      ids.insert(s.submission_id);
      // Each listed item says which run deletes it: this one or an earlier one.
      ASSERT_TRUE(s.schedule && s.schedule->sweep_at) << s.submission_id;
      EXPECT_LE(*s.schedule->sweep_at, run) << s.submission_id;
    }
    forecast.push_back(std::move(ids));
  }
  ASSERT_TRUE(Deleted().empty());

  // The year, with the seed's schedule, ticking every 30 minutes.
  Scheduler s(env, {.owner = DefaultOwner() + "#a", .renew_every = std::chrono::seconds(0)});
  ASSERT_TRUE(s.Recover(clock_.Now()).ok());
  TimePoint t = clock_.Now();
  std::size_t total = 0;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    for (; t <= runs[k] + std::chrono::minutes(30); t += std::chrono::minutes(30)) {
      clock_.Set(t);
      ASSERT_TRUE(s.Tick(t).ok()) << FormatTime(t);
    }
    EXPECT_EQ(Deleted(), forecast[k]) << "after the sweep of " << FormatTime(runs[k]);
    total = forecast[k].size();
  }
  // What can go by the sweep of 1 Dec 2027 went, nothing protected did. In 7: the 21 overdue and
  // the 36 of the year's phases eligible (end + 30 days) by then, less the public phase, the one
  // without an end date and the held submission; in 8 all 6; none in 9 (hold) or 10 (no consent).
  EXPECT_EQ(total, 21u + 36u - 3u + 6u);
  for (std::int64_t protected_id : {70025, 70026, 70030, 90000, 90001, 100000, 100001}) {
    EXPECT_EQ(Deleted().count(protected_id), 0u) << protected_id;
  }
}

}  // namespace
}  // namespace retention
