// Read models shared by the CLI and the API, as JSON documents (the wire format of both): status,
// retention info, the week-by-week forecast, sweep reports and audit events. Each function takes
// the connection lease for its queries only.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

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

// Submissions and bytes that become deletable per week, for `weeks` weeks starting with the
// current week (Monday); overdue ones fall in the first week. Held submissions are excluded.
Result<nlohmann::json> ForecastView(const ServiceContext& ctx, std::int64_t challenge_id,
                                    int weeks);

// The estimated deletion date (R4) of the next submission of the challenge to be deleted: an
// unnoticed submission is assumed to be noticed now.
Result<std::optional<TimePoint>> NextDeletionDate(SqlConnection& conn, const ServiceContext& ctx,
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

// A JSON time: RFC 3339 string, or null.
nlohmann::json JsonTime(const std::optional<TimePoint>& t);

}  // namespace retention
