#include "scheduler/scheduler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "testing/job_fixtures.h"

namespace retention {
namespace {

using testing::AddChallenge;
using testing::BaseData;
using testing::Import;
using testing::JobTest;
using testing::Node;
using testing::OpenNode;
using testing::SeedEnvironment;
using testing::T;

constexpr std::chrono::minutes kStep{30};  // every seed cron fires at :00 or :30

SchedulerOptions TestOptions(const std::string& tag) {
  SchedulerOptions o;
  o.owner = DefaultOwner() + "#" + tag;
  o.renew_every = std::chrono::seconds(0);
  return o;
}

class SchedulerTest : public JobTest {
 protected:
  SchedulerTest() : JobTest(T("2026-12-31T23:30:00Z"), /*notice_days=*/0) {}

  // (slot, started_at, trigger, status) of every run of `job`, in id order.
  struct Run {
    std::int64_t slot;
    std::int64_t started_at;
    std::string trigger;
    std::string status;
  };
  std::vector<Run> Runs(const std::string& job) {
    auto conn = node_->db->Lock();
    auto rows = conn->Query(
        "SELECT COALESCE(slot, -1), started_at, trigger, status FROM job_runs WHERE job = ? "
        "ORDER BY id",
        {job});
    EXPECT_TRUE(rows.ok());
    std::vector<Run> out;
    for (const auto& r : *rows) out.push_back({r.Int(0), r.Int(1), r.Text(2), r.Text(3)});
    return out;
  }

  // Ticks `s` every kStep from `from` (exclusive) to `to` (inclusive), setting the clock.
  void TickThrough(Scheduler& s, TimePoint from, TimePoint to) {
    for (TimePoint t = from + kStep; t <= to; t += kStep) {
      clock_.Set(t);
      ASSERT_TRUE(s.Tick(t).ok()) << FormatTime(t);
    }
  }
};

// Every day of 2027 at hh:mm that passes `keep`.
template <typename Pred>
std::vector<std::int64_t> SlotsOf2027(int hour, int minute, Pred keep) {
  using namespace std::chrono;
  std::vector<std::int64_t> out;
  for (sys_days d = sys_days(year(2027) / January / 1); d < sys_days(year(2028) / January / 1);
       d += days(1)) {
    if (keep(d)) out.push_back(ToUnix(TimePoint(d) + hours(hour) + minutes(minute)));
  }
  return out;
}

TEST_F(SchedulerTest, SimulatedYearRunsEachSeedCronExactlyWhenItFires) {
  using namespace std::chrono;
  Scheduler s(SeedEnvironment(&node_->ctx, nullptr), TestOptions("a"));
  const TimePoint start = clock_.Now();
  ASSERT_TRUE(s.Recover(start).ok());
  TickThrough(s, start, T("2027-12-31T23:30:00Z"));

  const auto monthly =
      SlotsOf2027(2, 0, [](sys_days d) { return year_month_day(d).day() == day(1); });
  const auto mondays = SlotsOf2027(10, 0, [](sys_days d) { return weekday(d) == Monday; });
  const auto sundays = SlotsOf2027(1, 0, [](sys_days d) { return weekday(d) == Sunday; });
  const auto daily = SlotsOf2027(3, 30, [](sys_days) { return true; });
  ASSERT_EQ(monthly.size(), 12u);
  ASSERT_EQ(mondays.size(), 52u);
  ASSERT_EQ(sundays.size(), 52u);

  auto check = [&](const std::string& job, const std::vector<std::int64_t>& expected) {
    const auto runs = Runs(job);
    std::vector<std::int64_t> slots;
    for (const Run& r : runs) {
      slots.push_back(r.slot);
      EXPECT_EQ(r.started_at, r.slot) << job << " started late";
      EXPECT_EQ(r.trigger, "schedule") << job;
      EXPECT_EQ(r.status, "succeeded") << job;
    }
    EXPECT_EQ(slots, expected) << job;
  };
  check("cleanup_expired_submission_artifacts", monthly);
  check("weekly_retention_notifications_and_consent_log", mondays);
  check("update_submission_retention_dates", sundays);
  check("reconcile_log_retention", daily);
  EXPECT_EQ(s.runs_started().at("cleanup_expired_submission_artifacts"), 12);
}

TEST_F(SchedulerTest, FreshInstallDoesNotCatchUpOnFirstStart) {
  clock_.Set(T("2027-07-01T12:00:00Z"));
  Scheduler s(SeedEnvironment(&node_->ctx, nullptr), TestOptions("a"));
  ASSERT_TRUE(s.Tick(clock_.Now()).ok());
  for (std::string_view job : kJobNames) EXPECT_TRUE(Runs(std::string(job)).empty()) << job;
  // The next slot fires normally.
  TickThrough(s, clock_.Now(), T("2027-07-02T04:00:00Z"));
  EXPECT_EQ(Runs("reconcile_log_retention").size(), 1u);
  EXPECT_TRUE(Runs("cleanup_expired_submission_artifacts").empty());
}

TEST_F(SchedulerTest, RestartAfterThreeMonthsDownRunsEachMissedJobOnce) {
  {
    Scheduler before(SeedEnvironment(&node_->ctx, nullptr), TestOptions("a"));
    ASSERT_TRUE(before.Recover(clock_.Now()).ok());
    TickThrough(before, clock_.Now(), T("2027-03-31T23:30:00Z"));
  }
  const auto runs_before = Runs("weekly_retention_notifications_and_consent_log").size();
  ASSERT_EQ(runs_before, 13u);  // Mondays of January to March 2027

  clock_.Set(T("2027-07-01T12:00:00Z"));  // down April to June
  Scheduler after(SeedEnvironment(&node_->ctx, nullptr), TestOptions("b"));
  ASSERT_TRUE(after.Tick(clock_.Now()).ok());
  struct Want {
    const char* job;
    const char* slot;
  };
  for (const Want& w :
       {Want{"cleanup_expired_submission_artifacts", "2027-07-01T02:00:00Z"},
        Want{"weekly_retention_notifications_and_consent_log", "2027-06-28T10:00:00Z"},
        Want{"update_submission_retention_dates", "2027-06-27T01:00:00Z"},
        Want{"reconcile_log_retention", "2027-07-01T03:30:00Z"}}) {
    int catchups = 0;
    int in_downtime = 0;
    for (const Run& r : Runs(w.job)) {
      if (r.trigger == "catchup") {
        ++catchups;
        EXPECT_EQ(r.slot, ToUnix(T(w.slot))) << w.job;
        EXPECT_EQ(r.started_at, ToUnix(T("2027-07-01T12:00:00Z"))) << w.job;
        EXPECT_EQ(r.status, "succeeded") << w.job;
      }
      if (r.started_at > ToUnix(T("2027-04-01T00:00:00Z"))) ++in_downtime;
    }
    EXPECT_EQ(catchups, 1) << w.job;
    EXPECT_EQ(in_downtime, 1) << w.job << ": once, not once per missed slot";
  }
  // A second tick at the same instant and the following hours add no catch-up.
  TickThrough(after, clock_.Now(), T("2027-07-01T23:30:00Z"));
  EXPECT_EQ(Runs("cleanup_expired_submission_artifacts").size(), 4u);  // Jan, Feb, Mar + catch-up
}

TEST_F(SchedulerTest, TwoSchedulersOnOneDatabaseFileRunEachSlotOnce) {
  auto other = OpenNode(dir_.path() / "retention.db", store_.get(), &clock_, 0);
  ASSERT_NE(other, nullptr);
  Scheduler a(SeedEnvironment(&node_->ctx, nullptr), TestOptions("a"));
  Scheduler b(SeedEnvironment(&other->ctx, nullptr), TestOptions("b"));
  const TimePoint start = clock_.Now();
  ASSERT_TRUE(a.Recover(start).ok());
  ASSERT_TRUE(b.Recover(start).ok());
  int i = 0;
  for (TimePoint t = start + kStep; t <= T("2027-03-01T06:00:00Z"); t += kStep, ++i) {
    clock_.Set(t);
    // Alternate which one ticks first, so that both win some slots.
    Scheduler& first = (i / 48) % 2 == 0 ? a : b;
    Scheduler& second = (i / 48) % 2 == 0 ? b : a;
    ASSERT_TRUE(first.Tick(t).ok());
    ASSERT_TRUE(second.Tick(t).ok());
  }
  for (std::string_view name : kJobNames) {
    const std::string job(name);
    std::set<std::int64_t> slots;
    for (const Run& r : Runs(job)) {
      EXPECT_TRUE(slots.insert(r.slot).second) << job << " ran twice for one slot";
    }
    const int by_a = a.runs_started().count(job) ? a.runs_started().at(job) : 0;
    const int by_b = b.runs_started().count(job) ? b.runs_started().at(job) : 0;
    EXPECT_EQ(static_cast<std::size_t>(by_a + by_b), slots.size()) << job;
  }
  EXPECT_EQ(Runs("cleanup_expired_submission_artifacts").size(), 3u);  // Jan, Feb, Mar 1st
  EXPECT_EQ(Runs("reconcile_log_retention").size(), 60u);              // Jan 1 .. Mar 1
  EXPECT_GT(a.runs_started().at("reconcile_log_retention"), 0);
  EXPECT_GT(b.runs_started().at("reconcile_log_retention"), 0);
}

TEST_F(SchedulerTest, LeaseHeldByALiveOwnerDefersTheSlotUntilItIsFree) {
  Scheduler s(SeedEnvironment(&node_->ctx, nullptr), TestOptions("a"));
  ASSERT_TRUE(s.Recover(clock_.Now()).ok());
  {
    auto conn = node_->db->Lock();
    ASSERT_TRUE(conn->Exec("INSERT INTO job_locks (job, owner, expires_at) VALUES (?, ?, ?)",
                           {std::string("reconcile_log_retention"), DefaultOwner() + "#other",
                            ToUnix(T("2027-01-01T04:00:00Z"))})
                    .ok());
  }
  TickThrough(s, clock_.Now(), T("2027-01-01T03:30:00Z"));
  EXPECT_TRUE(Runs("reconcile_log_retention").empty());  // held by a live process
  TickThrough(s, clock_.Now(), T("2027-01-01T04:30:00Z"));
  const auto runs = Runs("reconcile_log_retention");
  ASSERT_EQ(runs.size(), 1u);  // once the lease expired, the deferred slot ran
  EXPECT_EQ(runs[0].slot, ToUnix(T("2027-01-01T03:30:00Z")));
  EXPECT_EQ(runs[0].started_at, ToUnix(T("2027-01-01T04:00:00Z")));  // the lease expiry
}

// A consented challenge whose submissions are eligible since 2027-01-01 (notice gate off).
void ImportEligible(Node& node, ArtifactStore& store, int per_phase) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2026-12-02T00:00:00Z"}, per_phase);
  Import(node.ctx, store, data);
}

TEST_F(SchedulerTest, RunOfADeadProcessIsInterruptedAndTheNextRunFinishesTheWork) {
  clock_.Set(T("2027-02-01T00:00:00Z"));
  ImportEligible(*node_, *store_, 3);
  // A process that died during the sweep of 2027-02-01 02:00, its lease still unexpired.
  const std::string dead = "99999999@" + DefaultOwner().substr(DefaultOwner().find('@') + 1);
  {
    auto conn = node_->db->Lock();
    ASSERT_TRUE(
        conn->Exec("INSERT INTO job_runs (job, trigger, slot, owner, started_at, status) "
                   "VALUES ('cleanup_expired_submission_artifacts', 'schedule', ?, ?, ?, "
                   "'running')",
                   {ToUnix(T("2027-02-01T02:00:00Z")), dead, ToUnix(T("2027-02-01T02:00:00Z"))})
            .ok());
    ASSERT_TRUE(conn->Exec("INSERT INTO job_locks (job, owner, expires_at) VALUES "
                           "('cleanup_expired_submission_artifacts', ?, ?)",
                           {dead, ToUnix(T("2027-02-01T03:00:00Z"))})
                    .ok());
  }
  clock_.Set(T("2027-02-01T02:10:00Z"));
  Scheduler s(SeedEnvironment(&node_->ctx, nullptr), TestOptions("a"));
  ASSERT_TRUE(s.Tick(clock_.Now()).ok());

  const auto runs = Runs("cleanup_expired_submission_artifacts");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].status, "interrupted");
  EXPECT_EQ(runs[1].trigger, "catchup");
  EXPECT_EQ(runs[1].status, "succeeded");
  EXPECT_EQ(runs[1].slot, ToUnix(T("2027-02-01T02:00:00Z")));
  auto conn = node_->db->Lock();
  auto left = conn->QueryOne("SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 0");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ((*left)->Int(0), 0);
  auto lock = conn->QueryOne("SELECT COUNT(*) FROM job_locks");
  EXPECT_EQ((*lock)->Int(0), 0) << "the lease is released after the run";
}

TEST_F(SchedulerTest, StopDuringASweepRecordsInterruptedAndTheNextRunFinishes) {
  clock_.Set(T("2027-02-01T02:00:00Z"));
  ImportEligible(*node_, *store_, 3);
  const JobEnvironment env = SeedEnvironment(&node_->ctx, nullptr);
  std::atomic<bool> stop{true};  // SIGTERM arrived
  auto first = RunJobOnce(env, TestOptions("a"), "cleanup_expired_submission_artifacts", "schedule",
                          T("2027-02-01T02:00:00Z"), &stop);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->ran);
  EXPECT_EQ(first->status, "interrupted");
  EXPECT_EQ(first->result["interrupted"], true);

  auto again = RunJobOnce(env, TestOptions("a"), "cleanup_expired_submission_artifacts", "schedule",
                          T("2027-02-01T02:00:00Z"), nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->ran) << "an interrupted slot may run again";
  EXPECT_EQ(again->status, "succeeded");
  EXPECT_EQ(again->result["deleted"], 3);

  auto third = RunJobOnce(env, TestOptions("b"), "cleanup_expired_submission_artifacts", "schedule",
                          T("2027-02-01T02:00:00Z"), nullptr);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->ran) << "a succeeded slot never runs twice";
}

TEST_F(SchedulerTest, ManualRunIsAuditedAndListed) {
  const JobEnvironment env = SeedEnvironment(&node_->ctx, nullptr);
  auto run =
      RunJobNow(env, "update_submission_retention_dates", "admin", nullptr, TestOptions("a"));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ((*run)["status"], "succeeded");
  EXPECT_EQ(RunJobNow(env, "no_such_job", "admin").status().code(), StatusCode::kNotFound);

  auto jobs = ListJobs(env);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ((*jobs)["jobs"].size(), 4u);
  for (const auto& j : (*jobs)["jobs"]) {
    if (j["name"] == "update_submission_retention_dates") {
      EXPECT_EQ(j["cron"], "0 1 * * 0");
      EXPECT_EQ(j["next_run"], "2027-01-03T01:00:00Z");
      EXPECT_EQ(j["last_run"]["trigger"], "manual");
      EXPECT_EQ(j["last_run"]["status"], "succeeded");
    } else {
      EXPECT_TRUE(j["last_run"].is_null()) << j["name"];
    }
  }
  auto runs = ListJobRuns(env, "update_submission_retention_dates", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ((*runs)["runs"].size(), 1u);
  EXPECT_TRUE((*runs)["runs"][0]["slot"].is_null());
  EXPECT_EQ(ListJobRuns(env, "", 0).status().code(), StatusCode::kInvalidArgument);

  auto conn = node_->db->Lock();
  auto audited = conn->QueryOne(
      "SELECT actor, notes FROM audit_events WHERE ledger = 'admin' AND action = 'job_run'");
  ASSERT_TRUE(audited.ok());
  ASSERT_TRUE(audited->has_value());
  EXPECT_EQ((*audited)->Text(0), "admin");
  EXPECT_NE((*audited)->Text(1).find("update_submission_retention_dates"), std::string::npos);
}

TEST_F(SchedulerTest, ManualRunIsRefusedWhileAnotherLiveOwnerRunsTheJob) {
  const JobEnvironment env = SeedEnvironment(&node_->ctx, nullptr);
  {
    auto conn = node_->db->Lock();
    ASSERT_TRUE(conn->Exec("INSERT INTO job_locks (job, owner, expires_at) VALUES (?, ?, ?)",
                           {std::string("reconcile_log_retention"), DefaultOwner() + "#other",
                            ToUnix(clock_.Now() + std::chrono::minutes(5))})
                    .ok());
  }
  auto run = RunJobNow(env, "reconcile_log_retention", "admin", nullptr, TestOptions("a"));
  EXPECT_EQ(run.status().code(), StatusCode::kAborted);
  EXPECT_TRUE(Runs("reconcile_log_retention").empty());
}

TEST_F(SchedulerTest, StartAndStopRunTheBackgroundThread) {
  // Only checks that the thread starts, ticks with the injected clock and stops promptly; the
  // fake clock stands still, so nothing is due.
  Scheduler s(SeedEnvironment(&node_->ctx, nullptr), TestOptions("a"));
  s.Start();
  s.Stop();
  s.Stop();  // idempotent
  for (std::string_view job : kJobNames) EXPECT_TRUE(Runs(std::string(job)).empty());
}

}  // namespace
}  // namespace retention
