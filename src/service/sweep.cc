#include "service/sweep.h"

#include <limits>

#include "domain/retention_rules.h"

namespace retention {
namespace {

struct Candidate {
  std::int64_t id = 0;
  std::int64_t challenge_id = 0;
  std::int64_t eligible = 0;
  SweepFacts facts;
};

// The batch query walks the partial index submission_sweep in (eligible date, id) order; the row
// value comparison lets the engine seek instead of rescanning from the start for every batch.
constexpr const char* kBatchSql = R"sql(
SELECT s.id, s.challenge_id, s.retention_eligible_date, s.legal_hold, s.notice_sent_at,
       p.end_date, p.is_public, c.retention_policy_consent, c.log_retention_days_override,
       c.legal_hold
FROM submissions s
JOIN phases p ON p.id = s.phase_id
JOIN challenges c ON c.id = s.challenge_id
WHERE s.retention_eligible_date IS NOT NULL AND s.is_artifact_deleted = 0
  AND s.retention_eligible_date <= ?
  AND (s.retention_eligible_date, s.id) > (?, ?)
  AND (? IS NULL OR s.challenge_id = ?)
ORDER BY s.retention_eligible_date, s.id
LIMIT ?
)sql";

Result<std::vector<Candidate>> LoadBatch(SqlConnection& conn, const RetentionSettings& settings,
                                         TimePoint as_of, std::int64_t after_date,
                                         std::int64_t after_id,
                                         std::optional<std::int64_t> challenge, int limit) {
  const SqlValue cid = SqlOpt(challenge);
  ASSIGN_OR_RETURN(auto rows, conn.Query(kBatchSql, {ToUnix(as_of), after_date, after_id, cid, cid,
                                                     std::int64_t{limit}}));
  std::vector<Candidate> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    Candidate c;
    c.id = r.Int(0);
    c.challenge_id = r.Int(1);
    c.eligible = r.Int(2);
    SweepFacts& f = c.facts;
    f.has_consent = r.Bool(7);
    if (auto end = r.OptInt(5)) f.phase_end = FromUnix(*end);
    f.phase_is_public = r.Bool(6);
    f.retention_days = r.IsNull(8) ? settings.default_days : static_cast<int>(r.Int(8));
    f.stored_eligible_date = FromUnix(c.eligible);
    f.challenge_on_hold = r.Bool(9);
    f.submission_on_hold = r.Bool(3);
    if (auto notice = r.OptInt(4)) f.notice_sent_at = FromUnix(*notice);
    f.notice_days = settings.notice_days;
    out.push_back(c);
  }
  return out;
}

Result<std::vector<std::pair<std::int64_t, SweptArtifact>>> LoadArtifacts(SqlConnection& conn,
                                                                          std::int64_t submission) {
  ASSIGN_OR_RETURN(auto rows, conn.Query("SELECT id, kind, storage_key, size_bytes FROM artifacts "
                                         "WHERE submission_id = ? AND state <> 'deleted' "
                                         "ORDER BY id",
                                         {submission}));
  std::vector<std::pair<std::int64_t, SweptArtifact>> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.emplace_back(r.Int(0), SweptArtifact{r.Text(1), r.Text(2), r.Int(3)});
  }
  return out;
}

Result<std::int64_t> Count(SqlConnection& conn, const char* where, const SqlParams& params) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne(std::string("SELECT COUNT(*) FROM submissions s WHERE "
                                                       "s.is_artifact_deleted = 0 AND ") +
                                               where,
                                           params));
  return row ? row->Int(0) : 0;
}

}  // namespace

Result<SweepReport> RunSweep(const ServiceContext& ctx, const SweepOptions& options) {
  SweepReport report;
  report.dry_run = options.dry_run;
  report.as_of = options.as_of.value_or(ctx.clock->Now());
  if (!options.dry_run && options.as_of) {
    return InvalidArgument("--as-of is only allowed with --dry-run (a sweep acts on the present)");
  }
  const SqlValue cid = SqlOpt(options.challenge_id);
  std::int64_t total = 0;
  {
    auto conn = ctx.db->Lock();
    if (options.challenge_id) {
      ASSIGN_OR_RETURN(auto row, conn->QueryOne("SELECT id FROM challenges WHERE id = ?", {cid}));
      if (!row) {
        return NotFound("challenge " + std::to_string(*options.challenge_id) + " does not exist");
      }
    }
    ASSIGN_OR_RETURN(report.not_eligible, Count(*conn,
                                                "s.retention_eligible_date IS NULL AND "
                                                "(? IS NULL OR s.challenge_id = ?)",
                                                {cid, cid}));
    ASSIGN_OR_RETURN(
        auto reasons,
        conn->QueryOne("SELECT SUM(CASE WHEN c.retention_policy_consent = 0 THEN 1 ELSE 0 END), "
                       "SUM(CASE WHEN c.retention_policy_consent = 1 AND p.is_public = 1 "
                       "THEN 1 ELSE 0 END), SUM(CASE WHEN c.retention_policy_consent = 1 AND "
                       "p.is_public = 0 AND p.end_date IS NULL THEN 1 ELSE 0 END) "
                       "FROM submissions s JOIN phases p ON p.id = s.phase_id JOIN challenges "
                       "c ON c.id = s.challenge_id WHERE s.is_artifact_deleted = 0 AND "
                       "s.retention_eligible_date IS NULL AND (? IS NULL OR s.challenge_id = ?)",
                       {cid, cid}));
    report.not_eligible_no_consent = reasons->Int(0);
    report.not_eligible_phase_public = reasons->Int(1);
    report.not_eligible_no_end_date = reasons->Int(2);
    ASSIGN_OR_RETURN(
        report.eligible_in_future,
        Count(*conn, "s.retention_eligible_date > ? AND (? IS NULL OR s.challenge_id = ?)",
              {ToUnix(report.as_of), cid, cid}));
    ASSIGN_OR_RETURN(total, Count(*conn,
                                  "s.retention_eligible_date <= ? AND "
                                  "(? IS NULL OR s.challenge_id = ?)",
                                  {ToUnix(report.as_of), cid, cid}));
  }

  std::int64_t after_date = std::numeric_limits<std::int64_t>::min();
  std::int64_t after_id = std::numeric_limits<std::int64_t>::min();
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      report.interrupted = true;
      break;
    }
    auto conn = ctx.db->Lock();
    // A real sweep holds the write lock for the whole batch: R5 is decided and the files deleted
    // while nobody can change consent, holds or dates.
    ASSIGN_OR_RETURN(auto tx,
                     Transaction::Start(*conn, options.dry_run ? TxMode::kRead : TxMode::kWrite));
    ASSIGN_OR_RETURN(auto batch, LoadBatch(*conn, ctx.settings, report.as_of, after_date, after_id,
                                           options.challenge_id, options.batch_size));
    if (batch.empty()) break;
    const TimePoint now = options.dry_run ? report.as_of : ctx.clock->Now();
    for (const auto& c : batch) {
      ++report.examined;
      const SweepDecision d = DecideSweep(c.facts, now);
      if (!d.delete_now) {
        ++report.skipped_count;
        if (static_cast<int>(report.skipped.size()) < options.max_listed_problems) {
          report.skipped.push_back(
              {c.id, c.challenge_id, SkipReasonName(d.reason), SkipReasonText(d.reason)});
        }
        continue;
      }
      ASSIGN_OR_RETURN(auto artifacts, LoadArtifacts(*conn, c.id));
      SweptSubmission item{c.id, c.challenge_id, {}, 0};
      bool all_gone = true;
      for (auto& [artifact_id, a] : artifacts) {
        if (!options.dry_run) {
          const Status st = ctx.artifacts->Delete(a.key);
          if (!st.ok()) {
            all_gone = false;
            ++report.failed_count;
            if (static_cast<int>(report.failed.size()) < options.max_listed_problems) {
              report.failed.push_back({c.id, a.key, st.message()});
            }
            RETURN_IF_ERROR(
                conn->Exec("UPDATE artifacts SET state = 'failed', attempts = "
                           "attempts + 1, last_error = ? WHERE id = ?",
                           {st.message(), artifact_id}));
            continue;
          }
          RETURN_IF_ERROR(
              conn->Exec("UPDATE artifacts SET state = 'deleted', attempts = "
                         "attempts + 1, last_error = NULL, deleted_at = ? WHERE id = ?",
                         {ToUnix(now), artifact_id}));
        }
        ++report.artifacts_deleted;
        report.bytes_freed += a.bytes;
        item.bytes += a.bytes;
        item.artifacts.push_back(std::move(a));
      }
      if (all_gone) {
        if (!options.dry_run) {
          RETURN_IF_ERROR(
              conn->Exec("UPDATE submissions SET is_artifact_deleted = 1, "
                         "artifact_deletion_date = ? WHERE id = ?",
                         {ToUnix(now), c.id}));
        }
        ++report.submissions_deleted;
        if (options.keep_items) report.items.push_back(std::move(item));
      }
    }
    if (options.dry_run) {
      RETURN_IF_ERROR(conn->Rollback());
    } else {
      RETURN_IF_ERROR(tx.Commit());
    }
    after_date = batch.back().eligible;
    after_id = batch.back().id;
    if (options.progress) options.progress(report.examined, total);
    if (static_cast<int>(batch.size()) < options.batch_size) break;
  }
  return report;
}

}  // namespace retention
