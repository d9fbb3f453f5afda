#include "service/sweep.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>

#include "domain/retention_rules.h"

namespace retention {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The most protected candidates one batch of a real sweep reads on (see SweepBatch).
constexpr std::size_t kProtectedRun = 4096;
// Candidates whose files go to the store in one DeleteMany; the batch budget is checked between.
constexpr std::size_t kDeleteChunk = 16;
// The most challenges on hold that a sweep of every challenge lists apart (one bound parameter
// each in the walk's statements).
constexpr std::size_t kMaxListedApart = 256;

struct CandidateArtifact {
  std::int64_t id = 0;
  SweptArtifact artifact;
};

struct Candidate {
  std::int64_t id = 0;
  std::int64_t challenge_id = 0;
  std::int64_t eligible = 0;
  SweepFacts facts;
  std::vector<CandidateArtifact> artifacts;  // not yet deleted, in id order
};

// The walk seeks the partial indexes in two steps, so that no batch rescans rows that share an
// eligible date (a row-value comparison would seek on the date only; every submission of a
// phase shares one): first the rest of the current date by id, then the later dates. Both run on
// submission_sweep, or on submission_sweep_challenge for one challenge, which also give the
// order (no sort). A batch's candidates come with their phase and challenge in one statement;
// the artifacts of those that R5 lets go follow in a second (LoadArtifacts), so a protected
// candidate costs its row only.
// A candidate with the facts R5 decides on (AppendRows reads them in this order).
constexpr const char* kCandidateSelect = R"sql(
SELECT s.id, s.challenge_id, s.retention_eligible_date, s.legal_hold, s.notice_sent_at,
       p.end_date, p.is_public, c.retention_policy_consent, c.log_retention_days_override,
       c.legal_hold, p.retention_days, p.retention_policy, s.kept
FROM submissions s
JOIN phases p ON p.id = s.phase_id
JOIN challenges c ON c.id = s.challenge_id
WHERE s.retention_eligible_date IS NOT NULL AND s.is_artifact_deleted = 0)sql";

std::string BatchStatement(bool same_date, bool one_challenge, std::size_t excluded) {
  std::string sql = kCandidateSelect;
  if (one_challenge) sql += " AND s.challenge_id = ?";
  // The challenges on hold that the sweep lists apart: challenge_id is a column of
  // submission_sweep, so their entries are passed over in the index without reading their rows.
  if (excluded > 0) {
    sql += " AND s.challenge_id NOT IN (?";
    for (std::size_t i = 1; i < excluded; ++i) sql += ", ?";
    sql += ")";
  }
  sql += same_date ? " AND s.retention_eligible_date = ? AND s.id > ? ORDER BY s.id LIMIT ?"
                   : " AND s.retention_eligible_date > ? AND s.retention_eligible_date <= ?"
                     " ORDER BY s.retention_eligible_date, s.id LIMIT ?";
  return sql;
}

// R1 for the values as read: the phase's days, else the override, else the default. An
// out-of-range value (the schema refuses one) yields 0, which no eligible date follows from.
int EffectiveDays(std::optional<std::int64_t> phase_days, std::optional<std::int64_t> override_days,
                  int default_days) {
  auto narrow = [](std::optional<std::int64_t> v) -> std::optional<int> {
    if (!v) return std::nullopt;
    if (*v < kMinRetentionDays || *v > kMaxRetentionDays) return 0;
    return static_cast<int>(*v);
  };
  auto days = RetentionDays(narrow(phase_days), narrow(override_days), default_days);
  return days.ok() ? *days : 0;
}

// The candidates of a challenge on hold, for the report only: the same two-step walk of
// submission_sweep_challenge, reading nothing but the index (no row, phase or artifact).
constexpr const char* kHeldSameDate = R"sql(
SELECT s.id, s.retention_eligible_date FROM submissions s
WHERE s.retention_eligible_date IS NOT NULL AND s.is_artifact_deleted = 0
  AND s.challenge_id = ? AND s.retention_eligible_date = ? AND s.id > ?
ORDER BY s.retention_eligible_date, s.id LIMIT ?
)sql";

constexpr const char* kHeldLaterDates = R"sql(
SELECT s.id, s.retention_eligible_date FROM submissions s
WHERE s.retention_eligible_date IS NOT NULL AND s.is_artifact_deleted = 0
  AND s.challenge_id = ? AND s.retention_eligible_date > ? AND s.retention_eligible_date <= ?
ORDER BY s.retention_eligible_date, s.id LIMIT ?
)sql";

void AppendRows(const std::vector<SqlRow>& rows, const RetentionSettings& settings,
                std::vector<Candidate>& out) {
  for (const auto& r : rows) {
    Candidate c;
    c.id = r.Int(0);
    c.challenge_id = r.Int(1);
    c.eligible = r.Int(2);
    SweepFacts& f = c.facts;
    f.has_consent = r.Bool(7);
    if (auto end = r.OptInt(5)) f.phase_end = FromUnix(*end);
    f.phase_is_public = r.Bool(6);
    f.phase_kept = !r.IsNull(11) && r.Text(11) == "keep";
    f.submission_kept = r.Bool(12);
    f.retention_days = EffectiveDays(r.OptInt(10), r.OptInt(8), settings.default_days);
    f.stored_eligible_date = FromUnix(c.eligible);
    f.challenge_on_hold = r.Bool(9);
    f.submission_on_hold = r.Bool(3);
    if (auto notice = r.OptInt(4)) f.notice_sent_at = FromUnix(*notice);
    f.notice_days = settings.notice_days;
    out.push_back(std::move(c));
  }
}

// Reads the artifacts not yet deleted of the candidates in [begin, end) that `wanted` marks, in
// id order per candidate.
Status LoadArtifacts(SqlConnection& conn, std::vector<Candidate>& batch, std::size_t begin,
                     const std::vector<bool>& wanted) {
  std::vector<std::int64_t> ids;
  std::unordered_map<std::int64_t, std::size_t> at;
  for (std::size_t i = begin; i < batch.size(); ++i) {
    if (!wanted[i]) continue;
    ids.push_back(batch[i].id);
    at.emplace(batch[i].id, i);
  }
  if (ids.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto rows, QueryForIds(conn,
                                          "SELECT a.submission_id, a.id, a.kind, a.storage_key, "
                                          "a.size_bytes FROM artifacts a WHERE a.state <> "
                                          "'deleted' AND a.submission_id",
                                          {}, ids));
  for (const auto& r : rows) {
    auto it = at.find(r.Int(0));
    if (it == at.end()) continue;
    batch[it->second].artifacts.push_back(
        {r.Int(1), SweptArtifact{r.Text(2), r.Text(3), r.Int(4)}});
  }
  for (std::size_t i = begin; i < batch.size(); ++i) {
    auto& list = batch[i].artifacts;
    std::sort(list.begin(), list.end(),
              [](const CandidateArtifact& x, const CandidateArtifact& y) { return x.id < y.id; });
  }
  return Status::Ok();
}

// Which candidates a walk visits: those of one challenge, or of every challenge but `excluded`.
struct WalkScope {
  std::optional<std::int64_t> challenge;
  std::vector<std::int64_t> excluded;  // challenges on hold, listed apart (see RunSweep)
};

// Up to `limit` candidates of `scope` after `after` with an eligible date <= as_of, without
// their artifacts (LoadArtifacts).
Result<std::vector<Candidate>> LoadBatch(SqlConnection& conn, const RetentionSettings& settings,
                                         TimePoint as_of, const SweepCursor& after,
                                         const WalkScope& scope, int limit) {
  std::vector<Candidate> out;
  const std::int64_t cutoff = ToUnix(as_of);
  SqlParams scoped;
  if (scope.challenge) scoped.emplace_back(*scope.challenge);
  for (std::int64_t id : scope.excluded) scoped.emplace_back(id);
  const bool one = scope.challenge.has_value();
  if (after.eligible_date <= cutoff) {
    const std::string sql = BatchStatement(true, one, scope.excluded.size());
    SqlParams params = scoped;
    params.insert(params.end(), {after.eligible_date, after.submission_id, std::int64_t{limit}});
    ASSIGN_OR_RETURN(auto rows, conn.Query(sql, params));
    AppendRows(rows, settings, out);
  }
  const auto remaining = static_cast<std::int64_t>(limit) - static_cast<std::int64_t>(out.size());
  if (remaining > 0) {
    const std::string sql = BatchStatement(false, one, scope.excluded.size());
    SqlParams params = scoped;
    params.insert(params.end(), {after.eligible_date, cutoff, remaining});
    ASSIGN_OR_RETURN(auto rows, conn.Query(sql, params));
    AppendRows(rows, settings, out);
  }
  return out;
}

// The counts of the report that need no walk: submissions without an eligible date (and why),
// with one after as_of, and the candidates (for progress). With a challenge, each statement
// names it outright so that the challenge indexes serve it (an `? IS NULL OR` filter scans all).
Status CountOutsideTheWalk(SqlConnection& conn, const SweepOptions& options, SweepReport& report,
                           std::int64_t& total) {
  SqlParams only;
  std::string filter;
  if (options.challenge_id) {
    ASSIGN_OR_RETURN(
        auto row, conn.QueryOne("SELECT id FROM challenges WHERE id = ?", {*options.challenge_id}));
    if (!row) {
      return NotFound("challenge " + std::to_string(*options.challenge_id) + " does not exist");
    }
    only.emplace_back(*options.challenge_id);
    filter = " AND s.challenge_id = ?";
  }
  // Per phase from submissions_status: each challenge's range of live submissions without an
  // eligible date, grouped in index order, then one phase and challenge row per group.
  ASSIGN_OR_RETURN(
      auto reasons,
      conn.QueryOne("SELECT COALESCE(SUM(g.n), 0), "
                    "COALESCE(SUM(CASE WHEN c.retention_policy_consent = 0 THEN g.n END), 0), "
                    "COALESCE(SUM(CASE WHEN c.retention_policy_consent = 1 AND p.is_public = 1 "
                    "THEN g.n END), 0), COALESCE(SUM(CASE WHEN c.retention_policy_consent = 1 "
                    "AND p.is_public = 0 AND p.end_date IS NULL THEN g.n END), 0) "
                    "FROM (SELECT k.id AS challenge_id, s.phase_id, COUNT(*) AS n FROM "
                    "challenges k " +
                        std::string(CrossJoin(conn)) + " submissions s" +
                        IndexedBy(conn, "submissions_status") +
                        " ON s.challenge_id = k.id AND s.is_artifact_deleted = 0 AND "
                        "s.retention_eligible_date IS NULL" +
                        std::string(options.challenge_id ? " WHERE k.id = ?" : "") +
                        " GROUP BY k.id, s.phase_id) g "
                        "JOIN phases p ON p.id = g.phase_id JOIN challenges c ON c.id = "
                        "g.challenge_id",
                    only));
  report.not_eligible = reasons->Int(0);
  report.not_eligible_no_consent = reasons->Int(1);
  report.not_eligible_phase_public = reasons->Int(2);
  report.not_eligible_no_end_date = reasons->Int(3);
  ASSIGN_OR_RETURN(
      auto dated,
      conn.QueryOne("SELECT SUM(CASE WHEN s.retention_eligible_date > ? THEN 1 ELSE 0 END), "
                    "COUNT(*) FROM submissions s WHERE s.retention_eligible_date IS NOT NULL "
                    "AND s.is_artifact_deleted = 0" +
                        filter,
                    [&] {
                      SqlParams p{ToUnix(report.as_of)};
                      p.insert(p.end(), only.begin(), only.end());
                      return p;
                    }()));
  report.eligible_in_future = dated->Int(0);
  total = dated->Int(1) - report.eligible_in_future;
  // R10's kept submissions from their partial index (submissions_kept, migration 10), pinned: with
  // a challenge SQLite otherwise takes submissions_status and reads every live row of it.
  ASSIGN_OR_RETURN(
      auto kept,
      conn.QueryOne("SELECT COUNT(*) FROM submissions s" + IndexedBy(conn, "submissions_kept") +
                        " WHERE s.kept = 1 AND s.is_artifact_deleted = 0" + filter,
                    only));
  report.kept = kept->Int(0);
  return Status::Ok();
}

// What one batch found, handed to the listener once the batch's lease is released.
struct BatchFindings {
  std::vector<SweptSubmission> items;
  std::vector<SkippedSubmission> skipped;
  std::vector<FailedArtifact> failed;
};

void Publish(BatchFindings& found, const SweepOptions& options, SweepReport& report) {
  for (auto& s : found.skipped) {
    if (options.listener != nullptr) options.listener->OnSkipped(s);
    if (static_cast<int>(report.skipped.size()) < options.max_listed_problems) {
      report.skipped.push_back(std::move(s));
    }
  }
  for (auto& f : found.failed) {
    if (options.listener != nullptr) options.listener->OnFailed(f);
    if (static_cast<int>(report.failed.size()) < options.max_listed_problems) {
      report.failed.push_back(std::move(f));
    }
  }
  for (auto& item : found.items) {
    if (options.listener != nullptr) options.listener->OnItem(item);
    if (options.keep_items) report.items.push_back(std::move(item));
  }
  found = BatchFindings{};
}

SkippedSubmission Skipped(const Candidate& c, SkipReason reason) {
  return {c.id, c.challenge_id, SkipReasonName(reason), SkipReasonText(reason)};
}

// The outcome of one artifact's delete, to be recorded.
struct Outcome {
  std::int64_t artifact_id = 0;
  std::int64_t submission_id = 0;
  bool deleted = false;
  std::string error;
};

// The bookkeeping of a submission whose artifacts were recorded deleted (heads for ExecForIds:
// the ids follow). Only the sweep changes an artifact's state, so it keeps bytes_stored (the bytes
// of the artifacts not deleted, which status and the forecast read from submissions_status)
// itself; migration 8 dropped the per-row trigger that did. Both can run again over the same
// ids without changing a row twice.
// All its artifacts gone: deleted (R6), nothing stored.
std::string MarkSubmissionGone(const SqlConnection& conn) {
  return std::string(UpdateOrFail(conn)) +
         " submissions SET is_artifact_deleted = 1, artifact_deletion_date = ?, bytes_stored = 0 "
         "WHERE is_artifact_deleted = 0 AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE "
         "a.submission_id = submissions.id AND a.state <> 'deleted') AND id";
}
// Some left: the bytes of those.
std::string RecountBytesStored(const SqlConnection& conn) {
  return std::string(UpdateOrFail(conn)) +
         " submissions SET bytes_stored = (SELECT COALESCE(SUM(a.size_bytes), 0) FROM artifacts a "
         "WHERE a.submission_id = submissions.id AND a.state <> 'deleted') WHERE "
         "is_artifact_deleted = 0 AND id";
}

// Runs `head` IN (ids) as one statement per chunk (ExecForIds). When that fails (a trigger refused
// a row, the disk is full, ...) it runs row by row, so that one bad row cannot take the others'
// bookkeeping with it; `note` gets each row's failure with `what(id)`.
template <typename What, typename Note>
void ExecEach(SqlConnection& conn, std::string_view head, const SqlParams& leading,
              const std::vector<std::int64_t>& ids, const What& what, const Note& note) {
  if (ids.empty() || ExecForIds(conn, head, leading, ids).ok()) return;
  const std::string one = std::string(head) + " = ?";
  for (std::int64_t id : ids) {
    SqlParams params = leading;
    params.emplace_back(id);
    const Status st = conn.Exec(one, params).status();
    if (!st.ok()) note(st, what(id));
  }
}

// The statements that record a batch's outcomes, a statement per kind of outcome, and drop the
// batch's intent (`intent`, 0 when the batch deleted nothing), inside the caller's transaction. A
// statement that fails does not undo the others (ExecEach falls back to single rows); the first
// error is returned, and the intent then stays, so that the next run asks storage about what the
// failed row should have recorded.
Status RecordOutcomeStatements(SqlConnection& conn, const std::vector<Outcome>& outcomes,
                               const std::vector<std::int64_t>& all_gone, std::int64_t intent,
                               std::int64_t now) {
  std::vector<std::int64_t> deleted;
  std::vector<std::int64_t> touched;  // submissions with an artifact recorded deleted
  for (const Outcome& o : outcomes) {
    if (!o.deleted) continue;
    deleted.push_back(o.artifact_id);
    if (touched.empty() || touched.back() != o.submission_id) touched.push_back(o.submission_id);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  auto artifact_what = [&outcomes](std::int64_t id) {
    for (const Outcome& o : outcomes) {
      if (o.artifact_id == id) {
        return "record the deletion of artifact " + std::to_string(id) + " of submission " +
               std::to_string(o.submission_id);
      }
    }
    return "record the deletion of artifact " + std::to_string(id);
  };
  Status first_error;
  auto note = [&first_error](Status s, const std::string& what) {
    if (!s.ok() && first_error.ok()) first_error = Internal(what + ": " + s.message());
  };
  // OR FAIL: a statement that fails keeps the rows it already changed instead of undoing them,
  // so SQLite keeps no statement journal for these multi-row statements (with one, each spilled
  // to a temp file: 167,116 pwrite64 in a 100k sweep against 24,670). Both statements can be
  // run again over the same ids without changing a row twice (ExecEach's row-by-row retry).
  ExecEach(conn,
           std::string(UpdateOrFail(conn)) +
               " artifacts SET state = 'deleted', attempts = attempts + 1, "
               "last_error = NULL, deleted_at = ? WHERE state <> 'deleted' AND id",
           {now}, deleted, artifact_what, note);
  for (const Outcome& o : outcomes) {
    if (o.deleted) continue;
    const Status st = conn.Exec(
                              "UPDATE artifacts SET state = 'failed', attempts = attempts + 1, "
                              "last_error = ? WHERE id = ?",
                              {o.error, o.artifact_id})
                          .status();
    if (!st.ok()) note(st, artifact_what(o.artifact_id));
  }
  // Only when no artifact is left: another process may have registered one since the batch
  // was read (a re-run's file), and that one waits for the next sweep (R6).
  ExecEach(
      conn, MarkSubmissionGone(conn), {now}, all_gone,
      [](std::int64_t id) { return "record submission " + std::to_string(id) + " as deleted"; },
      note);
  // The bytes of the submissions that still have artifacts (a failure, or one registered since).
  ExecEach(
      conn, RecountBytesStored(conn), {}, touched,
      [](std::int64_t id) { return "recount the bytes of submission " + std::to_string(id); },
      note);
  if (intent != 0 && first_error.ok()) {
    note(conn.Exec("DELETE FROM sweep_intents WHERE id = ?", {intent}).status(),
         "drop the deletion intent " + std::to_string(intent));
  }
  return first_error;
}

// Records a batch's outcomes in one write transaction (RecordOutcomeStatements). The first
// statement error is returned after the commit, so one bad row cannot roll back the bookkeeping of
// files that are gone. A failed commit is retried; when it still fails the intent stays for the
// next run's recovery.
Status RecordOutcomes(SqlConnection& conn, const std::vector<Outcome>& outcomes,
                      const std::vector<std::int64_t>& all_gone, std::int64_t intent,
                      std::int64_t now) {
  if (outcomes.empty() && all_gone.empty() && intent == 0) return Status::Ok();
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto tx = Transaction::Start(conn, TxMode::kWrite);
    if (!tx.ok()) {
      last = tx.status();
      continue;
    }
    const Status first_error = RecordOutcomeStatements(conn, outcomes, all_gone, intent, now);
    const Status committed = tx->Commit();
    if (committed.ok()) return first_error;
    last = committed;
  }
  return Internal("record the sweep's outcomes: " + last.message() +
                  " (the deletion intent stays; the next sweep records what storage says)");
}

Result<std::int64_t> StrictInt(const std::string& text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return InvalidArgument("not an integer");
  return value;
}

// The submission ids of an intent row, strictly: decimal ids separated by ','.
Result<std::vector<std::int64_t>> ParseIntentIds(const std::string& text) {
  std::vector<std::int64_t> ids;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    auto id = StrictInt(text.substr(start, comma - start));
    if (!id.ok()) return InvalidArgument("'" + text + "' is not a list of submission ids");
    ids.push_back(*id);
    start = comma + 1;
  }
  return ids;
}

std::string IntentIds(const std::vector<std::int64_t>& ids) {
  std::string text;
  for (std::int64_t id : ids) {
    if (!text.empty()) text += ',';
    text += std::to_string(id);
  }
  return text;
}

// PostgreSQL with a side writer (app/ sets one): the sweeps of several replicas share the walk,
// batches claimed by row locks (ADR 0008). Elsewhere one batch runs at a time (ADR 0005).
bool SharedSweep(const ServiceContext& ctx, const SqlConnection& conn) {
  return conn.Dialect() == "postgresql" && ctx.db->has_side_writer();
}

// The class of the advisory locks (two-key form) that mark a live intent on PostgreSQL: a
// shared batch holds (class, its backend pid) from before it commits its intent, with the pid as
// the intent's holder, until its transaction ends; the server drops it when the connection dies.
constexpr std::int64_t kIntentHolderClass = 0x7265;

// Takes this batch's holder lock (in the caller's transaction); returns the holder.
Result<std::int64_t> HoldIntents(SqlConnection& conn) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT pg_backend_pid(), pg_advisory_xact_lock(CAST(? "
                                           "AS integer), pg_backend_pid())",
                                           {kIntentHolderClass}));
  if (!row) return Internal("take the deletion intents' holder lock: no row");
  return row->Int(0);
}

// The next intent after `after` to recover. Single-writer: any (no batch runs elsewhere). Shared:
// one whose holder's lock is free (its batch is gone: killed, or its connection lost) and that no
// other replica is recovering (SKIP LOCKED); the holder locks tried stay with this transaction.
std::string NextIntentStatement(bool shared) {
  if (!shared)
    return "SELECT id, submission_ids FROM sweep_intents WHERE id > ? ORDER BY id LIMIT 1";
  return "SELECT id, submission_ids FROM sweep_intents WHERE id > ? AND (holder IS NULL OR "
         "pg_try_advisory_xact_lock(CAST(? AS integer), CAST(holder AS integer))) ORDER BY id "
         "LIMIT 1 FOR UPDATE OF sweep_intents SKIP LOCKED";
}

// Recovers the next intent after `after` inside the caller's write transaction: of every artifact
// of its submissions not recorded deleted, a file that storage no longer has is recorded deleted,
// one still there is left to be decided again; then each of those submissions whose artifacts
// are all deleted is flagged. The intent goes once storage has answered for all of them. Never
// deletes anything. Returns the intent's id, or nullopt when there is none.
Result<std::optional<std::int64_t>> RecoverNextIntent(const ServiceContext& ctx,
                                                      SqlConnection& conn, bool shared,
                                                      std::int64_t after, SweepReport& report) {
  SqlParams params{after};
  if (shared) params.emplace_back(kIntentHolderClass);
  ASSIGN_OR_RETURN(auto intent, conn.QueryOne(NextIntentStatement(shared), params));
  if (!intent) return std::optional<std::int64_t>();
  const std::int64_t id = intent->Int(0);
  auto ids = ParseIntentIds(intent->Text(1));
  if (!ids.ok()) {
    return Internal("deletion intent " + std::to_string(id) + ": " + ids.status().message() +
                    " (nothing is deleted until it is mended)");
  }
  // Shared: a batch of another replica may have claimed some of these submissions after the
  // holder died; wait for it, so that storage is asked once nobody deletes them.
  if (shared) {
    RETURN_IF_ERROR(
        QueryForIds(conn, "SELECT id FROM submissions WHERE id", {}, *ids, " FOR UPDATE").status());
  }
  const std::int64_t now = ToUnix(ctx.clock->Now());
  bool answered = true;
  ASSIGN_OR_RETURN(auto rows, QueryForIds(conn,
                                          "SELECT id, submission_id, storage_key FROM artifacts "
                                          "WHERE state <> 'deleted' AND submission_id",
                                          {}, *ids));
  for (const auto& r : rows) {
    auto size = ctx.artifacts->Size(r.Text(2));
    if (!size.ok()) {
      answered = false;  // storage unreachable: the intent stays for the next run
      continue;
    }
    if (size->has_value()) {
      ++report.recovered_present;
      continue;
    }
    RETURN_IF_ERROR(
        conn.Exec("UPDATE artifacts SET state = 'deleted', attempts = attempts + 1, "
                  "last_error = NULL, deleted_at = ? WHERE id = ?",
                  {now, r.Int(0)}));
    ++report.recovered_gone;
  }
  // Also those whose last record failed after all of their files were recorded gone, and the
  // bytes of the others.
  RETURN_IF_ERROR(ExecForIds(conn, MarkSubmissionGone(conn), {now}, *ids).status());
  RETURN_IF_ERROR(ExecForIds(conn, RecountBytesStored(conn), {}, *ids).status());
  if (answered) RETURN_IF_ERROR(conn.Exec("DELETE FROM sweep_intents WHERE id = ?", {id}));
  return std::optional<std::int64_t>(id);
}

// Recovers every intent an earlier run left (killed, or its record failed; shared: every intent
// whose batch is gone), one intent per batch lease, before the walk.
Status RecoverIntents(const ServiceContext& ctx, const SweepOptions& options, SweepReport& report) {
  std::int64_t after = 0;
  for (;;) {
    auto lease = ctx.db->LockBatch(options.stop);
    if (!lease) return Status::Ok();
    SqlConnection& conn = **lease;
    const bool shared = SharedSweep(ctx, conn);
    ASSIGN_OR_RETURN(auto tx,
                     Transaction::Start(conn, shared ? TxMode::kRowLocks : TxMode::kWrite));
    ASSIGN_OR_RETURN(auto id, RecoverNextIntent(ctx, conn, shared, after, report));
    if (!id) return Status::Ok();
    after = *id;
    RETURN_IF_ERROR(tx.Commit());
  }
}

// The dry run's decision at as_of. A forecast (as_of later than now) follows the schedule: a
// candidate not noticed yet counts as noticed at the notice job's projected run when that comes
// by as_of, and it is deletable only once the sweep run that deletes it has come (else
// awaiting_sweep_run). Projections are memoised by (eligible date, notice): a phase's
// submissions share both.
class ForecastProjector {
 public:
  ForecastProjector(const ServiceContext& ctx, TimePoint as_of)
      : now_(ctx.clock->Now()), as_of_(as_of), schedule_(ctx.settings.schedule()) {}

  // The candidate's projection in a forecast; nullopt in a dry run as of now.
  std::optional<ProjectedDeletion> Project(const Candidate& c) {
    if (as_of_ <= now_) return std::nullopt;
    const std::pair<std::int64_t, std::int64_t> key{
        c.eligible, c.facts.notice_sent_at ? ToUnix(*c.facts.notice_sent_at) : kNoNotice};
    auto it = memo_.find(key);
    if (it == memo_.end()) {
      if (memo_.size() > 4096) memo_.clear();
      it = memo_
               .emplace(key, ProjectDeletion(FromUnix(c.eligible), c.facts.notice_sent_at, now_,
                                             schedule_))
               .first;
    }
    return it->second;
  }

  SweepDecision Decide(Candidate& c, const std::optional<ProjectedDeletion>& p) {
    if (!p) return DecideSweep(c.facts, as_of_);
    if (!c.facts.notice_sent_at && p->notice_at && *p->notice_at <= as_of_) {
      c.facts.notice_sent_at = p->notice_at;
    }
    SweepDecision d = DecideSweep(c.facts, as_of_);
    if (d.delete_now && (!p->sweep_at || *p->sweep_at > as_of_)) {
      d.delete_now = false;
      d.reason = SkipReason::kAwaitingSweepRun;
    }
    return d;
  }

 private:
  static constexpr std::int64_t kNoNotice = std::numeric_limits<std::int64_t>::min();
  TimePoint now_;
  TimePoint as_of_;
  RetentionSchedule schedule_;
  std::map<std::pair<std::int64_t, std::int64_t>, ProjectedDeletion> memo_;
};

// One batch of the dry run: decides every candidate at as_of, deletes nothing.
Result<bool> DryRunBatch(const ServiceContext& ctx, const SweepOptions& options,
                         const WalkScope& scope, int limit, SweepCursor& cursor,
                         SweepReport& report, BatchFindings& found) {
  auto lease = ctx.db->LockRead();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*lease, TxMode::kRead));
  ASSIGN_OR_RETURN(auto batch, LoadBatch(*lease, ctx.settings, report.as_of, cursor, scope, limit));
  std::vector<SweepDecision> decisions;
  std::vector<bool> deletable;
  ForecastProjector forecast(ctx, report.as_of);
  std::vector<std::optional<ProjectedDeletion>> projected;
  for (Candidate& c : batch) {
    projected.push_back(forecast.Project(c));
    decisions.push_back(forecast.Decide(c, projected.back()));
    deletable.push_back(decisions.back().delete_now);
  }
  RETURN_IF_ERROR(LoadArtifacts(*lease, batch, 0, deletable));
  RETURN_IF_ERROR(lease->Rollback());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Candidate& c = batch[i];
    if (options.max_items && report.submissions_deleted >= *options.max_items) {
      report.next = cursor;
      return false;
    }
    ++report.examined;
    cursor = {c.eligible, c.id};
    const SweepDecision& d = decisions[i];
    if (!d.delete_now) {
      ++report.skipped_count;
      found.skipped.push_back(Skipped(c, d.reason));
      continue;
    }
    SweptSubmission item{c.id, c.challenge_id, {}, 0, projected[i]};
    item.artifacts.reserve(c.artifacts.size());
    for (auto& a : c.artifacts) {
      ++report.artifacts_deleted;
      report.bytes_freed += a.artifact.bytes;
      item.bytes += a.artifact.bytes;
      item.artifacts.push_back(std::move(a.artifact));  // the batch is not read again
    }
    ++report.submissions_deleted;
    found.items.push_back(std::move(item));
  }
  return static_cast<int>(batch.size()) == limit;
}

// Locks those of `listed` that no other batch holds (FOR UPDATE OF s SKIP LOCKED) and reads their
// facts again under the locks, so that R5 is decided on what the locks keep still. Returns them
// in `listed`'s order; sets `missed` when one was held elsewhere (or is gone meanwhile).
Result<std::vector<Candidate>> Claim(SqlConnection& conn, const RetentionSettings& settings,
                                     std::vector<Candidate> listed, bool& missed) {
  if (listed.empty()) return listed;
  std::vector<std::int64_t> ids;
  ids.reserve(listed.size());
  for (const Candidate& c : listed) ids.push_back(c.id);
  ASSIGN_OR_RETURN(auto rows, QueryForIds(conn, std::string(kCandidateSelect) + " AND s.id", {},
                                          ids, " FOR UPDATE OF s SKIP LOCKED"));
  std::vector<Candidate> locked;
  AppendRows(rows, settings, locked);
  std::unordered_map<std::int64_t, std::size_t> at;
  for (std::size_t i = 0; i < locked.size(); ++i) at.emplace(locked[i].id, i);
  std::vector<Candidate> out;
  out.reserve(locked.size());
  for (const Candidate& c : listed) {
    auto it = at.find(c.id);
    if (it == at.end()) {
      missed = true;
      continue;
    }
    out.push_back(std::move(locked[it->second]));
  }
  return out;
}

// How one batch went, for the walk.
struct BatchProgress {
  int taken = 0;        // submissions taken (for sizing the next batch)
  bool missed = false;  // shared: a candidate was held by another replica's batch
};

// One batch of a real sweep (see the header): R5 and the intent in one transaction, the deletes,
// the outcomes in another, all under one batch lease. Shared (PostgreSQL, ADR 0008): one
// transaction holds the row locks of the batch's candidates from the R5 check to the record of
// their outcome, the intent is committed on the side writer, and an intent whose holder is gone
// is recovered first. `quiet`: protected candidates are neither counted nor listed (a second
// pass of a shared walk). Returns whether the walk goes on.
Result<bool> SweepBatch(const ServiceContext& ctx, const SweepOptions& options,
                        const WalkScope& scope, int limit, bool quiet, SweepCursor& cursor,
                        SweepReport& report, BatchFindings& found, BatchProgress& progress) {
  progress.taken = 0;
  auto lease = ctx.db->LockBatch(options.stop);
  if (!lease) {
    report.interrupted = true;
    return false;
  }
  SqlConnection& conn = **lease;
  const bool shared = SharedSweep(ctx, conn);
  const auto started = SteadyClock::now();
  const TimePoint now = ctx.clock->Now();
  std::vector<Candidate> batch;
  std::vector<bool> deletable;
  std::int64_t intent = 0;      // the batch's row in sweep_intents, when it may delete anything
  bool full = false;            // the last chunk read was full: the walk goes on
  SweepCursor listed = cursor;  // the last candidate listed (shared: claimed or not)
  // Shared: open until the outcomes are recorded (the row locks). Else: committed with the intent.
  auto tx = Transaction::Start(conn, shared ? TxMode::kRowLocks : TxMode::kWrite);
  if (!tx.ok()) return tx.status();
  {
    std::int64_t holder = 0;
    if (shared) {
      ASSIGN_OR_RETURN(holder, HoldIntents(conn));
      // One intent left by a batch that is gone, before this batch claims anything.
      RETURN_IF_ERROR(RecoverNextIntent(ctx, conn, true, 0, report).status());
    }
    std::vector<std::int64_t> intents;
    // A run of protected candidates (a challenge on hold, no notice yet) is read on in the same
    // batch, up to kProtectedRun of them and half the budget, so that a held challenge costs reads
    // rather than batches; the chunk that has something to delete ends the read.
    for (;;) {
      ASSIGN_OR_RETURN(auto chunk,
                       LoadBatch(conn, ctx.settings, report.as_of, listed, scope, limit));
      full = static_cast<int>(chunk.size()) == limit;
      if (!chunk.empty()) listed = {chunk.back().eligible, chunk.back().id};
      if (shared) {
        ASSIGN_OR_RETURN(chunk, Claim(conn, ctx.settings, std::move(chunk), progress.missed));
      }
      bool any = false;
      const std::size_t first = batch.size();
      for (Candidate& c : chunk) {
        const bool del = DecideSweep(c.facts, now).delete_now;
        any = any || del;
        deletable.push_back(del);
        batch.push_back(std::move(c));
      }
      RETURN_IF_ERROR(LoadArtifacts(conn, batch, first, deletable));
      for (std::size_t i = first; i < batch.size(); ++i) {
        if (deletable[i] && !batch[i].artifacts.empty()) intents.push_back(batch[i].id);
      }
      if (!full || any || batch.size() >= kProtectedRun ||
          SteadyClock::now() - started > options.batch_budget / 2) {
        break;
      }
    }
    if (!intents.empty()) {
      const std::string sql =
          "INSERT INTO sweep_intents (started_at, submission_ids, holder) VALUES (?, ?, ?) "
          "RETURNING id";
      const SqlParams params{ToUnix(now), IntentIds(intents),
                             shared ? SqlValue(holder) : SqlNull()};
      // Shared: committed at once on the side writer (its own transaction), while this batch's
      // transaction keeps the row locks.
      auto side = shared ? ctx.db->LockSideWriter() : std::nullopt;
      auto row = shared ? (*side)->QueryOne(sql, params) : conn.QueryOne(sql, params);
      if (!row.ok() || !*row) {
        return (row.ok() ? Internal("no id") : row.status())
            .WithContext("record the deletion intent");
      }
      intent = (*row)->Int(0);
    }
    if (!shared) RETURN_IF_ERROR(tx->Commit().WithContext("record the deletion intent"));
  }
  std::vector<Outcome> outcomes;
  std::vector<std::int64_t> all_gone;
  bool cut = false;
  // The candidates go a chunk at a time: the files of a chunk's deletable submissions in one
  // DeleteMany, the budget checked between chunks.
  for (std::size_t begin = 0; begin < batch.size() && !cut;) {
    if (progress.taken > 0 && SteadyClock::now() - started > options.batch_budget) {
      cut = true;  // out of time: the rest waits for the next batch, after the writers
      break;
    }
    // Shared: the row locks (and the gate) go with the connection; once it is lost nothing more
    // is deleted (the intent stays and another batch records what storage says).
    if (shared && progress.taken > 0) {
      RETURN_IF_ERROR(conn.QueryOne("SELECT 1")
                          .status()
                          .WithContext("the batch's database connection (its row locks) was lost; "
                                       "the deletion intent stays"));
    }
    const std::size_t end = std::min(batch.size(), begin + kDeleteChunk);
    std::vector<std::string> keys;
    for (std::size_t i = begin; i < end; ++i) {
      if (!deletable[i]) continue;
      for (const auto& a : batch[i].artifacts) keys.push_back(a.artifact.key);
    }
    const std::vector<Status> statuses =
        keys.empty() ? std::vector<Status>() : ctx.artifacts->DeleteMany(keys);
    if (statuses.size() != keys.size()) {
      return Internal("the artifact store answered " + std::to_string(statuses.size()) +
                      " statuses for " + std::to_string(keys.size()) + " keys");
    }
    std::size_t next = 0;  // the status of the next artifact
    for (std::size_t i = begin; i < end; ++i) {
      const Candidate& c = batch[i];
      ++progress.taken;
      cursor = {c.eligible, c.id};
      if (!deletable[i]) {
        if (!quiet) {
          ++report.examined;
          ++report.skipped_count;
          found.skipped.push_back(Skipped(c, DecideSweep(c.facts, now).reason));
        }
        continue;
      }
      ++report.examined;
      SweptSubmission item{c.id, c.challenge_id, {}, 0, std::nullopt};
      bool gone = true;
      for (const auto& a : c.artifacts) {
        const Status& st = statuses[next++];
        if (!st.ok()) {
          gone = false;
          ++report.failed_count;
          found.failed.push_back({c.id, a.artifact.key, st.message()});
          outcomes.push_back({a.id, c.id, false, st.message()});
          continue;
        }
        outcomes.push_back({a.id, c.id, true, {}});
        ++report.artifacts_deleted;
        report.bytes_freed += a.artifact.bytes;
        item.bytes += a.artifact.bytes;
        item.artifacts.push_back(a.artifact);
      }
      if (gone) {
        all_gone.push_back(c.id);
        ++report.submissions_deleted;
        found.items.push_back(std::move(item));
      }
    }
    begin = end;
  }
  // Every candidate taken: the walk goes on after the last one listed (shared: those held by
  // other batches are theirs).
  if (!cut) cursor = listed;
  if (!shared) {
    RETURN_IF_ERROR(RecordOutcomes(conn, outcomes, all_gone, intent, ToUnix(now)));
    return cut || full;
  }
  const Status first_error = RecordOutcomeStatements(conn, outcomes, all_gone, intent, ToUnix(now));
  if (Status committed = tx->Commit(); !committed.ok()) {
    return Internal("record the sweep's outcomes: " + committed.message() +
                    " (the deletion intent stays; the next batch records what storage says)");
  }
  RETURN_IF_ERROR(first_error);
  return cut || full;
}

}  // namespace

Result<SweepCursor> ParseSweepCursor(const std::string& text) {
  const auto colon = text.find(':');
  if (colon != std::string::npos) {
    auto date = StrictInt(text.substr(0, colon));
    auto id = StrictInt(text.substr(colon + 1));
    if (date.ok() && id.ok()) return SweepCursor{*date, *id};
  }
  return InvalidArgument("after '" + text + "' is not a cursor DATE:ID (the `next` of a page)");
}

namespace {

SweepCursor WalkStart(const SweepOptions& options) {
  return options.after.value_or(SweepCursor{std::numeric_limits<std::int64_t>::min(),
                                            std::numeric_limits<std::int64_t>::min()});
}

// Walks the candidates of `scope` from `cursor`, batch by batch; `limit` is the size of the next
// batch of a real sweep, carried between walks. A shared walk (ADR 0008) passes over candidates
// that other replicas' batches hold; when it has, it walks again from its start once those
// batches have had the time of one (a batch that died leaves its candidates unlocked), listing
// only what it deletes, until a pass misses nothing (at most kMaxSharedPasses).
constexpr int kMaxSharedPasses = 20;

Status Walk(const ServiceContext& ctx, const SweepOptions& options, const WalkScope& scope,
            SweepCursor cursor, std::int64_t total, int& limit, SweepReport& report) {
  const int max_batch = std::max(1, options.batch_size);
  const SweepCursor start = cursor;
  BatchFindings found;
  bool quiet = false;   // a later pass of a shared walk
  bool missed = false;  // this pass passed over candidates held elsewhere
  int passes = 1;
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      report.interrupted = true;
      return Status::Ok();
    }
    bool more = false;
    if (options.dry_run) {
      ASSIGN_OR_RETURN(more, DryRunBatch(ctx, options, scope, limit, cursor, report, found));
    } else {
      const auto started = SteadyClock::now();
      BatchProgress progress;
      auto swept = SweepBatch(ctx, options, scope, limit, quiet, cursor, report, found, progress);
      Publish(found, options, report);  // what was deleted is reported even when recording failed
      if (!swept.ok()) return swept.status();
      more = *swept;
      missed = missed || progress.missed;
      // Size the next batch from this one's time per submission, within the budget.
      const auto spent =
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started)
              .count();
      const auto budget =
          std::chrono::duration_cast<std::chrono::microseconds>(options.batch_budget).count();
      if (progress.taken > 0 && spent > 0) {
        const auto fit = static_cast<std::int64_t>(progress.taken) * budget / spent;
        limit = static_cast<int>(std::clamp<std::int64_t>(fit, 1, max_batch));
      }
    }
    ++report.batches;
    Publish(found, options, report);
    if (options.progress) options.progress(report.examined, total);
    if (more) continue;
    if (!missed || passes >= kMaxSharedPasses) return Status::Ok();
    ++passes;
    missed = false;
    quiet = true;
    cursor = start;
    const auto until = SteadyClock::now() + options.batch_budget;
    while (SteadyClock::now() < until && (options.stop == nullptr || !options.stop->load())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

// Reports every candidate of a challenge on hold as skipped (challenge_on_hold), a page at a
// time in read transactions, deleting nothing. Each page checks the hold again: once it is
// released, the rest of the challenge is walked as usual from where the listing stopped.
Status ListHeld(const ServiceContext& ctx, const SweepOptions& options, std::int64_t total,
                int& limit, SweepReport& report) {
  const std::int64_t challenge = *options.challenge_id;
  const std::int64_t cutoff = ToUnix(report.as_of);
  const std::int64_t page = static_cast<std::int64_t>(kProtectedRun);
  SweepCursor cursor = WalkStart(options);
  BatchFindings found;
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      report.interrupted = true;
      return Status::Ok();
    }
    std::int64_t listed = 0;
    // Each entry is listed as it is read (ForEachRow): a page costs no row copies.
    auto list = [&](const SqlRow& r) {
      ++listed;
      ++report.examined;
      ++report.skipped_count;
      found.skipped.push_back({r.Int(0), challenge, SkipReasonName(SkipReason::kChallengeOnHold),
                               SkipReasonText(SkipReason::kChallengeOnHold)});
      cursor = {r.Int(1), r.Int(0)};
      return true;
    };
    {
      auto conn = ctx.db->LockRead();
      ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kRead));
      ASSIGN_OR_RETURN(
          auto hold, conn->QueryOne("SELECT legal_hold FROM challenges WHERE id = ?", {challenge}));
      if (!hold || !hold->Bool(0)) {
        RETURN_IF_ERROR(conn->Rollback());
        return Walk(ctx, options, WalkScope{challenge, {}}, cursor, total, limit, report);
      }
      const SweepCursor from = cursor;
      RETURN_IF_ERROR(conn->ForEachRow(
          kHeldSameDate, {challenge, from.eligible_date, from.submission_id, page}, list));
      if (const std::int64_t remaining = page - listed; remaining > 0) {
        RETURN_IF_ERROR(conn->ForEachRow(kHeldLaterDates,
                                         {challenge, from.eligible_date, cutoff, remaining}, list));
      }
      RETURN_IF_ERROR(conn->Rollback());
    }
    Publish(found, options, report);
    if (options.progress) options.progress(report.examined, total);
    if (listed < page) return Status::Ok();
  }
}

}  // namespace

Result<SweepReport> RunSweep(const ServiceContext& ctx, const SweepOptions& options) {
  SweepReport report;
  report.dry_run = options.dry_run;
  report.as_of = options.as_of.value_or(ctx.clock->Now());
  if (!options.dry_run && options.as_of) {
    return InvalidArgument("--as-of is only allowed with --dry-run (a sweep acts on the present)");
  }
  if (!options.dry_run && (options.after || options.max_items)) {
    return InvalidArgument("paging is only allowed in a dry run");
  }
  std::int64_t total = 0;
  {
    auto conn = ctx.db->LockRead();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kRead));
    RETURN_IF_ERROR(CountOutsideTheWalk(*conn, options, report, total));
    RETURN_IF_ERROR(conn->Rollback());
  }
  if (!options.dry_run) RETURN_IF_ERROR(RecoverIntents(ctx, options, report));

  const int max_batch = std::max(1, options.batch_size);
  int limit = max_batch;
  if (options.dry_run || options.challenge_id) {
    RETURN_IF_ERROR(Walk(ctx, options, WalkScope{options.challenge_id, {}}, WalkStart(options),
                         total, limit, report));
    return report;
  }
  // A real sweep of every challenge walks all but those on hold at this moment in one walk, in
  // eligible-date and id order (a batch then touches neighbouring rows and pages: ids interleave
  // across challenges), and lists each challenge on hold afterwards from its index alone instead
  // of reading it row by row (issue 9: a 200,000-submission challenge on hold). R5 is still
  // decided per submission in each batch, so a hold set meanwhile is kept.
  WalkScope rest;
  {
    auto conn = ctx.db->LockRead();
    ASSIGN_OR_RETURN(auto rows,
                     conn->Query("SELECT id FROM challenges WHERE legal_hold = 1 ORDER BY id"));
    // Beyond kMaxListedApart the rest are walked with the others (R5 skips them: correct, slower).
    for (const auto& r : rows) {
      if (rest.excluded.size() < kMaxListedApart) rest.excluded.push_back(r.Int(0));
    }
  }
  RETURN_IF_ERROR(Walk(ctx, options, rest, WalkStart(options), total, limit, report));
  for (std::int64_t id : rest.excluded) {
    if (report.interrupted) break;
    SweepOptions one = options;
    one.challenge_id = id;
    RETURN_IF_ERROR(ListHeld(ctx, one, total, limit, report));
  }
  return report;
}

}  // namespace retention
