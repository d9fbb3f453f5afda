#include "service/service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "artifacts/local/local_artifact_store.h"
#include "domain/retention_rules.h"
#include "service/audit_log.h"
#include "service/views.h"
#include "testing/database.h"
#include "testing/test_support.h"

namespace retention {
namespace {

constexpr std::int64_t kKeepStates = 4;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = testing::MigratedDatabase();
    ASSERT_NE(db_, nullptr);
    ctx_.db = db_.get();
    ctx_.clock = &clock_;
    ctx_.settings.default_days = 30;
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO users (id, username, email, created_at) VALUES "
                        "(1, 'alice', 'a@x', 0), (2, 'bob', 'b@x', 0)")
                    .ok());
    ASSERT_TRUE(c->Exec("INSERT INTO host_teams (id, name) VALUES (1, 't')").ok());
    ASSERT_TRUE(c->Exec("INSERT INTO host_team_members VALUES (1, 1, 'accepted'), "
                        "(1, 2, 'pending')")
                    .ok());
  }

  FakeClock clock_{FromUnix(1780000000)};
  std::unique_ptr<Database> db_;
  ServiceContext ctx_;
};

// The set-based recompute (SQL) and the domain's R1 and R2 must agree on every combination of
// inputs, phase policies (days, keep) included.
TEST_F(ServiceTest, SetBasedRecomputeAgreesWithTheDomainRule) {
  struct Case {
    bool consent;
    std::optional<int> override_days;
    bool is_public;
    std::optional<std::int64_t> end;
    std::optional<int> phase_days;
    bool kept;
  };
  std::vector<Case> cases;
  for (bool consent : {false, true}) {
    for (std::optional<int> o : {std::optional<int>(), std::optional<int>(90)}) {
      for (bool pub : {false, true}) {
        for (auto end : {std::optional<std::int64_t>(), std::optional<std::int64_t>(1770000000)}) {
          for (std::optional<int> pd : {std::optional<int>(), std::optional<int>(7)}) {
            cases.push_back({consent, o, pub, end, pd, false});
            if (!pd) cases.push_back({consent, o, pub, end, pd, true});
          }
        }
      }
    }
  }
  {
    auto c = db_->Lock();
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const auto id = static_cast<std::int64_t>(i + 1);
      const Case& k = cases[i];
      ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, "
                          "retention_policy_consent, log_retention_days_override, created_at) "
                          "VALUES (?, 't', 1, ?, ?, 0)",
                          {id, std::int64_t{k.consent ? 1 : 0},
                           k.override_days ? SqlValue(std::int64_t{*k.override_days}) : SqlNull()})
                      .ok());
      ASSERT_TRUE(c->Exec("INSERT INTO phases (id, challenge_id, name, end_date, is_public, "
                          "retention_days, retention_policy) VALUES (?, ?, 'p', ?, ?, ?, ?)",
                          {id, id, SqlOpt(k.end), std::int64_t{k.is_public ? 1 : 0},
                           k.phase_days ? SqlValue(std::int64_t{*k.phase_days}) : SqlNull(),
                           k.kept ? SqlValue(std::string("keep")) : SqlNull()})
                      .ok());
      // R10 per submission: none, kept by a host, a baseline, a baseline an admin released.
      for (std::int64_t keep = 0; keep < kKeepStates; ++keep) {
        ASSERT_TRUE(c->Exec("INSERT INTO submissions (id, phase_id, challenge_id, participant, "
                            "submitted_at, retention_eligible_date, kept_at, is_baseline, "
                            "baseline_released_at) VALUES (?, ?, ?, 'bob', 0, 1, ?, ?, ?)",
                            {id * kKeepStates + keep, id, id,
                             keep == 1 ? SqlValue(std::int64_t{5}) : SqlNull(),
                             std::int64_t{keep >= 2 ? 1 : 0},
                             keep == 3 ? SqlValue(std::int64_t{6}) : SqlNull()})
                        .ok());
      }
    }
  }
  auto changed = UpdateDates(ctx_, std::nullopt);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, static_cast<std::int64_t>(cases.size()) * kKeepStates)
      << "every seeded date was wrong";
  auto c = db_->Lock();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& k = cases[i];
    for (std::int64_t keep = 0; keep < kKeepStates; ++keep) {
      auto row = c->QueryOne("SELECT retention_eligible_date FROM submissions WHERE id = ?",
                             {static_cast<std::int64_t>(i + 1) * kKeepStates + keep});
      ASSERT_TRUE(row.ok());
      const bool submission_kept = keep == 1 || keep == 2;
      const auto want = EligibleDate(
          k.consent, k.end ? std::optional<TimePoint>(FromUnix(*k.end)) : std::nullopt, k.is_public,
          k.kept || submission_kept, *RetentionDays(k.phase_days, k.override_days, 30));
      const auto got = (*row)->OptInt(0);
      ASSERT_EQ(got.has_value(), want.has_value()) << "case " << i << " keep state " << keep;
      if (want) {
        EXPECT_EQ(*got, ToUnix(*want)) << "case " << i << " keep state " << keep;
      }
    }
  }
}

// R10 and R3: a keep takes the date away at once, its release brings it back at once; only hosts
// of the challenge and admins keep; only admins release a baseline; each change is audited.
TEST_F(ServiceTest, KeepAndReleaseMoveTheDateAtOnceAndOnlyAdminsReleaseABaseline) {
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO users (id, username, email, is_admin, created_at) VALUES "
                        "(3, 'root', 'r@x', 1, 0), (4, 'eve', 'e@x', 0, 0)")
                    .ok());
    ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, "
                        "retention_policy_consent, created_at) VALUES (1, 't', 1, 1, 0)")
                    .ok());
    ASSERT_TRUE(c->Exec("INSERT INTO phases (id, challenge_id, name, end_date, is_public) "
                        "VALUES (1, 1, 'p', 1770000000, 0)")
                    .ok());
    ASSERT_TRUE(c->Exec("INSERT INTO submissions (id, phase_id, challenge_id, participant, "
                        "submitted_at, is_baseline) VALUES (1, 1, 1, 'bob', 0, 0), "
                        "(2, 1, 1, 'bob', 0, 1)")
                    .ok());
  }
  ASSERT_TRUE(UpdateDates(ctx_, 1).ok());
  const std::int64_t due = 1770000000 + 30 * kSecondsPerDay;
  auto date = [&](std::int64_t id) {
    auto c = db_->Lock();
    return (*c->QueryOne("SELECT retention_eligible_date FROM submissions WHERE id = ?", {id}))
        ->OptInt(0);
  };
  EXPECT_EQ(date(1), due);
  EXPECT_EQ(date(2), std::nullopt) << "a baseline is kept";

  EXPECT_EQ(KeepSubmission(ctx_, 1, std::nullopt, "x", "bob").status().code(),
            StatusCode::kPermissionDenied)
      << "a pending host";
  EXPECT_EQ(KeepSubmission(ctx_, 1, std::nullopt, "x", "eve").status().code(),
            StatusCode::kPermissionDenied)
      << "a participant";
  EXPECT_EQ(KeepSubmission(ctx_, 1, 2, "x", "alice").status().code(), StatusCode::kNotFound)
      << "not in that challenge";
  EXPECT_EQ(KeepSubmission(ctx_, 1, std::nullopt, "", "alice").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(date(1), due) << "refusals change nothing";

  auto kept = KeepSubmission(ctx_, 1, 1, "paper", "alice");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_TRUE(kept->kept);
  EXPECT_EQ(kept->eligible_date, std::nullopt);
  EXPECT_EQ(date(1), std::nullopt);
  auto again = KeepSubmission(ctx_, 1, 1, "paper", "alice");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  auto released = ReleaseKeep(ctx_, 1, 1, "done", "alice");
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(date(1), due);
  ASSERT_TRUE(released->eligible_date.has_value());
  EXPECT_EQ(ToUnix(*released->eligible_date), due);

  EXPECT_EQ(ReleaseKeep(ctx_, 2, 1, "x", "alice").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(date(2), std::nullopt);
  auto baseline = ReleaseKeep(ctx_, 2, 1, "superseded", "root");
  ASSERT_TRUE(baseline.ok()) << baseline.status().ToString();
  EXPECT_TRUE(baseline->baseline_released);
  EXPECT_FALSE(baseline->kept);
  EXPECT_EQ(date(2), due);

  auto events = ListAuditEvents(*db_->LockRead(), AuditFilter{});
  ASSERT_TRUE(events.ok());
  std::vector<std::string> actions;
  for (const auto& e : *events) {
    if (e.submission_id) actions.push_back(e.action + " " + e.actor);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"keep_set alice", "keep_released alice",
                                               "baseline_released root"}));
}

TEST_F(ServiceTest, OnlyAcceptedHostsMayGiveConsentAndRegrantKeepsTheDate) {
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, created_at) "
                        "VALUES (7, 'c', 1, 0)")
                    .ok());
  }
  auto pending = GrantConsent(ctx_, 7, "bob", std::nullopt);
  EXPECT_EQ(pending.status().code(), StatusCode::kPermissionDenied);
  auto first = GrantConsent(ctx_, 7, "alice", std::string("ok"));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->changed);
  clock_.Advance(std::chrono::hours(24));
  auto again = GrantConsent(ctx_, 7, "alice", std::string("still ok"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->consent_date, first->consent_date);
  EXPECT_EQ(again->notes, "still ok");
  auto c = db_->Lock();
  auto events = ListAuditEvents(*c, AuditFilter{7, std::string("consent"), std::nullopt, 100});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].action, "granted");
  EXPECT_EQ((*events)[1].action, "notes_changed");
}

TEST_F(ServiceTest, AuditChainDetectsAnEditedAndARemovedEvent) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(RecordAdminAction(ctx_, std::nullopt, "admin", "test", std::to_string(i)).ok());
  }
  auto c = db_->Lock();
  auto ok = VerifyAuditChain(*c);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->count, 3);
  ASSERT_TRUE(c->Exec("UPDATE audit_events SET notes = 'x' WHERE id = 2").ok());
  auto edited = VerifyAuditChain(*c);
  ASSERT_TRUE(edited.ok());
  EXPECT_FALSE(edited->ok);
  EXPECT_EQ(edited->bad_event_id.value_or(0), 2);
  ASSERT_TRUE(c->Exec("UPDATE audit_events SET notes = '1' WHERE id = 2").ok());
  ASSERT_TRUE(c->Exec("DELETE FROM audit_events WHERE id = 3").ok());
  auto removed = VerifyAuditChain(*c);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(removed->ok);
  EXPECT_NE(removed->error.find("removed"), std::string::npos);
}

TEST_F(ServiceTest, Issue8Defect12InvalidUtf8IsNeverAppendedToTheLedger) {
  auto s = RecordAdminAction(ctx_, std::nullopt, "admin", "test", "o\xffk");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("UTF-8"), std::string::npos) << s.ToString();
  auto c = db_->Lock();
  auto count = c->QueryOne("SELECT COUNT(*) FROM audit_events");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ((*count)->Int(0), 0);
}

TEST_F(ServiceTest, Issue8Defect12StoredInvalidUtf8OrNonIntegerIdIsTampering) {
  ASSERT_TRUE(RecordAdminAction(ctx_, std::int64_t{7}, "admin", "test", "o\xef\xbf\xbdk").ok());
  ASSERT_TRUE(RecordAdminAction(ctx_, std::nullopt, "admin", "test", "after").ok());
  auto c = db_->Lock();
  for (const char* forge : {"UPDATE audit_events SET notes = CAST(X'6fff6b' AS TEXT) WHERE id = 1",
                            "UPDATE audit_events SET challenge_id = '7abc' WHERE id = 1",
                            "UPDATE audit_events SET challenge_id = 7.9 WHERE id = 1",
                            "UPDATE audit_events SET at = '1780000000x' WHERE id = 1"}) {
    ASSERT_TRUE(c->Exec(forge).ok()) << forge;
    auto v = VerifyAuditChain(*c);
    ASSERT_TRUE(v.ok()) << forge << ": " << v.status().ToString();
    EXPECT_FALSE(v->ok) << forge;
    EXPECT_EQ(v->bad_event_id.value_or(0), 1) << forge << ": " << v->error;
    EXPECT_NE(v->error.find("event 1"), std::string::npos) << v->error;
    ASSERT_TRUE(c->Exec("UPDATE audit_events SET notes = 'o\xef\xbf\xbdk', challenge_id = 7, "
                        "at = 1780000000 WHERE id = 1")
                    .ok());
    auto restored = VerifyAuditChain(*c);
    ASSERT_TRUE(restored.ok());
    EXPECT_TRUE(restored->ok) << restored->error;
  }
}

// Records the transaction calls around the queries of a real connection.
class RecordingConnection final : public SqlConnection {
 public:
  explicit RecordingConnection(SqlConnection& inner) : inner_(inner) {}
  std::vector<std::string> calls;

  Status ExecScript(std::string_view sql) override { return inner_.ExecScript(sql); }
  Status Begin(TxMode mode) override {
    calls.push_back(mode == TxMode::kRead ? "begin read" : "begin write");
    return inner_.Begin(mode);
  }
  Status Commit() override {
    calls.push_back("commit");
    return inner_.Commit();
  }
  Status Rollback() override {
    calls.push_back("rollback");
    return inner_.Rollback();
  }
  Status DeferForeignKeys() override { return inner_.DeferForeignKeys(); }
  std::string_view Dialect() const override { return inner_.Dialect(); }

 protected:
  Result<std::int64_t> ExecImpl(std::string_view sql, const SqlParams& params) override {
    calls.push_back("exec");
    return inner_.Exec(sql, params);
  }
  Result<std::vector<SqlRow>> QueryImpl(std::string_view sql, const SqlParams& params) override {
    calls.push_back(sql.find("audit_head") != std::string_view::npos ? "query head" : "query");
    return inner_.Query(sql, params);
  }

 private:
  SqlConnection& inner_;
};

TEST_F(ServiceTest, Issue8Defect12VerifyReadsEventsAndHeadInOneReadTransaction) {
  ASSERT_TRUE(RecordAdminAction(ctx_, std::nullopt, "admin", "test", "x").ok());
  auto c = db_->Lock();
  RecordingConnection recording(*c);
  auto v = VerifyAuditChain(recording);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->ok) << v->error;
  ASSERT_GE(recording.calls.size(), 4u);
  EXPECT_EQ(recording.calls.front(), "begin read");
  EXPECT_EQ(recording.calls.back(), "commit");
  EXPECT_EQ(recording.calls[recording.calls.size() - 2], "query head");
  EXPECT_EQ(std::count(recording.calls.begin(), recording.calls.end(), "begin read"), 1);
}

}  // namespace
// The streamed `--json cleanup` writes each listed submission without building a tree; its text
// must be exactly what the tree dumps, escapes included.
// The forecast counts each live, unheld submission with an eligible date in the week of its
// deletion date (a past one in this week), with the bytes of its artifacts not yet deleted, and
// leaves out those beyond the weeks asked for (issue 9: from submissions_status, grouped per week).
TEST_F(ServiceTest, ForecastCountsSubmissionsAndBytesPerWeekOfDeletion) {
  ctx_.settings.notice_days = 0;  // the deletion date is the eligible date
  // A sweep every midnight: each submission goes with the first midnight at or after its date.
  ctx_.settings.sweep_cron = *CronSchedule::Parse("0 0 * * *");
  const std::int64_t monday = 20598LL * 86400;  // Monday of the week of 1780000000
  const std::int64_t day = 86400;
  struct Row {
    std::int64_t id;
    std::optional<std::int64_t> eligible;
    int hold;
    int deleted;
    std::vector<std::pair<std::int64_t, const char*>> artifacts;  // size, state
  };
  const std::vector<Row> rows = {
      {1, monday - 10 * day, 0, 0, {{5, "stored"}}},                          // past: this week
      {2, monday + 7 * day + 3600, 0, 0, {{7, "stored"}, {100, "deleted"}}},  // week 1
      {3, monday + 14 * day + 7200, 0, 0, {{11, "failed"}}},                  // week 2
      {4, monday + 21 * day, 0, 0, {{13, "stored"}}},  // week 3, first second
      {5, monday + 28 * day, 0, 0, {{17, "stored"}}},  // week 4: not asked for
      {6, monday + 7 * day, 1, 0, {{19, "stored"}}},   // on hold
      {7, monday + 7 * day, 0, 1, {{23, "deleted"}}},  // already deleted
      {8, std::nullopt, 0, 0, {{29, "stored"}}},       // no eligible date
  };
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, "
                        "retention_policy_consent, created_at) VALUES (1, 't', 1, 1, 0)")
                    .ok());
    ASSERT_TRUE(c->Exec("INSERT INTO phases (id, challenge_id, name, end_date, is_public) "
                        "VALUES (1, 1, 'p', 0, 0)")
                    .ok());
    std::int64_t artifact = 0;
    for (const Row& r : rows) {
      ASSERT_TRUE(c->Exec("INSERT INTO submissions (id, phase_id, challenge_id, participant, "
                          "submitted_at, retention_eligible_date, legal_hold, "
                          "is_artifact_deleted) VALUES (?, 1, 1, 'bob', 0, ?, ?, ?)",
                          {r.id, SqlOpt(r.eligible), std::int64_t{r.hold}, std::int64_t{r.deleted}})
                      .ok());
      for (const auto& [size, state] : r.artifacts) {
        ++artifact;
        ASSERT_TRUE(c->Exec("INSERT INTO artifacts (submission_id, kind, storage_key, size_bytes, "
                            "state) VALUES (?, 'input_file', ?, ?, ?)",
                            {r.id, "k/" + std::to_string(artifact), size, std::string(state)})
                        .ok());
      }
    }
  }
  auto forecast = ForecastView(ctx_, 1, 4);
  ASSERT_TRUE(forecast.ok()) << forecast.status().ToString();
  const auto& weeks = (*forecast)["weeks"];
  ASSERT_EQ(weeks.size(), 4U);
  EXPECT_EQ(weeks[0]["week_start"], FormatDate(FromUnix(monday)));
  const std::vector<std::pair<int, int>> want = {{1, 5}, {1, 7}, {1, 11}, {1, 13}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(weeks[i]["submissions"], want[i].first) << "week " << i;
    EXPECT_EQ(weeks[i]["bytes"], want[i].second) << "week " << i;
  }
  EXPECT_EQ((*forecast)["total_submissions"], 4);
  EXPECT_EQ((*forecast)["total_bytes"], 36);
  // Every midnight of the four weeks from now on is listed; the four go with four of them.
  const auto& sweeps = (*forecast)["sweeps"];
  EXPECT_EQ(sweeps.front()["run_at"], FormatTime(FromUnix((1780000000 / day + 1) * day)));
  EXPECT_EQ(sweeps.back()["run_at"], FormatTime(FromUnix(monday + 27 * day)));
  std::int64_t listed = 0;
  std::int64_t runs_deleting = 0;
  for (const auto& run : sweeps) {
    listed += run["submissions"].get<std::int64_t>();
    runs_deleting += run["submissions"].get<std::int64_t>() > 0 ? 1 : 0;
  }
  EXPECT_EQ(listed, 4);
  EXPECT_EQ(runs_deleting, 4);
}

// Issue 13: with the seed's schedule (notices on Mondays at 10:00, the sweep on the 1st at 02:00,
// 14 days), the forecast and the next deletion follow the projection: nothing goes before the
// sweep of 1 January, whatever the eligible dates in December say.
TEST_F(ServiceTest, ForecastAndNextDeletionFollowTheScheduledSweeps) {
  clock_.Set(testing::T("2026-12-02T12:00:00Z"));  // a Wednesday
  ctx_.settings.notice_days = 14;
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, "
                        "retention_policy_consent, created_at) VALUES (1, 't', 1, 1, 0)")
                    .ok());
    ASSERT_TRUE(c->Exec("INSERT INTO phases (id, challenge_id, name, end_date, is_public) "
                        "VALUES (1, 1, 'p', 0, 0)")
                    .ok());
    struct Row {
      std::int64_t id;
      const char* eligible;
      const char* noticed;
      std::int64_t bytes;
    };
    const Row rows[] = {
        // Noticed Mon 7 Dec (projected), deletable 21 Dec 10:00: the sweep of 1 Jan.
        {1, "2026-12-16T00:00:00Z", nullptr, 10},
        {2, "2026-12-16T00:00:00Z", nullptr, 20},
        {3, "2026-12-16T00:00:00Z", nullptr, 30},
        // Noticed 30 Nov: deletable 14 Dec 10:00:07, the earliest; still the sweep of 1 Jan.
        {4, "2026-12-01T00:00:00Z", "2026-11-30T10:00:07Z", 40},
        // Noticed Mon 4 Jan (projected): deletable on its eligible date, the sweep of 1 Feb.
        {5, "2027-01-20T00:00:00Z", nullptr, 50},
        // Beyond the twelve weeks (sweep of 1 Mar).
        {6, "2027-02-20T00:00:00Z", nullptr, 60},
    };
    for (const Row& r : rows) {
      ASSERT_TRUE(c->Exec("INSERT INTO submissions (id, phase_id, challenge_id, participant, "
                          "submitted_at, retention_eligible_date, notice_sent_at) VALUES "
                          "(?, 1, 1, 'bob', 0, ?, ?)",
                          {r.id, ToUnix(testing::T(r.eligible)),
                           r.noticed ? SqlValue(ToUnix(testing::T(r.noticed))) : SqlNull()})
                      .ok());
      ASSERT_TRUE(c->Exec("INSERT INTO artifacts (submission_id, kind, storage_key, size_bytes) "
                          "VALUES (?, 'input_file', ?, ?)",
                          {r.id, "k/" + std::to_string(r.id), r.bytes})
                      .ok());
    }
    auto next = NextDeletionOf(*c, ctx_, 1);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(FormatTime(*next->eligible_date), "2026-12-01T00:00:00Z");
    EXPECT_EQ(FormatTime(*next->deletion_date), "2026-12-14T10:00:07Z");
    EXPECT_EQ(FormatTime(*next->sweep_at), "2027-01-01T02:00:00Z");
  }
  auto forecast = ForecastView(ctx_, 1, 12);
  ASSERT_TRUE(forecast.ok()) << forecast.status().ToString();
  // Twelve weeks from Monday 30 Nov: the sweeps of 1 Jan and 1 Feb.
  const nlohmann::json want_sweeps = {
      {{"run_at", "2027-01-01T02:00:00Z"}, {"submissions", 4}, {"bytes", 100}},
      {{"run_at", "2027-02-01T02:00:00Z"}, {"submissions", 1}, {"bytes", 50}}};
  EXPECT_EQ((*forecast)["sweeps"], want_sweeps);
  const auto& weeks = (*forecast)["weeks"];
  ASSERT_EQ(weeks.size(), 12U);
  for (std::size_t i = 0; i < weeks.size(); ++i) {
    // The sweep of Fri 1 Jan falls in the week of 28 Dec (index 4), that of Mon 1 Feb in its own.
    const int want = i == 4 ? 4 : i == 9 ? 1 : 0;
    EXPECT_EQ(weeks[i]["submissions"], want) << weeks[i]["week_start"];
  }
  EXPECT_EQ(weeks[4]["week_start"], "2026-12-28");
  EXPECT_EQ((*forecast)["total_submissions"], 5);
  EXPECT_EQ((*forecast)["total_bytes"], 150);
}

TEST(SweepJsonTest, AppendedSubmissionIsTheDumpOfTheTree) {
  SweptSubmission s{7, 3, {}, 0, std::nullopt};
  s.artifacts.push_back({"stdout_file", "a \"quoted\" key\\with\tcontrol \xc3\xa9", 12});
  s.artifacts.push_back({"input_file", "k/2", 1LL << 40});
  s.artifacts.push_back({"stderr_file", "plain ~/ key (1).txt", 0});
  s.artifacts.push_back({"stderr_file", "del\x7f and \x1f", 0});
  s.bytes = 12 + (1LL << 40);
  std::string out;
  AppendSweptSubmissionJson(out, s);
  EXPECT_EQ(out, SweptSubmissionJson(s).dump());
  SweptSubmission empty{8, 3, {}, 0, std::nullopt};
  out.clear();
  AppendSweptSubmissionJson(out, empty);
  EXPECT_EQ(out, SweptSubmissionJson(empty).dump());
  // A forecast's item carries its projection (a missing date is null).
  ProjectedDeletion p;
  p.notice_at = testing::T("2026-12-07T10:00:00Z");
  p.deletion_date = testing::T("2026-12-21T10:00:00Z");
  s.schedule = p;
  out.clear();
  AppendSweptSubmissionJson(out, s);
  EXPECT_EQ(out, SweptSubmissionJson(s).dump());
  EXPECT_NE(out.find("\"sweep_at\":null}"), std::string::npos) << out;
  p.sweep_at = testing::T("2027-01-01T02:00:00Z");
  s.schedule = p;
  out.clear();
  AppendSweptSubmissionJson(out, s);
  EXPECT_EQ(out, SweptSubmissionJson(s).dump());
}

TEST_F(ServiceTest, OutboxViewListsNewestFirstAndRefusesAnUnknownState) {
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO mail_outbox (id, recipient, subject, body_text, body_html, "
                        "state, next_attempt_at, created_at) VALUES "
                        "(1, 'a@x', 's1', '', '', 'sent', 0, 10), "
                        "(2, 'b@x', 's2', '', '', 'queued', 0, 20)")
                    .ok());
  }
  auto all = OutboxView(ctx_, std::nullopt, 10);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ((*all)["mail"].size(), 2u);
  EXPECT_EQ((*all)["mail"][0]["id"], 2);
  EXPECT_EQ((*all)["mail"][0]["sent_at"], nullptr);
  auto queued = OutboxView(ctx_, std::string("queued"), 10);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ((*queued)["mail"].size(), 1u);
  EXPECT_EQ((*queued)["mail"][0]["recipient"], "b@x");
  auto unknown = OutboxView(ctx_, std::string("lost"), 10);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServiceTest, ChallengeListViewShowsHostsTheirChallengesAndAdminsAll) {
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO host_teams (id, name) VALUES (2, 'others')").ok());
    ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, created_at) VALUES "
                        "(1, 'mine', 1, 0), (2, 'other', 2, 0)")
                    .ok());
  }
  auto host = ChallengeListView(ctx_, User{1, "alice", "a@x", false});
  ASSERT_TRUE(host.ok()) << host.status().message();
  ASSERT_EQ((*host)["challenges"].size(), 1u);
  EXPECT_EQ((*host)["challenges"][0]["role"], "host");
  auto pending = ChallengeListView(ctx_, User{2, "bob", "b@x", false});
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ((*pending)["challenges"].size(), 1u);
  EXPECT_EQ((*pending)["challenges"][0]["role"], "pending");
  auto admin = ChallengeListView(ctx_, User{3, "root", "r@x", true});
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ((*admin)["challenges"].size(), 2u);
}

TEST_F(ServiceTest, SetRetentionIsRefusedWithoutConsentAndChangesNothing) {
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, created_at) VALUES "
                        "(1, 'c', 1, 0)")
                    .ok());
  }
  EXPECT_EQ(SetRetention(ctx_, 99, 7, "x", "cli").status().code(), StatusCode::kNotFound);
  auto r = SetRetention(ctx_, 1, 7, "short", "cli");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no retention consent"), std::string::npos);
  auto conn = db_->LockRead();
  auto row = conn->QueryOne(
      "SELECT log_retention_days_override, (SELECT COUNT(*) FROM audit_events) FROM challenges");
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_TRUE((*row)->IsNull(0));
  EXPECT_EQ((*row)->Int(1), 0);
}

TEST_F(ServiceTest, SetRetentionWithConsentStoresDaysOrAuditsTheReapply) {
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO challenges (id, title, host_team_id, created_at) VALUES "
                        "(1, 'c', 1, 0)")
                    .ok());
  }
  ASSERT_TRUE(GrantConsent(ctx_, 1, "alice", std::nullopt).ok());
  auto reapplied = SetRetention(ctx_, 1, std::nullopt, "", "cli");
  ASSERT_TRUE(reapplied.ok()) << reapplied.status().message();
  EXPECT_FALSE(reapplied->override_stored);
  EXPECT_EQ(reapplied->retention_days, 30);
  auto stored = SetRetention(ctx_, 1, 7, "", "cli");
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_TRUE(stored->override_stored);
  EXPECT_EQ(stored->retention_days, 7);
  auto again = SetRetention(ctx_, 1, std::nullopt, "again", "cli");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->retention_days, 7);
  auto conn = db_->LockRead();
  auto events =
      conn->Query("SELECT action, notes FROM audit_events WHERE ledger = 'admin' ORDER BY id");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].Text(0), "set_retention_reapplied");
  EXPECT_EQ((*events)[1].Text(0), "override_set");
  EXPECT_EQ((*events)[1].Text(1), "7 days: set-retention");
  EXPECT_EQ((*events)[2].Text(1), "again");
}

// Issue 14 item 1: a platform token signs its user in as the platform; an expired or revoked
// token signs nobody in, with a message that says which; both are audited with the prefix.
TEST_F(ServiceTest, TokensCarryARoleExpireAndAreRevokedByPrefix) {
  auto plain = CreateToken(ctx_, "alice", "test");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  auto platform = CreateToken(ctx_, "bob", "test", {TokenRole::kPlatform, 2});
  ASSERT_TRUE(platform.ok()) << platform.status().message();
  auto user = Authenticate(ctx_, *plain);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->username, "alice");
  EXPECT_FALSE(user->platform);
  auto bob = Authenticate(ctx_, *platform);
  ASSERT_TRUE(bob.ok());
  EXPECT_TRUE(bob->platform);

  // Out of range: refused before anything is written.
  for (int days : {0, kMaxTokenDays + 1}) {
    auto bad = CreateToken(ctx_, "alice", "test", {TokenRole::kUser, days});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(CreateToken(ctx_, "nobody", "test").status().code(), StatusCode::kNotFound);

  // Two days later the platform token has expired; alice's never expires.
  clock_.Advance(std::chrono::hours(48));
  EXPECT_EQ(Authenticate(ctx_, *platform).status().message(), "Token has expired.");
  EXPECT_TRUE(Authenticate(ctx_, *plain).ok());

  // Revocation by prefix: too short, unknown, then the token itself.
  const std::string prefix = plain->substr(0, kTokenPrefixLength);
  EXPECT_EQ(RevokeToken(ctx_, prefix.substr(0, 5), "test").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RevokeToken(ctx_, "zzzzzzzz", "test").status().code(), StatusCode::kNotFound);
  auto revoked = RevokeToken(ctx_, prefix.substr(0, 6), "test");
  ASSERT_TRUE(revoked.ok()) << revoked.status().message();
  EXPECT_EQ(revoked->prefix, prefix);
  EXPECT_EQ(revoked->username, "alice");
  EXPECT_EQ(Authenticate(ctx_, *plain).status().message(), "Token has been revoked.");
  EXPECT_EQ(RevokeToken(ctx_, prefix, "test").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Authenticate(ctx_, "not-a-token").status().message(), "Invalid token.");

  auto list = ListTokens(ctx_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2U);
  std::map<std::string, std::string> states;
  for (const auto& t : *list) states[TokenRoleName(t.role)] = t.state;
  EXPECT_EQ(states["user"], "revoked");
  EXPECT_EQ(states["platform"], "expired");

  auto conn = db_->LockRead();
  auto events = conn->Query(
      "SELECT action, notes FROM audit_events WHERE action LIKE 'token_%' "
      "ORDER BY id");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3U);
  EXPECT_EQ((*events)[0].Text(1), "for alice, role user, prefix " + prefix);
  EXPECT_NE((*events)[1].Text(1).find("for bob, role platform"), std::string::npos);
  EXPECT_NE((*events)[1].Text(1).find("expires"), std::string::npos);
  EXPECT_EQ((*events)[2].Text(0), "token_revoked");
  EXPECT_EQ((*events)[2].Text(1), "prefix " + prefix + " of alice");
}

// Two tokens that share the prefix given are not revoked at random: the caller must say more.
TEST_F(ServiceTest, AnAmbiguousTokenPrefixRevokesNothing) {
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO api_tokens (token_hash, user_id, created_at, prefix) VALUES "
                        "('h1', 1, 0, 'abcdef01'), ('h2', 2, 0, 'abcdef02')")
                    .ok());
  }
  auto r = RevokeToken(ctx_, "abcdef", "test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "2 tokens start with 'abcdef': give more of it");
  auto one = RevokeToken(ctx_, "abcdef02", "test");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->username, "bob");
  auto conn = db_->LockRead();
  auto left = conn->Query("SELECT prefix FROM api_tokens WHERE revoked_at IS NULL");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1U);
  EXPECT_EQ((*left)[0].Text(0), "abcdef01");
}

}  // namespace retention
