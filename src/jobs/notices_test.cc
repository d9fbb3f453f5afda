#include "jobs/notices.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "notify/outbox.h"
#include "scheduler/scheduler.h"
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

constexpr std::int64_t kDay = kSecondsPerDay;

class NoticesTest : public JobTest {
 protected:
  NoticesTest() : JobTest(T("2027-01-01T00:00:00Z"), /*notice_days=*/14) {}

  std::vector<SqlRow> Query(const std::string& sql, const SqlParams& params = {}) {
    auto conn = node_->db->Lock();
    auto rows = conn->Query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? *rows : std::vector<SqlRow>{};
  }

  // Runs the seed's schedule from the clock's time to `to`, ticking every 30 minutes.
  void Simulate(Scheduler& s, TimePoint to) {
    for (TimePoint t = clock_.Now(); t <= to; t += std::chrono::minutes(30)) {
      clock_.Set(t);
      ASSERT_TRUE(s.Tick(t).ok()) << FormatTime(t);
    }
  }

  FakeMailSender mail_;
};

// Phases ending on each of the seven weekdays (three weeks of consecutive days, at different
// hours), with the seed's schedule and notice_days = 14, simulated over five months.
TEST_F(NoticesTest, EveryHostIsWarnedOnceAndInTimeWhateverTheWeekdayOfThePhaseEnd) {
  auto data = BaseData();
  std::vector<std::string> ends;
  for (int k = 0; k < 21; ++k) {
    const TimePoint end =
        T("2027-02-13T00:00:00Z") + std::chrono::days(k) + std::chrono::hours((k * 5) % 24);
    ends.push_back(FormatTime(end));
  }
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", ends, 2);
  Import(node_->ctx, *store_, data);
  Scheduler s(SeedEnvironment(&node_->ctx, &mail_),
              {.owner = DefaultOwner() + "#a", .renew_every = std::chrono::seconds(0)});
  ASSERT_TRUE(s.Recover(clock_.Now()).ok());
  Simulate(s, T("2027-06-01T00:00:00Z"));

  const auto sweep = CronSchedule::Parse("0 2 1 * *");
  ASSERT_TRUE(sweep.ok());
  const auto subs = Query(
      "SELECT id, retention_eligible_date, notice_sent_at, is_artifact_deleted, "
      "artifact_deletion_date FROM submissions ORDER BY id");
  ASSERT_EQ(subs.size(), 42u);
  for (const SqlRow& r : subs) {
    const std::int64_t id = r.Int(0);
    ASSERT_FALSE(r.IsNull(2)) << "submission " << id << " was never noticed";
    ASSERT_TRUE(r.Bool(3)) << "submission " << id << " was not deleted";
    const std::int64_t eligible = r.Int(1);
    const std::int64_t noticed = r.Int(2);
    const std::int64_t deleted = r.Int(4);
    EXPECT_GE(deleted - noticed, 14 * kDay) << "submission " << id << " warned too late";
    // The notice never delays the deletion: it happens at the first sweep after the eligible
    // date, which the seed's exact-date notice misses for most weekdays.
    const TimePoint first_sweep = sweep->NextAfter(FromUnix(eligible) - std::chrono::seconds(1));
    EXPECT_EQ(deleted, ToUnix(first_sweep)) << "submission " << id;
    // Both accepted hosts got exactly one mail naming it, the pending member none.
    const auto mails = Query(
        "SELECT m.recipient, COUNT(*) FROM notice_items ni JOIN mail_outbox m ON m.id = "
        "ni.outbox_id WHERE ni.submission_id = ? AND m.state = 'sent' GROUP BY m.recipient "
        "ORDER BY m.recipient",
        {id});
    ASSERT_EQ(mails.size(), 2u) << "submission " << id;
    EXPECT_EQ(mails[0].Text(0), "alice@example.org");
    EXPECT_EQ(mails[0].Int(1), 1);
    EXPECT_EQ(mails[1].Text(0), "dave@example.org");
    EXPECT_EQ(mails[1].Int(1), 1);
  }
  std::set<std::string> recipients;
  for (const MailMessage& m : mail_.delivered()) recipients.insert(m.to);
  EXPECT_EQ(recipients, (std::set<std::string>{"alice@example.org", "dave@example.org"}));
  EXPECT_EQ(Query("SELECT id FROM mail_outbox WHERE recipient LIKE '%carol%'").size(), 0u);
  EXPECT_EQ(Query("SELECT id FROM mail_outbox WHERE state <> 'sent'").size(), 0u);
  // One mail per host per challenge per run: mails come in pairs.
  EXPECT_EQ(mail_.delivered().size() % 2, 0u);
  EXPECT_EQ(mail_.delivered().size(), Query("SELECT id FROM mail_outbox").size());
}

TEST_F(NoticesTest, MailNamesCountDatesLinkWhatIsDeletedAndKeptAndHowToWithdraw) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 3);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));  // a Monday; eligible 2027-02-04, cutoff 2027-02-15
  JobEnvironment env = SeedEnvironment(&node_->ctx, &mail_);
  env.challenge_url = "https://evalai.example/web/challenges/challenge-page/{id}/overview";
  auto r = ProcessNotices(env, clock_.Now(), false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(mail_.delivered().size(), 2u);
  const MailMessage m = mail_.delivered()[0];
  EXPECT_EQ(m.to, "alice@example.org");
  // Deletion date = max(eligible 2027-02-04, now + 14 days = 2027-02-08); first sweep 2027-03-01.
  for (const std::string& body : {m.text, m.html}) {
    EXPECT_NE(body.find("Challenge 7"), std::string::npos);
    EXPECT_NE(body.find("3 submissions"), std::string::npos);
    EXPECT_NE(body.find("2027-02-08"), std::string::npos);
    EXPECT_NE(body.find("14 days remaining"), std::string::npos);
    EXPECT_NE(body.find("2027-03-01 02:00 UTC"), std::string::npos);
    EXPECT_NE(body.find("https://evalai.example/web/challenges/challenge-page/7/overview"),
              std::string::npos);
    EXPECT_NE(body.find("input_file"), std::string::npos);
    EXPECT_NE(body.find("stdout_file"), std::string::npos);
    EXPECT_NE(body.find("leaderboards"), std::string::npos);
    EXPECT_NE(body.find("retention consent 7 alice --withdraw"), std::string::npos);
  }
  EXPECT_NE(m.subject.find("3 submissions"), std::string::npos);
  EXPECT_NE(m.html.find("<html>"), std::string::npos);
  EXPECT_EQ((*r)["notices"][0]["deletion_date"], "2027-02-08T10:00:00Z");
  EXPECT_EQ((*r)["notices"][0]["first_sweep"], "2027-03-01T02:00:00Z");
  EXPECT_EQ((*r)["delivery"]["sent"], 2);
}

TEST_F(NoticesTest, ASecondRunSendsNothing) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));
  const JobEnvironment env = SeedEnvironment(&node_->ctx, &mail_);
  ASSERT_TRUE(RunJob(env, kNotificationsJob, clock_.Now(), nullptr).ok());
  ASSERT_EQ(mail_.delivered().size(), 2u);
  clock_.Advance(std::chrono::hours(1));
  auto again = RunJob(env, kNotificationsJob, clock_.Now(), nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(mail_.delivered().size(), 2u);
  EXPECT_EQ((*again)["notices"]["submissions_noticed"], 0);
}

TEST_F(NoticesTest, MailServerDownKeepsTheNoticeQueuedAndItIsDeliveredOnceLater) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));
  const JobEnvironment env = SeedEnvironment(&node_->ctx, &mail_);
  mail_.FailAll(Unavailable("connection refused"));
  auto down = ProcessNotices(env, clock_.Now(), false);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ((*down)["delivery"]["retry_later"], 2);
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE notice_sent_at IS NULL").size(), 2u)
      << "an undelivered notice does not start the notice period";
  // Re-runs while it is down queue nothing new.
  clock_.Advance(std::chrono::minutes(30));
  ASSERT_TRUE(ProcessNotices(env, clock_.Now(), false).ok());
  EXPECT_EQ(Query("SELECT id FROM mail_outbox").size(), 2u);

  mail_.FailAll(Status::Ok());
  clock_.Advance(std::chrono::hours(2));
  auto up = ProcessNotices(env, clock_.Now(), false);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)["delivery"]["sent"], 2);
  EXPECT_EQ(mail_.delivered().size(), 2u);
  EXPECT_EQ(
      Query("SELECT id FROM submissions WHERE notice_sent_at = ?", {ToUnix(clock_.Now())}).size(),
      2u);
  clock_.Advance(std::chrono::hours(2));
  ASSERT_TRUE(ProcessNotices(env, clock_.Now(), false).ok());
  EXPECT_EQ(mail_.delivered().size(), 2u);
}

TEST_F(NoticesTest, PermanentRefusalOfOneHostDoesNotStopTheOthers) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));
  mail_.FailPermanently("alice@example.org");
  auto r = ProcessNotices(SeedEnvironment(&node_->ctx, &mail_), clock_.Now(), false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(mail_.delivered().size(), 1u);
  EXPECT_EQ(mail_.delivered()[0].to, "dave@example.org");
  EXPECT_EQ((*r)["failed"], 1);
  ASSERT_EQ((*r)["errors"].size(), 1u);
  EXPECT_NE((*r)["errors"][0].get<std::string>().find("550"), std::string::npos);
  const auto failed = Query("SELECT recipient, last_error FROM mail_outbox WHERE state = 'failed'");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].Text(0), "alice@example.org");
}

TEST_F(NoticesTest, ChallengeThatDoesNotInformHostsGetsASuppressedNoticeAndIsStillSwept) {
  auto data = BaseData();
  AddChallenge(data, 8, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2,
               /*inform_hosts=*/false);
  Import(node_->ctx, *store_, data);
  Scheduler s(SeedEnvironment(&node_->ctx, &mail_),
              {.owner = DefaultOwner() + "#a", .renew_every = std::chrono::seconds(0)});
  ASSERT_TRUE(s.Recover(clock_.Now()).ok());
  Simulate(s, T("2027-03-02T00:00:00Z"));
  EXPECT_TRUE(mail_.delivered().empty());
  const auto rows = Query("SELECT state, recipient FROM mail_outbox");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].Text(0), "suppressed");
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE is_artifact_deleted = 1").size(), 2u);
}

TEST_F(NoticesTest, HeldSubmissionsAreNotNoticedAndDryRunChangesNothing) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));
  ASSERT_TRUE(SetSubmissionHold(node_->ctx, 70000, true, "litigation", "admin").ok());
  const JobEnvironment env = SeedEnvironment(&node_->ctx, &mail_);
  auto dry = ProcessNotices(env, clock_.Now(), true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ((*dry)["submissions_noticed"], 1);
  EXPECT_EQ((*dry)["notices"][0]["recipients"].size(), 2u);
  EXPECT_EQ((*dry)["skipped"][0]["count"], 1);
  EXPECT_TRUE((*dry)["outbox"].empty());
  EXPECT_TRUE(mail_.delivered().empty());
  EXPECT_TRUE(Query("SELECT id FROM mail_outbox").empty());
  EXPECT_TRUE(Query("SELECT 1 FROM notice_items").empty());
}

TEST_F(NoticesTest, WithoutAMailServerTheOutboxIsTheTransport) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));
  auto r = ProcessNotices(SeedEnvironment(&node_->ctx, nullptr), clock_.Now(), false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Query("SELECT id FROM mail_outbox WHERE state = 'queued'").size(), 2u);
  EXPECT_EQ(
      Query("SELECT id FROM submissions WHERE notice_sent_at = ?", {ToUnix(clock_.Now())}).size(),
      2u);
}

// Issue 8 defect 8: consent is withdrawn while a notice is on the wire (claimed 'sending', handed
// to the server, result not yet recorded). The mail went out, but the consent it warned about is
// gone: it must not count as the notice of a later consent.
TEST_F(NoticesTest, Issue8Defect8WithdrawalWhileANoticeIsSentVoidsItAndAReGrantNoticesAfresh) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));
  const JobEnvironment env = SeedEnvironment(&node_->ctx, &mail_);
  mail_.OnFirstSend([&] {
    clock_.Advance(std::chrono::minutes(1));
    ASSERT_TRUE(WithdrawConsent(node_->ctx, 7, "dave", std::string("pause")).ok());
  });
  auto first = ProcessNotices(env, clock_.Now(), false);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // Alice's mail was on the wire; dave's was still queued and the withdrawal cancelled it.
  ASSERT_EQ(mail_.delivered().size(), 1u);
  EXPECT_EQ(mail_.delivered()[0].to, "alice@example.org");
  EXPECT_EQ(Query("SELECT id FROM mail_outbox WHERE state = 'cancelled'").size(), 1u);
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE notice_sent_at IS NOT NULL").size(), 0u)
      << "a notice sent while consent was withdrawn counts";
  const auto sent = Query("SELECT last_error FROM mail_outbox WHERE state = 'sent'");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(sent[0].IsNull(0)) << "a void notice says why it does not count";
  if (!sent[0].IsNull(0)) {
    EXPECT_NE(sent[0].Text(0).find("withdrawn"), std::string::npos) << sent[0].Text(0);
  }
  EXPECT_EQ((*first)["delivery"]["void"], 1);

  clock_.Advance(std::chrono::hours(1));
  ASSERT_TRUE(GrantConsent(node_->ctx, 7, "alice", std::nullopt).ok());
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE notice_sent_at IS NOT NULL").size(), 0u)
      << "the notice sent for the withdrawn consent counts for the new one";
  clock_.Advance(std::chrono::hours(1));
  auto second = ProcessNotices(env, clock_.Now(), false);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)["submissions_noticed"], 2);
  EXPECT_EQ((*second)["delivery"]["sent"], 2);
  EXPECT_EQ(mail_.delivered().size(), 3u);
  EXPECT_EQ(
      Query("SELECT id FROM submissions WHERE notice_sent_at = ?", {ToUnix(clock_.Now())}).size(),
      2u);
}

// Issue 8 defect 10: one challenge whose notice cannot be queued (an address with a line break,
// written before addresses were checked) is reported, and the next challenge is still noticed.
TEST_F(NoticesTest, Issue8Defect10OneChallengeThatCannotBeNoticedDoesNotStopTheNext) {
  auto data = BaseData();
  data["users"].push_back({{"username", "erin"}, {"email", "erin@example.org"}});
  data["host_teams"].push_back(
      {{"id", 2},
       {"name", "Speech Lab"},
       {"members", nlohmann::json::array({{{"username", "erin"}, {"status", "accepted"}}})}});
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  AddChallenge(data, 8, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 1);
  data["challenges"][1]["host_team"] = 2;
  data["challenges"][1]["consent"]["by"] = "erin";
  Import(node_->ctx, *store_, data);
  {
    auto conn = node_->db->Lock();
    ASSERT_TRUE(conn->Exec("UPDATE users SET email = ? WHERE username = 'alice'",
                           {std::string("alice@example.org\r\nBcc: all@example.org")})
                    .ok());
  }
  clock_.Set(T("2027-01-25T10:00:00Z"));
  auto r = ProcessNotices(SeedEnvironment(&node_->ctx, &mail_), clock_.Now(), false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(mail_.delivered().size(), 1u);
  EXPECT_EQ(mail_.delivered()[0].to, "erin@example.org");
  ASSERT_EQ((*r)["notices"].size(), 1u);
  EXPECT_EQ((*r)["notices"][0]["challenge_id"], 8);
  ASSERT_EQ((*r)["challenges_failed"].size(), 1u);
  EXPECT_EQ((*r)["challenges_failed"][0]["challenge_id"], 7);
  EXPECT_EQ((*r)["failed"], 1);
  ASSERT_EQ((*r)["errors"].size(), 1u);
  const std::string error = (*r)["errors"][0].get<std::string>();
  EXPECT_NE(error.find("challenge 7"), std::string::npos) << error;
  EXPECT_NE(error.find("line break"), std::string::npos) << error;
  // Challenge 7 changed nothing (its transaction rolled back) and is tried again by the next run.
  EXPECT_TRUE(Query("SELECT id FROM mail_outbox WHERE challenge_id = 7").empty());
  EXPECT_EQ(
      Query("SELECT id FROM submissions WHERE challenge_id = 7 AND notice_sent_at IS NULL").size(),
      2u);
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE challenge_id = 8 AND notice_sent_at = ?",
                  {ToUnix(clock_.Now())})
                .size(),
            1u);
}

// Issue 8 defect 13 (ADR 0003): a notice stands while its submission stays eligible, even when the
// eligible date moves; once the eligible date is cleared (phase made public, end date removed,
// consent withdrawn) the notice no longer stands, and a date set again needs a fresh notice.
TEST_F(NoticesTest, Issue8Defect13AnEligibleDateClearedAndSetAgainNeedsAFreshNotice) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 2);
  Import(node_->ctx, *store_, data);
  clock_.Set(T("2027-01-25T10:00:00Z"));
  const JobEnvironment env = SeedEnvironment(&node_->ctx, &mail_);
  ASSERT_TRUE(ProcessNotices(env, clock_.Now(), false).ok());
  ASSERT_EQ(mail_.delivered().size(), 2u);
  const std::int64_t noticed_at = ToUnix(clock_.Now());

  clock_.Advance(std::chrono::hours(1));
  ASSERT_TRUE(SetOverride(node_->ctx, 7, 20, "shorter", "admin").ok());
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE notice_sent_at = ? AND "
                  "retention_eligible_date = ?",
                  {noticed_at, ToUnix(T("2027-01-25T00:00:00Z"))})
                .size(),
            2u)
      << "a moved eligible date keeps its notice";

  ASSERT_TRUE(UpdatePhase(node_->ctx, 700, {{"is_public", true}}).ok());
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE retention_eligible_date IS NULL").size(), 2u);
  ASSERT_TRUE(UpdatePhase(node_->ctx, 700, {{"is_public", false}}).ok());
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE retention_eligible_date IS NOT NULL").size(),
            2u);
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE notice_sent_at IS NOT NULL").size(), 0u)
      << "the notice of a date that was cleared still counts";

  // The fresh notice; while it is on the wire the phase goes public again, so its acceptance
  // does not count for submissions that are no longer eligible.
  clock_.Advance(std::chrono::hours(1));
  mail_.OnFirstSend([&] { ASSERT_TRUE(UpdatePhase(node_->ctx, 700, {{"is_public", true}}).ok()); });
  auto again = ProcessNotices(env, clock_.Now(), false);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)["submissions_noticed"], 2);
  EXPECT_EQ(mail_.delivered().size(), 4u);
  EXPECT_EQ(Query("SELECT id FROM submissions WHERE notice_sent_at IS NOT NULL").size(), 0u);
}

TEST_F(NoticesTest, ConsentLogListsGrantsAndWithdrawalsOfTheLastSevenDays) {
  auto data = BaseData();
  AddChallenge(data, 7, "2026-06-02T00:00:00Z", {"2027-01-05T00:00:00Z"}, 1);
  Import(node_->ctx, *store_, data);  // imported grant, long ago
  clock_.Set(T("2027-01-20T09:00:00Z"));
  ASSERT_TRUE(WithdrawConsent(node_->ctx, 7, "dave", std::string("pause")).ok());
  clock_.Set(T("2027-01-22T09:00:00Z"));
  ASSERT_TRUE(GrantConsent(node_->ctx, 7, "alice", std::nullopt).ok());
  clock_.Set(T("2027-01-25T10:00:00Z"));
  auto log = ConsentLog(SeedEnvironment(&node_->ctx, nullptr), clock_.Now());
  ASSERT_TRUE(log.ok());
  ASSERT_EQ((*log)["count"], 2);
  EXPECT_EQ((*log)["events"][0]["action"], "withdrawn");
  EXPECT_EQ((*log)["events"][0]["actor"], "dave");
  EXPECT_EQ((*log)["events"][1]["action"], "granted");
  EXPECT_EQ((*log)["withdrawals"], 1);
  EXPECT_EQ((*log)["grants"], 1);
}

}  // namespace
}  // namespace retention
