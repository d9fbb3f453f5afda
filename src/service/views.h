// Read models shared by the CLI and the API, as JSON documents (the wire format of both): status,
// retention info, the week-by-week forecast, sweep reports and audit events. Each function takes
// the connection lease for its queries only.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "notify/outbox.h"
#include "service/audit_log.h"
#include "service/service.h"
#include "service/sweep.h"

namespace retention {

// `retention status`: overall figures, and per challenge (all, or the one given; NotFound for an
// unknown id) consent, D, phases, counts, next deletion date, log retention desired and applied.
Result<nlohmann::json> StatusView(const ServiceContext& ctx,
                                  std::optional<std::int64_t> challenge_id);

// GET retention-info: DESIGN.md section 6; `role` decides what is shown.
Result<nlohmann::json> RetentionInfoView(const ServiceContext& ctx, std::int64_t challenge_id,
                                         const ChallengeRole& role);

// GET retention-consent-status (DESIGN.md section 6) in one query: details only for hosts and
// admins, and only when consent is given.
// The caller's role is resolved in the same query (this is the hottest read endpoint).
Result<nlohmann::json> ConsentStatusView(const ServiceContext& ctx, std::int64_t challenge_id,
                                         const User& user);

// What the scheduled sweeps will delete (the projection of the schedule, DESIGN.md section 5),
// for `weeks` weeks starting with the current week (Monday): per week of the sweep run that
// deletes them, and per sweep run in that window, submissions and bytes. Held submissions and
// challenges are excluded. NotFound for an unknown challenge, InvalidArgument for weeks outside
// 1..260.
Result<nlohmann::json> ForecastView(const ServiceContext& ctx, std::int64_t challenge_id,
                                    int weeks);

// The next submission of the challenge that a scheduled sweep deletes, as the projection of the
// schedule sees it: its eligible date, deletion date (R4, with the projected notice when none was
// sent yet) and the sweep run that acts. Held submissions are left out; all nullopt when none.
struct NextDeletion {
  std::optional<TimePoint> eligible_date;
  std::optional<TimePoint> deletion_date;
  std::optional<TimePoint> sweep_at;
};
Result<NextDeletion> NextDeletionOf(SqlConnection& conn, const ServiceContext& ctx,
                                    std::int64_t challenge_id);

// DESIGN.md section 5's `--json cleanup` document, and its parts for writers that stream it:
// one listed submission, skipped submission, failed artifact, and the fields after the lists.
nlohmann::json SweepReportJson(const SweepReport& report);
nlohmann::json SweptSubmissionJson(const SweptSubmission& s);
// The text of SweptSubmissionJson(s).dump() (same keys, same order), written without building the
// tree: the streamed `--json cleanup` writes one per listed submission.
void AppendSweptSubmissionJson(std::string& out, const SweptSubmission& s);
nlohmann::json SkippedSubmissionJson(const SkippedSubmission& s);
nlohmann::json FailedArtifactJson(const FailedArtifact& f);
// Every key of SweepReportJson but the three lists.
nlohmann::json SweepSummaryJson(const SweepReport& report);
nlohmann::json AuditEventJson(const AuditEvent& e);
std::string AuditCsv(const std::vector<AuditEvent>& events);

// GET /api/challenges: the challenges `user` may see (admins all; others those whose host team
// they belong to, accepted or pending, or in which they submitted), by id, each {id, title,
// has_consent, is_host, role, legal_hold, approved}.
Result<nlohmann::json> ChallengeListView(const ServiceContext& ctx, const User& user);

// GET /api/challenges/{pk}/submissions: a page of the challenge's submissions for its hosts (R10's
// search), by id: all of them when `query` is empty, else the one whose id is `query` (digits)
// and those whose participant is `query`. Each {id, phase_id, participant, submitted_at, status,
// kept, kept_at, kept_by, keep_reason, is_baseline, baseline_released, legal_hold,
// retention_eligible_date, is_artifact_deleted, artifact_deletion_date, bytes_stored}; `next` is
// the `after` of the next page (null at the end). NotFound for an unknown challenge;
// InvalidArgument for a limit outside 1..500.
Result<nlohmann::json> SubmissionSearchView(const ServiceContext& ctx, std::int64_t challenge_id,
                                            const std::string& query, std::int64_t after,
                                            int limit);
// One outbox entry as the API and the notice job's dry run show it: {id, challenge_id, recipient,
// subject, state, attempts, last_error, created_at, sent_at}.
nlohmann::json OutboxEntryJson(const OutboxEntry& e);

// GET /api/outbox: the outbox module's listing (ListOutbox, newest first, its state and limit
// checks: InvalidArgument for an unknown state or a limit outside 1..10000) as {"mail": [...]}.
Result<nlohmann::json> OutboxView(const ServiceContext& ctx,
                                  const std::optional<std::string>& state, int limit);

// The figures behind GET /metrics that live in the database. Each figure reads 0 (and the job
// map is empty) when its query fails: the metrics page answers even when the database does not.
struct RetentionGauges {
  std::int64_t artifacts_deleted = 0;       // artifacts in state 'deleted'
  std::int64_t bytes_freed = 0;             // their bytes
  std::int64_t sweep_failures = 0;          // artifacts whose last deletion attempt failed
  std::int64_t backlog_submissions = 0;     // not deleted, eligible date passed
  std::int64_t oldest_overdue_seconds = 0;  // now minus the oldest such eligible date
  std::map<std::string, std::int64_t> job_last_success;   // job -> Unix time of its last success
  std::map<std::string, std::int64_t> job_last_failure;   // job -> Unix time of its last failed run
  std::map<std::string, std::int64_t> job_last_duration;  // job -> seconds its last run took
  // Mail in the outbox per state (queued, sending, sent, failed, cancelled, suppressed), and
  // queued mail whose last attempt failed (it is being retried).
  std::map<std::string, std::int64_t> outbox_by_state;
  std::int64_t outbox_retrying = 0;
  // Log groups per R8 state (in_step, pending, error).
  std::map<std::string, std::int64_t> log_groups_by_state;
};
RetentionGauges ReadRetentionGauges(const ServiceContext& ctx);

// GET /healthz: Ok when a read connection answers a trivial query, else the database's error.
Status CheckDatabase(const ServiceContext& ctx);

// A JSON time: RFC 3339 string, or null.
nlohmann::json JsonTime(const std::optional<TimePoint>& t);

}  // namespace retention
