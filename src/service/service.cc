#include "service/service.h"

#include <regex>

#include "domain/retention_rules.h"
#include "notify/mail.h"
#include "notify/outbox.h"
#include "service/audit_log.h"
#include "service/log_retention_sync.h"

namespace retention {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAnonymous:
      return "anonymous";
    case Role::kParticipant:
      return "participant";
    case Role::kPending:
      return "pending";
    case Role::kHost:
      return "host";
    case Role::kAdmin:
      return "admin";
  }
  return "anonymous";
}

namespace {

constexpr const char* kUserColumns = "id, username, email, is_admin";

User UserFromRow(const SqlRow& r) { return User{r.Int(0), r.Text(1), r.Text(2), r.Bool(3)}; }

Status ValidateUsername(const std::string& username) {
  static const std::regex kPattern("[A-Za-z0-9_.@+-]{1,150}");
  if (!std::regex_match(username, kPattern)) {
    return InvalidArgument("username '" + username +
                           "' must be 1-150 letters, digits or _.@+- characters");
  }
  return Status::Ok();
}

struct ChallengeRow {
  std::int64_t id = 0;
  std::string title;
  std::int64_t host_team_id = 0;
  bool consent = false;
  std::optional<std::int64_t> consent_date;
  std::optional<std::int64_t> consent_by;
  std::string notes;
};

Result<ChallengeRow> LoadChallenge(SqlConnection& conn, std::int64_t id) {
  ASSIGN_OR_RETURN(auto row,
                   conn.QueryOne("SELECT id, title, host_team_id, retention_policy_consent, "
                                 "retention_policy_consent_date, retention_policy_consent_by, "
                                 "retention_policy_notes FROM challenges WHERE id = ?",
                                 {id}));
  if (!row) return NotFound("challenge " + std::to_string(id) + " does not exist");
  return ChallengeRow{row->Int(0),    row->Text(1),   row->Int(2), row->Bool(3),
                      row->OptInt(4), row->OptInt(5), row->Text(6)};
}

Result<bool> IsHost(SqlConnection& conn, std::int64_t user_id, std::int64_t host_team_id) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT status FROM host_team_members WHERE "
                                           "host_team_id = ? AND user_id = ?",
                                           {host_team_id, user_id}));
  return row && row->Text(0) == "accepted";
}

Result<std::string> UsernameOf(SqlConnection& conn, std::optional<std::int64_t> user_id) {
  if (!user_id) return std::string();
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT username FROM users WHERE id = ?", {*user_id}));
  return row ? row->Text(0) : std::string();
}

Result<ConsentResult> ResultFor(SqlConnection& conn, std::int64_t challenge_id, bool changed) {
  ASSIGN_OR_RETURN(auto c, LoadChallenge(conn, challenge_id));
  ConsentResult r;
  r.changed = changed;
  r.has_consent = c.consent;
  if (c.consent_date) r.consent_date = FromUnix(*c.consent_date);
  ASSIGN_OR_RETURN(r.consent_by, UsernameOf(conn, c.consent_by));
  r.notes = c.notes;
  r.challenge_id = c.id;
  r.challenge_title = c.title;
  return r;
}

// Looks up the challenge and the user and checks the user is a host. Errors name both.
Result<std::pair<ChallengeRow, User>> CheckHost(SqlConnection& conn, std::int64_t challenge_id,
                                                const std::string& username) {
  ASSIGN_OR_RETURN(auto challenge, LoadChallenge(conn, challenge_id));
  ASSIGN_OR_RETURN(auto user, FindUser(conn, username));
  ASSIGN_OR_RETURN(bool host, IsHost(conn, user.id, challenge.host_team_id));
  if (!host) {
    return PermissionDenied("'" + username + "' is not a host of challenge " +
                            std::to_string(challenge_id) +
                            " (only accepted members of its host team may give or withdraw "
                            "consent)");
  }
  return std::make_pair(std::move(challenge), std::move(user));
}

void NotifyPolicyInput(const ServiceContext& ctx, std::int64_t challenge_id) {
  if (ctx.log_sync != nullptr) ctx.log_sync->Trigger(challenge_id);
}

}  // namespace

Result<User> FindUser(SqlConnection& conn, const std::string& username) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne(std::string("SELECT ") + kUserColumns +
                                               " FROM users WHERE username = ?",
                                           {username}));
  if (!row) return NotFound("user '" + username + "' does not exist");
  return UserFromRow(*row);
}

Result<User> AddUser(const ServiceContext& ctx, const std::string& username,
                     const std::string& email, bool is_admin) {
  RETURN_IF_ERROR(ValidateUsername(username));
  RETURN_IF_ERROR(ValidateEmailAddress(email, "email"));
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  auto inserted =
      conn->Exec("INSERT INTO users (username, email, is_admin, created_at) VALUES (?, ?, ?, ?)",
                 {username, email, std::int64_t{is_admin ? 1 : 0}, ToUnix(ctx.clock->Now())});
  if (!inserted.ok()) {
    if (inserted.status().code() == StatusCode::kAlreadyExists) {
      return AlreadyExists("user '" + username + "' already exists");
    }
    return inserted.status();
  }
  ASSIGN_OR_RETURN(auto user, FindUser(*conn, username));
  RETURN_IF_ERROR(AppendEvent(*conn, "admin", std::nullopt, std::nullopt, "cli", "user_added",
                              username + (is_admin ? " (admin)" : ""), ctx.clock->Now()));
  RETURN_IF_ERROR(tx.Commit());
  return user;
}

Result<ChallengeRole> RoleFor(SqlConnection& conn, const User& user, std::int64_t challenge_id) {
  ASSIGN_OR_RETURN(auto row,
                   conn.QueryOne("SELECT m.status FROM challenges c LEFT JOIN host_team_members "
                                 "m ON m.host_team_id = c.host_team_id AND m.user_id = ? "
                                 "WHERE c.id = ?",
                                 {user.id, challenge_id}));
  if (!row) return NotFound("Challenge does not exist");
  ChallengeRole r;
  r.is_host = !row->IsNull(0) && row->Text(0) == "accepted";
  if (user.is_admin) {
    r.role = Role::kAdmin;
  } else if (row->IsNull(0)) {
    r.role = Role::kParticipant;
  } else {
    r.role = r.is_host ? Role::kHost : Role::kPending;
  }
  return r;
}

Result<ConsentResult> GrantConsent(const ServiceContext& ctx, std::int64_t challenge_id,
                                   const std::string& username,
                                   const std::optional<std::string>& notes) {
  if (notes && notes->size() > 10000) return InvalidArgument("notes are longer than 10000 bytes");
  const TimePoint now = ctx.clock->Now();
  ConsentResult result;
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
    ASSIGN_OR_RETURN(auto checked, CheckHost(*conn, challenge_id, username));
    auto& [challenge, user] = checked;
    bool changed = false;
    if (!challenge.consent) {
      RETURN_IF_ERROR(conn->Exec(
          "UPDATE challenges SET retention_policy_consent = 1, retention_policy_consent_date = ?, "
          "retention_policy_consent_by = ?, retention_policy_notes = ? WHERE id = ?",
          {ToUnix(now), user.id, notes.value_or(challenge.notes), challenge_id}));
      RETURN_IF_ERROR(AppendEvent(*conn, "consent", challenge_id, std::nullopt, username, "granted",
                                  notes.value_or(""), now));
      changed = true;
    } else if (notes && *notes != challenge.notes) {
      RETURN_IF_ERROR(conn->Exec("UPDATE challenges SET retention_policy_notes = ? WHERE id = ?",
                                 {*notes, challenge_id}));
      RETURN_IF_ERROR(AppendEvent(*conn, "consent", challenge_id, std::nullopt, username,
                                  "notes_changed", *notes, now));
    }
    std::int64_t recomputed = 0;
    if (changed) {
      ASSIGN_OR_RETURN(recomputed, RecomputeEligibleDates(*conn, ctx.settings, challenge_id));
    }
    RETURN_IF_ERROR(tx.Commit());
    ASSIGN_OR_RETURN(result, ResultFor(*conn, challenge_id, changed));
    result.eligible_dates_changed = recomputed;
  }
  if (result.changed) NotifyPolicyInput(ctx, challenge_id);
  return result;
}

Result<ConsentResult> WithdrawConsent(const ServiceContext& ctx, std::int64_t challenge_id,
                                      const std::string& username,
                                      const std::optional<std::string>& notes) {
  if (notes && notes->size() > 10000) return InvalidArgument("notes are longer than 10000 bytes");
  const TimePoint now = ctx.clock->Now();
  ConsentResult result;
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
    ASSIGN_OR_RETURN(auto checked, CheckHost(*conn, challenge_id, username));
    auto& challenge = checked.first;
    std::int64_t recomputed = 0;
    std::int64_t cancelled = 0;
    if (challenge.consent) {
      RETURN_IF_ERROR(conn->Exec(
          "UPDATE challenges SET retention_policy_consent = 0, retention_policy_consent_date = "
          "NULL, retention_policy_consent_by = NULL, retention_policy_notes = ? WHERE id = ?",
          {notes.value_or(challenge.notes), challenge_id}));
      RETURN_IF_ERROR(AppendEvent(*conn, "consent", challenge_id, std::nullopt, username,
                                  "withdrawn", notes.value_or(""), now));
      ASSIGN_OR_RETURN(recomputed, RecomputeEligibleDates(*conn, ctx.settings, challenge_id));
      // Pending notices are cancelled, and a later consent starts the notice period afresh.
      ASSIGN_OR_RETURN(cancelled, CancelQueuedMail(*conn, challenge_id, now));
      RETURN_IF_ERROR(
          conn->Exec("UPDATE submissions SET notice_sent_at = NULL WHERE "
                     "challenge_id = ? AND is_artifact_deleted = 0",
                     {challenge_id}));
    }
    RETURN_IF_ERROR(tx.Commit());
    ASSIGN_OR_RETURN(result, ResultFor(*conn, challenge_id, challenge.consent));
    result.eligible_dates_changed = recomputed;
    result.notices_cancelled = cancelled;
  }
  if (result.changed) NotifyPolicyInput(ctx, challenge_id);
  return result;
}

Status SetOverride(const ServiceContext& ctx, std::int64_t challenge_id, std::optional<int> days,
                   const std::string& reason, const std::string& actor) {
  if (days && (*days < kMinRetentionDays || *days > kMaxRetentionDays)) {
    return InvalidArgument("retention days " + std::to_string(*days) + " is out of range 1-3653");
  }
  if (reason.empty()) return InvalidArgument("a reason is required for a retention override");
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
    RETURN_IF_ERROR(LoadChallenge(*conn, challenge_id).status());
    RETURN_IF_ERROR(
        conn->Exec("UPDATE challenges SET log_retention_days_override = ?, "
                   "log_retention_override_reason = ? WHERE id = ?",
                   {days ? SqlValue(std::int64_t{*days}) : SqlNull(),
                    days ? SqlValue(reason) : SqlNull(), challenge_id}));
    RETURN_IF_ERROR(AppendEvent(*conn, "admin", challenge_id, std::nullopt, actor,
                                days ? "override_set" : "override_cleared",
                                (days ? std::to_string(*days) + " days: " : std::string()) + reason,
                                ctx.clock->Now()));
    RETURN_IF_ERROR(RecomputeEligibleDates(*conn, ctx.settings, challenge_id).status());
    RETURN_IF_ERROR(tx.Commit());
  }
  NotifyPolicyInput(ctx, challenge_id);
  return Status::Ok();
}

Result<SetRetentionResult> SetRetention(const ServiceContext& ctx, std::int64_t challenge_id,
                                        std::optional<int> days, const std::string& reason,
                                        const std::string& actor) {
  std::optional<std::int64_t> stored_override;
  {
    auto conn = ctx.db->LockRead();
    ASSIGN_OR_RETURN(auto c, LoadChallenge(*conn, challenge_id));
    if (!c.consent) {
      return FailedPrecondition(
          "challenge " + std::to_string(challenge_id) +
          " has no retention consent from its hosts; nothing changed (set-retention needs "
          "consent)");
    }
    ASSIGN_OR_RETURN(auto row, conn->QueryOne("SELECT log_retention_days_override FROM "
                                              "challenges WHERE id = ?",
                                              {challenge_id}));
    if (row) stored_override = row->OptInt(0);
  }
  SetRetentionResult r;
  if (days) {
    RETURN_IF_ERROR(
        SetOverride(ctx, challenge_id, days, reason.empty() ? "set-retention" : reason, actor));
    r.override_stored = true;
    r.retention_days = *days;
  } else {
    RETURN_IF_ERROR(RecordAdminAction(ctx, challenge_id, actor, "set_retention_reapplied", reason));
    r.retention_days =
        stored_override ? static_cast<int>(*stored_override) : ctx.settings.default_days;
  }
  return r;
}

Status SetPhasePolicy(const ServiceContext& ctx, std::int64_t phase_id, const PhasePolicy& policy,
                      const std::string& reason, const std::string& actor) {
  if (policy.days && policy.keep) {
    return InvalidArgument("a phase policy is either retention days or keep, not both");
  }
  if (policy.days && (*policy.days < kMinRetentionDays || *policy.days > kMaxRetentionDays)) {
    return InvalidArgument("retention days " + std::to_string(*policy.days) +
                           " is out of range 1-3653");
  }
  if (reason.empty()) return InvalidArgument("a reason is required for a phase policy");
  const bool cleared = !policy.days && !policy.keep;
  std::int64_t challenge_id = 0;
  {
    auto conn = ctx.db->Lock();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
    ASSIGN_OR_RETURN(auto row,
                     conn->QueryOne("SELECT challenge_id FROM phases WHERE id = ?", {phase_id}));
    if (!row) return NotFound("phase " + std::to_string(phase_id) + " does not exist");
    challenge_id = row->Int(0);
    RETURN_IF_ERROR(conn->Exec(
        "UPDATE phases SET retention_days = ?, retention_policy = ?, retention_policy_reason = ? "
        "WHERE id = ?",
        {policy.days ? SqlValue(std::int64_t{*policy.days}) : SqlNull(),
         policy.keep ? SqlValue(std::string("keep")) : SqlNull(),
         cleared ? SqlNull() : SqlValue(reason), phase_id}));
    const std::string what = policy.keep   ? "keep"
                             : policy.days ? std::to_string(*policy.days) + " days"
                                           : "cleared";
    RETURN_IF_ERROR(AppendEvent(*conn, "admin", challenge_id, std::nullopt, actor,
                                cleared ? "phase_policy_cleared" : "phase_policy_set",
                                "phase " + std::to_string(phase_id) + ": " + what + ": " + reason,
                                ctx.clock->Now()));
    RETURN_IF_ERROR(RecomputeEligibleDates(*conn, ctx.settings, challenge_id).status());
    RETURN_IF_ERROR(tx.Commit());
  }
  NotifyPolicyInput(ctx, challenge_id);
  return Status::Ok();
}

Status SetChallengeHold(const ServiceContext& ctx, std::int64_t challenge_id, bool hold,
                        const std::string& reason, const std::string& actor) {
  if (hold && reason.empty()) return InvalidArgument("a reason is required for a legal hold");
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  RETURN_IF_ERROR(LoadChallenge(*conn, challenge_id).status());
  RETURN_IF_ERROR(
      conn->Exec("UPDATE challenges SET legal_hold = ?, legal_hold_reason = ? WHERE id = ?",
                 {std::int64_t{hold ? 1 : 0}, hold ? SqlValue(reason) : SqlNull(), challenge_id}));
  RETURN_IF_ERROR(AppendEvent(*conn, "admin", challenge_id, std::nullopt, actor,
                              hold ? "hold_set" : "hold_released", reason, ctx.clock->Now()));
  return tx.Commit();
}

Status SetSubmissionHold(const ServiceContext& ctx, std::int64_t submission_id, bool hold,
                         const std::string& reason, const std::string& actor) {
  if (hold && reason.empty()) return InvalidArgument("a reason is required for a legal hold");
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  ASSIGN_OR_RETURN(auto row, conn->QueryOne("SELECT challenge_id FROM submissions WHERE id = ?",
                                            {submission_id}));
  if (!row) return NotFound("submission " + std::to_string(submission_id) + " does not exist");
  RETURN_IF_ERROR(
      conn->Exec("UPDATE submissions SET legal_hold = ?, legal_hold_reason = ? WHERE id = ?",
                 {std::int64_t{hold ? 1 : 0}, hold ? SqlValue(reason) : SqlNull(), submission_id}));
  RETURN_IF_ERROR(AppendEvent(*conn, "admin", row->Int(0), submission_id, actor,
                              hold ? "submission_hold_set" : "submission_hold_released", reason,
                              ctx.clock->Now()));
  return tx.Commit();
}

namespace {

// A submission's keep state as stored (migration 10).
struct KeepState {
  std::int64_t challenge_id = 0;
  bool explicit_keep = false;  // kept_at is set
  std::string keep_reason;
  bool is_baseline = false;
  bool baseline_released = false;
};

// Loads the submission and checks that the actor may keep or release it: the operator (nullopt)
// and admins always, hosts of its challenge; sets `is_admin`. Errors as KeepSubmission.
Result<KeepState> CheckKeeper(SqlConnection& conn, std::int64_t submission_id,
                              std::optional<std::int64_t> challenge_id,
                              const std::optional<std::string>& username, bool& is_admin) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT challenge_id, kept_at, keep_reason, "
                                           "is_baseline, baseline_released_at FROM submissions "
                                           "WHERE id = ?",
                                           {submission_id}));
  if (!row || (challenge_id && row->Int(0) != *challenge_id)) {
    return NotFound("submission " + std::to_string(submission_id) + " does not exist" +
                    (challenge_id ? " in challenge " + std::to_string(*challenge_id) : ""));
  }
  KeepState k{row->Int(0), !row->IsNull(1), row->IsNull(2) ? "" : row->Text(2), row->Bool(3),
              !row->IsNull(4)};
  is_admin = true;
  if (username) {
    ASSIGN_OR_RETURN(auto user, FindUser(conn, *username));
    ASSIGN_OR_RETURN(auto role, RoleFor(conn, user, k.challenge_id));
    is_admin = user.is_admin;
    if (!role.is_host && !is_admin) {
      return PermissionDenied("'" + *username + "' is not a host of challenge " +
                              std::to_string(k.challenge_id) +
                              " (only its hosts and admins may keep its submissions)");
    }
  }
  return k;
}

// Recomputes the challenge's dates (R3) and reads the submission's state back.
Result<KeepResult> KeepOutcome(SqlConnection& conn, const RetentionSettings& settings,
                               std::int64_t submission_id, std::int64_t challenge_id,
                               bool changed) {
  if (changed) RETURN_IF_ERROR(RecomputeEligibleDates(conn, settings, challenge_id).status());
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT kept, is_baseline, baseline_released_at, "
                                           "retention_eligible_date FROM submissions WHERE id = ?",
                                           {submission_id}));
  KeepResult r;
  r.submission_id = submission_id;
  r.challenge_id = challenge_id;
  r.changed = changed;
  r.kept = row->Bool(0);
  r.is_baseline = row->Bool(1);
  r.baseline_released = !row->IsNull(2);
  if (auto d = row->OptInt(3)) r.eligible_date = FromUnix(*d);
  return r;
}

// R10's reason: required, at most 10000 bytes; `what` names the act in the error.
Status CheckKeepReason(const std::string& reason, const char* what) {
  if (reason.empty()) return InvalidArgument(std::string("a reason is required to ") + what);
  if (reason.size() > 10000) return InvalidArgument("the reason is longer than 10000 bytes");
  return Status::Ok();
}

}  // namespace

Result<KeepResult> KeepSubmission(const ServiceContext& ctx, std::int64_t submission_id,
                                  std::optional<std::int64_t> challenge_id,
                                  const std::string& reason,
                                  const std::optional<std::string>& username) {
  RETURN_IF_ERROR(CheckKeepReason(reason, "keep a submission"));
  const TimePoint now = ctx.clock->Now();
  const std::string actor = username.value_or("cli");
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  bool is_admin = false;
  ASSIGN_OR_RETURN(auto k, CheckKeeper(*conn, submission_id, challenge_id, username, is_admin));
  const bool changed = !k.explicit_keep || k.keep_reason != reason;
  if (changed) {
    RETURN_IF_ERROR(
        conn->Exec("UPDATE submissions SET kept_at = ?, kept_by = ?, keep_reason = ? WHERE id = ?",
                   {ToUnix(now), actor, reason, submission_id}));
    RETURN_IF_ERROR(
        AppendEvent(*conn, "admin", k.challenge_id, submission_id, actor, "keep_set", reason, now));
  }
  ASSIGN_OR_RETURN(auto result,
                   KeepOutcome(*conn, ctx.settings, submission_id, k.challenge_id, changed));
  RETURN_IF_ERROR(tx.Commit());
  return result;
}

Result<KeepResult> ReleaseKeep(const ServiceContext& ctx, std::int64_t submission_id,
                               std::optional<std::int64_t> challenge_id, const std::string& reason,
                               const std::optional<std::string>& username) {
  RETURN_IF_ERROR(CheckKeepReason(reason, "release a keep"));
  const TimePoint now = ctx.clock->Now();
  const std::string actor = username.value_or("cli");
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  bool is_admin = false;
  ASSIGN_OR_RETURN(auto k, CheckKeeper(*conn, submission_id, challenge_id, username, is_admin));
  bool changed = false;
  if (k.is_baseline && !k.baseline_released) {
    if (!is_admin) {
      return PermissionDenied("submission " + std::to_string(submission_id) +
                              " is a baseline: only an admin may release it");
    }
    RETURN_IF_ERROR(conn->Exec(
        "UPDATE submissions SET baseline_released_at = ?, baseline_released_by = ?, "
        "baseline_release_reason = ?, kept_at = NULL, kept_by = NULL, keep_reason = NULL "
        "WHERE id = ?",
        {ToUnix(now), actor, reason, submission_id}));
    RETURN_IF_ERROR(AppendEvent(*conn, "admin", k.challenge_id, submission_id, actor,
                                "baseline_released", reason, now));
    changed = true;
  } else if (k.explicit_keep) {
    RETURN_IF_ERROR(conn->Exec(
        "UPDATE submissions SET kept_at = NULL, kept_by = NULL, keep_reason = NULL WHERE id = ?",
        {submission_id}));
    RETURN_IF_ERROR(AppendEvent(*conn, "admin", k.challenge_id, submission_id, actor,
                                "keep_released", reason, now));
    changed = true;
  }
  ASSIGN_OR_RETURN(auto result,
                   KeepOutcome(*conn, ctx.settings, submission_id, k.challenge_id, changed));
  RETURN_IF_ERROR(tx.Commit());
  return result;
}

Status RecordAdminAction(const ServiceContext& ctx, std::optional<std::int64_t> challenge_id,
                         const std::string& actor, const std::string& action,
                         const std::string& notes) {
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  RETURN_IF_ERROR(AppendEvent(*conn, "admin", challenge_id, std::nullopt, actor, action, notes,
                              ctx.clock->Now()));
  return tx.Commit();
}

Result<std::int64_t> RecomputeEligibleDates(SqlConnection& conn, const RetentionSettings& settings,
                                            std::optional<std::int64_t> challenge_id) {
  // R1 and R2 in one set-based statement (D = the phase's days, else the override, else the
  // default; a `keep` phase and a kept submission get no date); it mirrors EligibleDate() in
  // domain/retention_rules.h (a service test checks that they agree). Deleted submissions keep
  // their history. A cleared eligible date also clears the notice time: a date set again needs a
  // fresh notice (R4, ADR 0003); a date that only moves keeps it. A kept submission (R10: `kept`,
  // migration 10) gets no date whatever its phase says.
  static constexpr const char* kSql = R"sql(
UPDATE submissions SET
  retention_eligible_date = CASE WHEN submissions.kept = 1 THEN NULL ELSE x.eligible END,
  notice_sent_at = CASE WHEN x.eligible IS NULL OR submissions.kept = 1 THEN NULL
    ELSE submissions.notice_sent_at END,
  retention_policy_applied = CASE WHEN x.eligible IS NULL OR submissions.kept = 1 THEN NULL
    ELSE x.days || ' days after the end of phase ' || x.phase_id END
FROM (
  SELECT p.id AS phase_id,
         COALESCE(p.retention_days, c.log_retention_days_override, ?) AS days,
         CASE WHEN c.retention_policy_consent = 1 AND p.end_date IS NOT NULL AND p.is_public = 0
                   AND p.retention_policy IS NULL
              THEN p.end_date + 86400 * COALESCE(p.retention_days,
                                                 c.log_retention_days_override, ?)
              ELSE NULL END AS eligible
  FROM phases p JOIN challenges c ON c.id = p.challenge_id
) AS x
WHERE submissions.phase_id = x.phase_id
  AND submissions.is_artifact_deleted = 0
  AND submissions.retention_eligible_date IS DISTINCT FROM
      (CASE WHEN submissions.kept = 1 THEN NULL ELSE x.eligible END)
)sql";
  const SqlParams days{std::int64_t{settings.default_days}, std::int64_t{settings.default_days}};
  if (!challenge_id) return conn.Exec(kSql, days);
  // One challenge is named on the submissions themselves, so that submissions_challenge serves
  // it: with `? IS NULL OR c.id = ?` on the phases SQLite scanned every submission (0.55 s per
  // consent change at 1M).
  SqlParams params = days;
  params.emplace_back(*challenge_id);
  return conn.Exec(std::string(kSql) + "  AND submissions.challenge_id = ?\n", params);
}

Result<std::optional<LogHorizon>> ReadLogHorizon(SqlConnection& conn,
                                                 const RetentionSettings& settings,
                                                 std::int64_t challenge_id,
                                                 std::optional<int> challenge_override) {
  ASSIGN_OR_RETURN(auto rows, conn.Query("SELECT end_date, is_public, retention_policy, "
                                         "retention_days FROM phases WHERE challenge_id = ?",
                                         {challenge_id}));
  std::vector<PhaseLogInput> phases;
  phases.reserve(rows.size());
  for (const auto& r : rows) {
    PhaseLogInput p;
    if (auto end = r.OptInt(0)) p.end = FromUnix(*end);
    p.is_public = r.Bool(1);
    p.kept = !r.IsNull(2) && r.Text(2) == "keep";
    std::optional<int> phase_days;
    if (auto d = r.OptInt(3)) phase_days = static_cast<int>(*d);
    auto days = RetentionDays(phase_days, challenge_override, settings.default_days);
    if (!days.ok()) continue;  // the schema refuses such a value; such a phase sets no E
    p.retention_days = *days;
    phases.push_back(p);
  }
  return LatestLogHorizon(phases);
}

Result<std::int64_t> UpdateDates(const ServiceContext& ctx,
                                 std::optional<std::int64_t> challenge_id) {
  auto conn = ctx.db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  if (challenge_id) RETURN_IF_ERROR(LoadChallenge(*conn, *challenge_id).status());
  ASSIGN_OR_RETURN(auto changed, RecomputeEligibleDates(*conn, ctx.settings, challenge_id));
  RETURN_IF_ERROR(tx.Commit());
  return changed;
}

}  // namespace retention
