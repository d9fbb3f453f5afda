// The service functions: every rule-bearing operation of retention, shared by the CLI and the
// HTTP API (which only parse input, call these, and print results). They take the ports through
// ServiceContext; only app/ knows which adapters are behind them.
//
// Thread-safety: a Service may be used from several threads; each call holds the Database lease
// only while it runs SQL (the sweep also while it deletes one batch, so that R5 is checked at the
// moment of deletion under the write lock).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "artifacts/artifact_store.h"
#include "core/status.h"
#include "core/time.h"
#include "domain/log_policy.h"
#include "domain/schedule_projection.h"
#include "store/sql.h"

namespace retention {

class LogRetentionSync;  // service/log_retention_sync.h

struct RetentionSettings {
  int default_days = 30;
  int notice_days = 14;
  std::string environment = "production";
  // The crons the projection of the schedule follows (the notice job's and the sweep's; nullopt:
  // not scheduled). The seed's by default; MakeJobEnvironment sets the configured ones.
  std::optional<CronSchedule> notice_cron = DefaultRetentionSchedule().notices;
  std::optional<CronSchedule> sweep_cron = DefaultRetentionSchedule().sweep;

  RetentionSchedule schedule() const { return {notice_cron, sweep_cron, notice_days}; }
};

struct ServiceContext {
  Database* db = nullptr;
  ArtifactStore* artifacts = nullptr;
  const Clock* clock = nullptr;
  RetentionSettings settings;
  // R8: told (LogRetentionSync::Trigger, after commit) when an input of a challenge's log
  // retention policy changed. Not owned; nullptr: no trigger (a caller that reconciles itself,
  // or a test loading data).
  LogRetentionSync* log_sync = nullptr;
};

struct User {
  std::int64_t id = 0;
  std::string username;
  std::string email;
  bool is_admin = false;
  // Signed in with a `platform` token (DESIGN section 6): the platform's routes only, and on
  // them never more than the platform's writes (no admins made, no tokens). False for the CLI.
  bool platform = false;
};

enum class Role { kAnonymous, kParticipant, kPending, kHost, kAdmin };
const char* RoleName(Role role);

// ---- users and tokens ----
Result<User> AddUser(const ServiceContext& ctx, const std::string& username,
                     const std::string& email, bool is_admin);
Result<User> FindUser(SqlConnection& conn, const std::string& username);

// Tokens (src/service/tokens.cc). A token is stored as its SHA-256 and its first
// kTokenPrefixLength characters, which name it in `token list` and `token revoke`.
enum class TokenRole { kUser, kPlatform };
const char* TokenRoleName(TokenRole role);  // "user" or "platform"
constexpr std::size_t kTokenPrefixLength = 8;
constexpr int kMaxTokenDays = 3653;
struct TokenOptions {
  TokenRole role = TokenRole::kUser;
  std::optional<int> expires_in_days;  // 1..kMaxTokenDays; none: never expires
};
// Creates a token for the user and returns it in clear text. InvalidArgument for expires_in_days
// out of range, NotFound for an unknown user. The creation is audited with `actor`.
Result<std::string> CreateToken(const ServiceContext& ctx, const std::string& username,
                                const std::string& actor, const TokenOptions& options = {});
// The user owning the token, with `platform` set for a platform token. Unauthenticated "Invalid
// token." when none owns it, "Token has been revoked." or "Token has expired." (at the clock's
// now): every request looks the token up, so a revocation by any process is seen at once.
Result<User> Authenticate(const ServiceContext& ctx, const std::string& token);
struct TokenInfo {
  std::string prefix;  // empty for a token made before migration 9 by `token create`
  std::string username;
  TokenRole role = TokenRole::kUser;
  TimePoint created_at;
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> revoked_at;
  std::string state;  // "active", "expired" or "revoked" at the clock's now
};
// Every token, newest first.
Result<std::vector<TokenInfo>> ListTokens(const ServiceContext& ctx);
// Revokes the one token not yet revoked whose key starts with `prefix`. InvalidArgument for a
// prefix shorter than 6 characters or one that several tokens share (nothing revoked), NotFound
// when no token that is not revoked starts with it. Audited with `actor`.
Result<TokenInfo> RevokeToken(const ServiceContext& ctx, const std::string& prefix,
                              const std::string& actor);
// What a user is for one challenge. Being an admin does not take away being a host: an admin
// who is an accepted member of the host team may give and withdraw consent like any host.
struct ChallengeRole {
  Role role = Role::kAnonymous;  // the strongest: admin, then host, pending, participant
  bool is_host = false;          // an accepted member of the challenge's host team
};
// The user's role for a challenge. NotFound when the challenge does not exist.
Result<ChallengeRole> RoleFor(SqlConnection& conn, const User& user, std::int64_t challenge_id);

// ---- import (DESIGN.md section 7) ----
// The artifact kinds (DESIGN section 2): EvalAI's seven file columns of `submission`, in its
// column order. The import, the platform API and `sync evalai` accept exactly these.
inline constexpr std::array<const char*, 7> kArtifactKinds = {"input_file",
                                                              "submission_input_file",
                                                              "stdout_file",
                                                              "stderr_file",
                                                              "environment_log_file",
                                                              "submission_result_file",
                                                              "submission_metadata_file"};
struct ImportReport {
  int users = 0, host_teams = 0, challenges = 0, phases = 0, submissions = 0, artifacts = 0;
  int consents = 0;
};
// Imports a whole file in one transaction: all or nothing. InvalidArgument with line and column
// for malformed JSON, with the JSON path for invalid values, reused ids or unknown references.
Result<ImportReport> ImportData(const ServiceContext& ctx, const std::string& json_text);
// The same, read from a stream: submissions are imported as they are read and not kept, so memory
// does not grow with the file. A seekable stream gets line and column in a parse error.
Result<ImportReport> ImportData(const ServiceContext& ctx, std::istream& in);

// ---- consent (R7) ----
struct ConsentResult {
  bool changed = false;  // false when the request repeated the current state
  bool has_consent = false;
  std::optional<TimePoint> consent_date;
  std::string consent_by;
  std::string notes;
  std::int64_t challenge_id = 0;
  std::string challenge_title;
  std::int64_t eligible_dates_changed = 0;
  std::int64_t notices_cancelled = 0;
};
// Grants consent as `username` (must be a host: accepted member of the challenge's host team;
// PermissionDenied otherwise, NotFound for an unknown challenge or user). Granting again keeps
// the original consent date; new notes are recorded as a notes change.
Result<ConsentResult> GrantConsent(const ServiceContext& ctx, std::int64_t challenge_id,
                                   const std::string& username,
                                   const std::optional<std::string>& notes);
// Withdraws consent (hosts only): eligible dates cleared, queued notices cancelled, notice times
// reset, log retention back to never-expire via the trigger. Withdrawing when there is no consent
// is ok and changes nothing.
Result<ConsentResult> WithdrawConsent(const ServiceContext& ctx, std::int64_t challenge_id,
                                      const std::string& username,
                                      const std::optional<std::string>& notes);

// ---- admin actions (audited) ----
// Sets (days) or clears (nullopt) the challenge's retention override (R1) and recomputes.
// InvalidArgument for days outside 1..3653 or an empty reason.
Status SetOverride(const ServiceContext& ctx, std::int64_t challenge_id, std::optional<int> days,
                   const std::string& reason, const std::string& actor);
// `set-retention` (R8): with the challenge's consent, stores `days` as its override (the reason
// defaults to "set-retention") or, without days, audits a re-apply (`set_retention_reapplied`,
// `reason` as notes); applying the log policy is the caller's next step. Refused without consent:
// FailedPrecondition saying so, and nothing changes. NotFound for an unknown challenge;
// InvalidArgument for days outside 1..3653.
struct SetRetentionResult {
  bool override_stored = false;  // days were given and stored as the override
  int retention_days = 0;        // the challenge's D (R1) afterwards: override, else the default
};
Result<SetRetentionResult> SetRetention(const ServiceContext& ctx, std::int64_t challenge_id,
                                        std::optional<int> days, const std::string& reason,
                                        const std::string& actor);
// A phase's retention policy (R1): `days` (1..3653) overrides the challenge's D for that phase;
// `keep` means its submissions are never eligible. Neither set means cleared.
struct PhasePolicy {
  std::optional<int> days;
  bool keep = false;
};
// Sets or clears a phase's policy, audits it (`phase_policy_set` / `phase_policy_cleared`, the
// phase id and reason in the notes), recomputes the challenge's eligible dates at once (R3) and
// triggers the log policy (R8). InvalidArgument for days out of range, days together with keep,
// or an empty reason; NotFound for an unknown phase. On error nothing changes.
Status SetPhasePolicy(const ServiceContext& ctx, std::int64_t phase_id, const PhasePolicy& policy,
                      const std::string& reason, const std::string& actor);
Status SetChallengeHold(const ServiceContext& ctx, std::int64_t challenge_id, bool hold,
                        const std::string& reason, const std::string& actor);
Status SetSubmissionHold(const ServiceContext& ctx, std::int64_t submission_id, bool hold,
                         const std::string& reason, const std::string& actor);

// ---- keep (R10) ----
// Who asks to keep or release: a user by name (a host of the submission's challenge or an admin)
// or, with nullopt, the operator at the command line, who acts as an admin (as for `hold`).
struct KeepResult {
  std::int64_t submission_id = 0;
  std::int64_t challenge_id = 0;
  bool changed = false;  // false when the request repeated the current state
  bool kept = false;     // kept afterwards (explicitly, or as an unreleased baseline)
  bool is_baseline = false;
  bool baseline_released = false;
  std::optional<TimePoint> eligible_date;  // afterwards, recomputed at once (R3)
};
// Marks a submission kept with a reason: it loses its eligible date (and notice time) at once and
// no sweep deletes it (R2, R5). Audited as `keep_set` (admin ledger, with the submission). A
// repeated keep with the same reason changes nothing; a new reason is recorded as a new keep.
// `challenge_id`, when given, must be the submission's challenge (NotFound otherwise).
// InvalidArgument for an empty reason; NotFound for an unknown submission or user;
// PermissionDenied for a user who is neither an admin nor a host of the challenge.
Result<KeepResult> KeepSubmission(const ServiceContext& ctx, std::int64_t submission_id,
                                  std::optional<std::int64_t> challenge_id,
                                  const std::string& reason,
                                  const std::optional<std::string>& username);
// Releases a submission's keep and recomputes its dates at once (R3). A baseline that no admin
// released yet is released only by an admin (`baseline_released`, which also clears an explicit
// keep); anyone else gets PermissionDenied and nothing changes. An explicit keep is released by
// a host or an admin (`keep_released`). Releasing what is not kept changes nothing. Errors as
// KeepSubmission.
Result<KeepResult> ReleaseKeep(const ServiceContext& ctx, std::int64_t submission_id,
                               std::optional<std::int64_t> challenge_id, const std::string& reason,
                               const std::optional<std::string>& username);

// Appends an admin event (e.g. a manual job run) to the audit chain.
Status RecordAdminAction(const ServiceContext& ctx, std::optional<std::int64_t> challenge_id,
                         const std::string& actor, const std::string& action,
                         const std::string& notes);

// ---- recompute (R3) ----
// Recomputes eligible dates of not-yet-deleted submissions with one set-based UPDATE (for one
// challenge or all); returns how many changed. A submission whose eligible date is cleared also
// loses its notice time (notice_sent_at = NULL: a later date needs a fresh notice, ADR 0003).
// Runs inside the caller's transaction.
Result<std::int64_t> RecomputeEligibleDates(SqlConnection& conn, const RetentionSettings& settings,
                                            std::optional<std::int64_t> challenge_id);
// R8's horizon for one challenge: reads its phases (one query) and returns LatestLogHorizon() of
// them, each with its D from R1 (`challenge_override` is the challenge's override, if any).
Result<std::optional<LogHorizon>> ReadLogHorizon(SqlConnection& conn,
                                                 const RetentionSettings& settings,
                                                 std::int64_t challenge_id,
                                                 std::optional<int> challenge_override);
// Same in its own write transaction.
Result<std::int64_t> UpdateDates(const ServiceContext& ctx,
                                 std::optional<std::int64_t> challenge_id);

}  // namespace retention

namespace retention {

// ---- platform writes (the API's create/update endpoints), validated like the import file ----
// Each takes a JSON object in the import format's field names and returns the stored object's id.
// InvalidArgument names the bad field; NotFound for an unknown parent; every change that feeds
// R2 recomputes eligible dates at once (R3).
Result<std::int64_t> CreateHostTeam(const ServiceContext& ctx, const nlohmann::json& body);
Status AddTeamMember(const ServiceContext& ctx, std::int64_t team_id, const nlohmann::json& body);
Result<std::int64_t> CreateChallenge(const ServiceContext& ctx, const nlohmann::json& body);
// Fields: title, description, approved, inform_hosts, start_date.
Status UpdateChallenge(const ServiceContext& ctx, std::int64_t challenge_id,
                       const nlohmann::json& body);
Result<std::int64_t> CreatePhase(const ServiceContext& ctx, std::int64_t challenge_id,
                                 const nlohmann::json& body);
// Fields: name, start_date, end_date (null clears), is_public. Recomputes the phase's dates.
Status UpdatePhase(const ServiceContext& ctx, std::int64_t phase_id, const nlohmann::json& body);
Result<std::int64_t> CreateSubmission(const ServiceContext& ctx, std::int64_t phase_id,
                                      const nlohmann::json& body);
// Fields: status, is_baseline (R10: a baseline is kept unless an admin released it). Recomputes
// the challenge's dates at once (R3). NotFound for an unknown submission.
Status UpdateSubmission(const ServiceContext& ctx, std::int64_t submission_id,
                        const nlohmann::json& body);
// Registers an artifact already in storage ({kind, key, size?}: size is read from the store and
// must match when given; NotFound when the key is not in the store). On a submission whose
// artifacts a sweep had deleted, clears is_artifact_deleted and artifact_deletion_date and
// recomputes its eligible date (R3, R6), so the next sweep deletes the new file too.
Result<std::int64_t> RegisterArtifact(const ServiceContext& ctx, std::int64_t submission_id,
                                      const nlohmann::json& body);
// Stores `bytes` under `key` and registers it (as RegisterArtifact). InvalidArgument when the key
// is already registered.
Result<std::int64_t> UploadArtifact(const ServiceContext& ctx, std::int64_t submission_id,
                                    const std::string& kind, const std::string& key,
                                    const std::string& bytes);
// Fields: email, is_admin.
Status UpdateUser(const ServiceContext& ctx, const std::string& username,
                  const nlohmann::json& body);

}  // namespace retention
