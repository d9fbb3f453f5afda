#include "service/sweep.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "service/service.h"
#include "store/migrations.h"
#include "store/sqlite/sqlite_connection.h"
#include "testing/test_support.h"

namespace retention {
namespace {

// Objects in a map; Delete of a key in `failing` fails with Unavailable. `on_delete`, when set,
// runs before each delete (outside the store's lock), to act as another process in between.
class InMemoryArtifactStore final : public ArtifactStore {
 public:
  Status Delete(const std::string& key) override {
    if (on_delete) on_delete(key);
    std::lock_guard<std::mutex> l(mu_);
    if (failing_.count(key) != 0) return Unavailable("delete " + key + ": injected failure");
    objects_.erase(key);
    return Status::Ok();
  }
  Result<std::optional<std::int64_t>> Size(const std::string& key) override {
    std::lock_guard<std::mutex> l(mu_);
    if (failing_.count(key) != 0) return Unavailable("size " + key + ": injected failure");
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(static_cast<std::int64_t>(it->second.size()));
  }
  Status Put(const std::string& key, std::string_view bytes) override {
    std::lock_guard<std::mutex> l(mu_);
    objects_[key] = std::string(bytes);
    return Status::Ok();
  }
  std::string Location(const std::string& key) const override { return "mem://" + key; }
  std::size_t count() {
    std::lock_guard<std::mutex> l(mu_);
    return objects_.size();
  }
  void Fail(const std::string& key) { failing_.insert(key); }
  void Heal() { failing_.clear(); }
  std::function<void(const std::string&)> on_delete;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
  std::set<std::string> failing_;
};

constexpr std::int64_t kNow = 1780000000;
constexpr std::int64_t kEnd = kNow - 40 * 86400;  // every phase ended 40 days ago

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(":memory:"); }

  void Open(const std::string& path) {
    auto conn = OpenSqlite(path);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(Migrate(**conn).ok());
    db_ = std::make_unique<Database>(std::move(conn).value());
    ctx_.db = db_.get();
    ctx_.clock = &clock_;
    ctx_.artifacts = &store_;
    ctx_.settings.default_days = 30;
    ctx_.settings.notice_days = 0;
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO host_teams (id, name) VALUES (1, 't')").ok());
  }

  // A consented challenge with one private phase whose `n` submissions share its end date, each
  // with two stored artifacts. Ids of submissions: challenge * 100000 + k.
  void AddChallenge(std::int64_t id, int n, bool on_hold = false) {
    auto c = db_->Lock();
    ASSERT_TRUE(
        c->Exec("INSERT INTO challenges (id, title, host_team_id, retention_policy_consent, "
                "legal_hold, created_at) VALUES (?, 'c', 1, 1, ?, 0)",
                {id, std::int64_t{on_hold ? 1 : 0}})
            .ok());
    ASSERT_TRUE(c->Exec("INSERT INTO phases (id, challenge_id, name, end_date, is_public) "
                        "VALUES (?, ?, 'p', ?, 0)",
                        {id, id, kEnd})
                    .ok());
    ASSERT_TRUE(c->Exec("BEGIN").ok());
    for (int k = 0; k < n; ++k) {
      const std::int64_t sid = id * 100000 + k;
      ASSERT_TRUE(c->Exec("INSERT INTO submissions (id, phase_id, challenge_id, participant, "
                          "submitted_at, retention_eligible_date) VALUES (?, ?, ?, 'bob', 0, ?)",
                          {sid, id, id, kEnd + 30 * 86400})
                      .ok());
      for (const char* kind : {"input_file", "stdout_file"}) {
        const std::string key = "s/" + std::to_string(sid) + "/" + kind;
        ASSERT_TRUE(c->Exec("INSERT INTO artifacts (submission_id, kind, storage_key, size_bytes) "
                            "VALUES (?, ?, ?, 1)",
                            {sid, std::string(kind), key})
                        .ok());
        ASSERT_TRUE(store_.Put(key, "x").ok());
      }
    }
    ASSERT_TRUE(c->Exec("COMMIT").ok());
  }

  // The SQLite steps one sweep (or dry run) takes.
  std::int64_t StepsOf(SweepOptions o, SweepReport* out = nullptr, bool pages = false) {
    std::int64_t before = 0;
    {
      auto c = db_->Lock();
      before = pages ? c->PagesFetched() : c->StepsDone();
    }
    o.batch_size = 50;
    o.batch_budget = std::chrono::hours(1);  // size batches by count only: deterministic
    auto r = RunSweep(ctx_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (out != nullptr && r.ok()) *out = *r;
    auto c = db_->Lock();
    return (pages ? c->PagesFetched() : c->StepsDone()) - before;
  }
  // Every submission's bytes_stored is the sum of its artifacts not deleted (the sweep keeps it
  // itself since migration 8); returns the bytes_stored of each submission, by id.
  std::vector<std::int64_t> BytesStoredChecked() {
    auto c = db_->Lock();
    auto rows = c->Query(
        "SELECT s.id, s.bytes_stored, (SELECT COALESCE(SUM(a.size_bytes), 0) FROM artifacts a "
        "WHERE a.submission_id = s.id AND a.state <> 'deleted') FROM submissions s ORDER BY s.id");
    EXPECT_TRUE(rows.ok());
    std::vector<std::int64_t> out;
    for (const auto& row : *rows) {
      EXPECT_EQ(row.Int(1), row.Int(2)) << "bytes_stored of submission " << row.Int(0);
      out.push_back(row.Int(1));
    }
    return out;
  }
  // Pages fetched by one run (see SqlConnection::PagesFetched).
  std::int64_t PagesOf(SweepOptions o, SweepReport* out = nullptr) {
    return StepsOf(std::move(o), out, /*pages=*/true);
  }

  FakeClock clock_{FromUnix(kNow)};
  InMemoryArtifactStore store_;
  std::unique_ptr<Database> db_;
  ServiceContext ctx_;
};

SweepOptions DryRun() {
  SweepOptions o;
  o.dry_run = true;
  o.keep_items = false;
  return o;
}

// Issue 9: a row-value keyset seeks on the date only, so with one shared end date every batch
// rescanned the rows before it (quadratic). The walk's work must grow like the data.
TEST_F(SweepTest, DryRunWorkGrowsLinearlyWhenEverySubmissionSharesOneEndDate) {
  AddChallenge(1, 500);
  SweepReport small;
  const std::int64_t small_steps = StepsOf(DryRun(), &small);
  AddChallenge(2, 1500);  // 4x the candidates, same end date
  SweepReport large;
  const std::int64_t large_steps = StepsOf(DryRun(), &large);
  EXPECT_EQ(small.examined, 500);
  EXPECT_EQ(large.examined, 2000);  // each candidate once
  EXPECT_EQ(large.submissions_deleted, 2000);
  const double ratio = static_cast<double>(large_steps) / static_cast<double>(small_steps);
  EXPECT_LT(ratio, 5.0) << small_steps << " -> " << large_steps;  // quadratic would be ~16
  EXPECT_GT(ratio, 3.0) << small_steps << " -> " << large_steps;
}

// Skipped rows stay in the index (a held challenge's submissions keep their eligible date), so
// they are the case where a real sweep would go quadratic too.
TEST_F(SweepTest, SweepOverAHeldChallengeVisitsEachSkippedRowOnce) {
  AddChallenge(1, 500, /*on_hold=*/true);
  SweepReport small;
  SweepOptions o;
  o.keep_items = false;
  const std::int64_t small_steps = StepsOf(o, &small);
  AddChallenge(2, 1500, /*on_hold=*/true);
  SweepReport large;
  const std::int64_t large_steps = StepsOf(o, &large);
  EXPECT_EQ(small.skipped_count, 500);
  EXPECT_EQ(large.skipped_count, 2000);
  EXPECT_EQ(large.examined, 2000);
  EXPECT_EQ(store_.count(), 4000U);  // nothing of a held challenge is deleted
  const double ratio = static_cast<double>(large_steps) / static_cast<double>(small_steps);
  EXPECT_LT(ratio, 5.0) << small_steps << " -> " << large_steps;
}

// Issue 9 (held shape): a run of protected candidates is read on inside one batch instead of
// costing a batch (two write transactions and a lease) per batch_size rows, and the held rows come
// without their artifacts.
TEST_F(SweepTest, AHeldChallengeIsCrossedInFewBatches) {
  AddChallenge(1, 500, /*on_hold=*/true);
  AddChallenge(2, 20);  // same eligible date, ids after the held ones
  SweepOptions o;
  o.keep_items = false;
  SweepReport r;
  StepsOf(o, &r);  // batch_size 50: walking the held rows batch by batch would take 10 batches
  EXPECT_EQ(r.skipped_count, 500);
  EXPECT_EQ(r.submissions_deleted, 20);
  EXPECT_LE(r.batches, 3) << "held rows cost a batch per batch_size";
  EXPECT_EQ(store_.count(), 1000U);  // the held challenge's files, all there
}

// Issue 9 (held shape): a sweep of every challenge lists a challenge on hold from its indexes
// alone (ids and dates), without reading its rows as the dry run does, and still reports every
// one of them as skipped with the reason. Each held row is made a page long, so that reading the
// rows costs a page each while the index entries stay small: pages fetched tell the two apart.
TEST_F(SweepTest, AHeldChallengeIsListedFromItsIndex) {
  AddChallenge(1, 3000, /*on_hold=*/true);
  AddChallenge(2, 20);
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("UPDATE submissions SET retention_override_reason = zeroblob(3000) WHERE "
                        "challenge_id = 1")
                    .ok());
  }
  SweepReport dry;
  const std::int64_t read_rows = PagesOf(DryRun(), &dry);
  EXPECT_EQ(dry.skipped_count, 3000);
  SweepOptions o;
  o.keep_items = false;
  o.max_listed_problems = 5000;
  SweepReport r;
  const std::int64_t listed = PagesOf(o, &r);
  EXPECT_EQ(r.skipped_count, 3000);
  ASSERT_EQ(r.skipped.size(), 3000U);
  EXPECT_EQ(r.skipped.front().submission_id, 100000);
  EXPECT_EQ(r.skipped.back().submission_id, 102999);
  for (const auto& s : r.skipped) EXPECT_EQ(s.reason, "challenge_on_hold");
  EXPECT_EQ(r.submissions_deleted, 20);
  EXPECT_EQ(store_.count(), 6000U);
  EXPECT_GT(read_rows, 3000) << "the dry run reads every held row, a page each";
  // Reading the held rows would fetch 3,000 pages or more; the listing and the 20 deletions
  // fetch a few hundred.
  EXPECT_LT(listed, 1000) << "dry run " << read_rows << " pages, sweep " << listed;
}

// R3 for one challenge (every consent change, override, phase edit) reads that challenge's
// submissions only: with the filter on the phases, SQLite scanned every submission.
TEST_F(SweepTest, RecomputingOneChallengeDoesNotReadTheOthers) {
  AddChallenge(1, 200);
  auto steps = [&] {
    auto c = db_->Lock();
    const std::int64_t before = c->StepsDone();
    EXPECT_TRUE(c->Exec("UPDATE challenges SET log_retention_days_override = CASE WHEN "
                        "log_retention_days_override = 10 THEN 20 ELSE 10 END WHERE id = 1")
                    .ok());
    auto changed = RecomputeEligibleDates(*c, ctx_.settings, 1);
    EXPECT_TRUE(changed.ok());
    EXPECT_EQ(changed.ok() ? *changed : 0, 200) << "every submission of challenge 1 moved";
    return c->StepsDone() - before;
  };
  const std::int64_t alone = steps();
  AddChallenge(2, 5000);
  const std::int64_t beside = steps();
  EXPECT_LT(static_cast<double>(beside), 1.5 * static_cast<double>(alone))
      << alone << " -> " << beside;
}

// A per-challenge sweep seeks that challenge's rows: other challenges' candidates cost nothing.
TEST_F(SweepTest, PerChallengeSweepDoesNotWalkOtherChallenges) {
  AddChallenge(1, 200);
  SweepOptions o = DryRun();
  o.challenge_id = 1;
  const std::int64_t alone = StepsOf(o);
  AddChallenge(2, 3000);
  SweepReport r;
  const std::int64_t beside = StepsOf(o, &r);
  EXPECT_EQ(r.examined, 200);
  // Only the counts outside the walk (aggregates over the challenge index) may differ a little.
  EXPECT_LT(static_cast<double>(beside), 1.5 * static_cast<double>(alone))
      << alone << " -> " << beside;
}

TEST_F(SweepTest, SweepDeletesEveryCandidateOnceAndRecordsIt) {
  AddChallenge(1, 120);
  SweepOptions o;
  o.keep_items = false;
  SweepReport r;
  StepsOf(o, &r);
  EXPECT_EQ(r.examined, 120);
  EXPECT_EQ(r.submissions_deleted, 120);
  EXPECT_EQ(r.artifacts_deleted, 240);
  EXPECT_EQ(store_.count(), 0U);
  EXPECT_EQ(BytesStoredChecked(), std::vector<std::int64_t>(120, 0));
  auto c = db_->Lock();
  auto row = c->QueryOne("SELECT COUNT(*), SUM(is_artifact_deleted) FROM submissions");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ((*row)->Int(0), 120);
  EXPECT_EQ((*row)->Int(1), 120);
  auto intents = c->QueryOne("SELECT COUNT(*) FROM sweep_intents");
  EXPECT_EQ((*intents)->Int(0), 0);
}

// Issue 8 defect 2 at the unit level: a failing delete keeps its error and attempts; the intent
// of every artifact is resolved (deleted or failed), none stays behind.
TEST_F(SweepTest, AFailedDeleteIsRecordedAndLeavesNoIntent) {
  AddChallenge(1, 3);
  store_.Fail("s/100001/stdout_file");
  SweepOptions o;
  SweepReport r;
  StepsOf(o, &r);
  EXPECT_EQ(r.failed_count, 1);
  EXPECT_EQ(r.submissions_deleted, 2);
  // The submission with the failed file still stores that file's byte; the others nothing.
  EXPECT_EQ(BytesStoredChecked(), (std::vector<std::int64_t>{0, 1, 0}));
  auto c = db_->Lock();
  auto rows = c->Query(
      "SELECT storage_key, state, attempts, last_error IS NOT NULL FROM artifacts ORDER BY id");
  ASSERT_TRUE(rows.ok());
  for (const auto& row : *rows) {
    const bool failing = row.Text(0) == "s/100001/stdout_file";
    EXPECT_EQ(row.Text(1), failing ? "failed" : "deleted") << row.Text(0);
    EXPECT_EQ(row.Int(2), 1);
    EXPECT_EQ(row.Bool(3), failing);
  }
  auto intents = c->QueryOne("SELECT COUNT(*) FROM sweep_intents");
  EXPECT_EQ((*intents)->Int(0), 0);
}

// An intent left by a killed run is resolved from storage before anything else, and never by
// deleting: gone -> recorded deleted even without consent; still there -> intent cleared.
TEST_F(SweepTest, IntentsOfAnInterruptedRunAreRecordedFromStorageWithoutDeleting) {
  AddChallenge(1, 2);
  {
    auto c = db_->Lock();
    ASSERT_TRUE(
        c->Exec("INSERT INTO sweep_intents (started_at, submission_ids) VALUES (1, '100000')")
            .ok());
    ASSERT_TRUE(c->Exec("UPDATE challenges SET retention_policy_consent = 0, "
                        "retention_policy_consent_date = NULL")
                    .ok());
    ASSERT_TRUE(c->Exec("UPDATE submissions SET retention_eligible_date = NULL").ok());
  }
  ASSERT_TRUE(store_.Delete("s/100000/input_file").ok());  // the killed run got this far
  SweepOptions o;
  SweepReport r;
  StepsOf(o, &r);
  EXPECT_EQ(r.recovered_gone, 1);
  EXPECT_EQ(r.recovered_present, 1);
  EXPECT_EQ(r.submissions_deleted, 0);
  EXPECT_EQ(store_.count(), 3U);                                       // nothing more was deleted
  EXPECT_EQ(BytesStoredChecked(), (std::vector<std::int64_t>{1, 2}));  // one file recorded gone
  auto c = db_->Lock();
  auto rows =
      c->Query("SELECT storage_key, state FROM artifacts WHERE submission_id = 100000 ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[0].Text(1), "deleted");
  EXPECT_EQ((*rows)[1].Text(1), "stored");
  auto intents = c->QueryOne("SELECT COUNT(*) FROM sweep_intents");
  EXPECT_EQ((*intents)->Int(0), 0) << "storage answered for every artifact: the intent is gone";
}

// An intent stays until storage has answered for each of its artifacts; a submission whose
// files are all recorded gone is flagged by the recovery even when the run that deleted them
// failed to flag it.
TEST_F(SweepTest, AnIntentStaysUntilStorageAnswersAndTheRecoveryFlagsFinishedSubmissions) {
  AddChallenge(1, 2);
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO sweep_intents (started_at, submission_ids) "
                        "VALUES (1, '100000,100001')")
                    .ok());
    ASSERT_TRUE(
        c->Exec("UPDATE artifacts SET state = 'deleted' WHERE submission_id = 100001").ok());
    ASSERT_TRUE(c->Exec("UPDATE challenges SET retention_policy_consent = 0").ok());
    ASSERT_TRUE(c->Exec("UPDATE submissions SET retention_eligible_date = NULL").ok());
  }
  ASSERT_TRUE(store_.Delete("s/100000/input_file").ok());
  store_.Fail("s/100000/stdout_file");  // storage cannot answer for this one
  SweepOptions o;
  SweepReport r;
  StepsOf(o, &r);
  EXPECT_EQ(r.recovered_gone, 1);
  EXPECT_EQ(r.recovered_present, 0);
  auto flags = [&] {
    auto c = db_->Lock();
    auto rows = c->Query("SELECT is_artifact_deleted FROM submissions ORDER BY id");
    EXPECT_TRUE(rows.ok());
    std::vector<std::int64_t> out;
    for (const auto& row : *rows) out.push_back(row.Int(0));
    auto n = c->QueryOne("SELECT COUNT(*) FROM sweep_intents");
    out.push_back((*n)->Int(0));
    return out;
  };
  EXPECT_EQ(flags(), (std::vector<std::int64_t>{0, 1, 1})) << "flags of 100000, 100001; intents";
  store_.Heal();
  StepsOf(o, &r);
  EXPECT_EQ(flags(), (std::vector<std::int64_t>{0, 1, 0}));
  EXPECT_EQ(store_.count(), 3U) << "the recovery never deletes";
}

// A deletion intent that is not a list of ids stops the sweep before anything is deleted.
TEST_F(SweepTest, AMalformedIntentStopsTheSweepBeforeItDeletes) {
  AddChallenge(1, 2);
  {
    auto c = db_->Lock();
    ASSERT_TRUE(c->Exec("INSERT INTO sweep_intents (started_at, submission_ids) "
                        "VALUES (1, '100000,x')")
                    .ok());
  }
  SweepOptions o;
  auto r = RunSweep(ctx_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deletion intent"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(store_.count(), 4U);
}

TEST_F(SweepTest, APageOfThePlanEndsWithACursorThatTheNextPageContinues) {
  AddChallenge(1, 130);
  std::set<std::int64_t> seen;
  std::optional<SweepCursor> after;
  int pages = 0;
  do {
    SweepOptions o = DryRun();
    o.keep_items = true;
    o.max_items = 50;
    o.after = after;
    auto r = RunSweep(ctx_, o);
    ASSERT_TRUE(r.ok());
    EXPECT_LE(r->items.size(), 50U);
    for (const auto& item : r->items) EXPECT_TRUE(seen.insert(item.submission_id).second);
    after = r->next;
    ++pages;
  } while (after && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 130U);
  auto parsed = ParseSweepCursor("1780000000:42");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->eligible_date, 1780000000);
  EXPECT_EQ(parsed->submission_id, 42);
  for (const char* bad : {"", "1:", ":1", "1:2:3", "a:1", "1.5:2"}) {
    EXPECT_FALSE(ParseSweepCursor(bad).ok()) << bad;
  }
}

// Issue 8 defect 6 against another process: an artifact registered on a submission after the
// batch read it, while the sweep deletes its other files, must keep the submission live (not
// is_artifact_deleted), so that the next sweep deletes the new file too.
class SweepWithAnotherWriterTest : public SweepTest {
 protected:
  void SetUp() override { Open((dir_.path() / "retention.db").string()); }
  testing::TempDir dir_;
};

TEST_F(SweepWithAnotherWriterTest, Issue8Defect6AnArtifactAddedDuringTheBatchKeepsItsSubmission) {
  AddChallenge(1, 1);
  auto other = OpenSqlite((dir_.path() / "retention.db").string());
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  bool added = false;
  store_.on_delete = [&](const std::string&) {
    if (added) return;
    added = true;
    ASSERT_TRUE(store_.Put("s/100000/rerun", "y").ok());
    ASSERT_TRUE((*other)
                    ->Exec("INSERT INTO artifacts (submission_id, kind, storage_key, size_bytes) "
                           "VALUES (100000, 'stdout_file', 's/100000/rerun', 1)")
                    .ok());
  };
  SweepOptions o;
  SweepReport r;
  StepsOf(o, &r);
  ASSERT_TRUE(added);
  {
    auto c = db_->Lock();
    auto row = c->QueryOne("SELECT is_artifact_deleted FROM submissions WHERE id = 100000");
    ASSERT_TRUE(row.ok());
    EXPECT_EQ((*row)->Int(0), 0) << "a submission with a stored artifact is not deleted";
  }
  store_.on_delete = nullptr;
  StepsOf(o, &r);
  EXPECT_EQ(store_.count(), 0U) << "the next sweep deletes the new file";
  auto c = db_->Lock();
  auto row = c->QueryOne("SELECT is_artifact_deleted FROM submissions WHERE id = 100000");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ((*row)->Int(0), 1);
}

}  // namespace
}  // namespace retention
