#include "service/views.h"

#include <algorithm>
#include <map>

#include "domain/log_policy.h"
#include "domain/retention_rules.h"
#include "notify/outbox.h"
#include "service/log_group_origins.h"

namespace retention {
namespace {

using nlohmann::json;

// The live, unheld submissions of one challenge that have an eligible date, read from
// submissions_status alone (its bytes_stored is the sum of the artifacts not yet deleted): the
// set the projection of the schedule is made for. Binds the challenge id.
std::string ScheduledOfChallenge(const SqlConnection& conn) {
  return " FROM submissions s" + IndexedBy(conn, "submissions_status") +
         " JOIN challenges c ON c.id = s.challenge_id WHERE s.challenge_id = ? AND "
         "s.is_artifact_deleted = 0 AND s.retention_eligible_date IS NOT NULL AND s.legal_hold = 0 "
         "AND c.legal_hold = 0";
}

// The next deletion's three dates under their JSON names.
void PutNextDeletion(json& j, const NextDeletion& next) {
  j["next_deletion_date"] = JsonTime(next.deletion_date);
  j["next_deletion_eligible_date"] = JsonTime(next.eligible_date);
  j["next_deletion_sweep"] = JsonTime(next.sweep_at);
}

std::optional<TimePoint> OptTime(const SqlRow& r, std::size_t i) {
  if (auto v = r.OptInt(i)) return FromUnix(*v);
  return std::nullopt;
}

json OptDays(std::optional<int> d) { return d ? json(*d) : json(); }

struct LogState {
  std::string group;
  std::optional<int> desired;
  std::string explanation;
  std::optional<int> applied;
  bool applied_known = false;
  std::string state;
  std::string last_error;
};

Result<LogState> LogRetentionOf(SqlConnection& conn, const ServiceContext& ctx,
                                std::int64_t challenge_id) {
  ASSIGN_OR_RETURN(
      auto c, conn.QueryOne("SELECT c.retention_policy_consent, c.log_retention_days_override, "
                            "c.start_date FROM challenges c WHERE c.id = ?",
                            {challenge_id}));
  LogState s;
  s.group = LogGroupName(challenge_id, ctx.settings.environment);
  if (!c) return s;
  std::optional<int> override_days;
  if (auto d = c->OptInt(1)) override_days = static_cast<int>(*d);
  ASSIGN_OR_RETURN(std::optional<LogHorizon> horizon,
                   ReadLogHorizon(conn, ctx.settings, challenge_id, override_days));
  ASSIGN_OR_RETURN(std::optional<TimePoint> lines_since, LogGroupOrigin(conn, s.group));
  const auto desired = DesiredLogRetention(
      c->Bool(0), horizon ? std::optional<TimePoint>(horizon->latest_phase_end) : std::nullopt,
      OptTime(*c, 2), lines_since,
      horizon ? horizon->retention_days : override_days.value_or(ctx.settings.default_days),
      ctx.clock->Now());
  s.desired = desired.days;
  s.explanation = desired.explanation;
  ASSIGN_OR_RETURN(auto st, conn.QueryOne("SELECT applied_days, applied_known, state, last_error "
                                          "FROM log_retention_state WHERE challenge_id = ?",
                                          {challenge_id}));
  if (st) {
    if (auto a = st->OptInt(0)) s.applied = static_cast<int>(*a);
    s.applied_known = st->Bool(1);
    s.state = st->Text(2);
    s.last_error = st->Text(3);
  } else {
    s.state = "not_applied";
  }
  return s;
}

json LogStateJson(const LogState& s) {
  return json{{"log_group", s.group},
              {"desired_days", OptDays(s.desired)},
              {"desired_explanation", s.explanation},
              {"applied_days", OptDays(s.applied)},
              {"applied_known", s.applied_known},
              {"state", s.state},
              {"last_error", s.last_error.empty() ? json() : json(s.last_error)}};
}

struct Counts {
  std::int64_t total = 0, with_eligible = 0, eligible_now = 0, deleted = 0, on_hold = 0;
  std::int64_t bytes_stored = 0;
  std::int64_t live = 0, held_submissions = 0;  // not yet deleted; of those, held one by one
  std::int64_t kept = 0;  // not yet deleted and kept (R10), from submissions_kept
};

// Per challenge, in one pass over the covering index submissions_status (no table rows, no
// artifact rows: a submission's bytes_stored is kept by triggers). on_hold is filled in by
// WithHold, which knows whether the whole challenge is held.
Result<std::map<std::int64_t, Counts>> CountsByChallenge(SqlConnection& conn, TimePoint now,
                                                         std::optional<std::int64_t> challenge) {
  SqlParams params = {ToUnix(now)};
  if (challenge) params.emplace_back(*challenge);
  ASSIGN_OR_RETURN(
      auto rows,
      conn.Query(std::string("SELECT s.challenge_id, COUNT(*), "
                             "SUM(CASE WHEN s.retention_eligible_date IS NOT NULL AND "
                             "s.is_artifact_deleted = 0 THEN 1 ELSE 0 END), "
                             "SUM(CASE WHEN s.retention_eligible_date <= ? AND "
                             "s.is_artifact_deleted = 0 THEN 1 ELSE 0 END), "
                             "SUM(s.is_artifact_deleted), "
                             "SUM(CASE WHEN s.legal_hold = 1 AND s.is_artifact_deleted = 0 "
                             "THEN 1 ELSE 0 END), "
                             "SUM(1 - s.is_artifact_deleted), SUM(s.bytes_stored) "
                             "FROM submissions s") +
                     IndexedBy(conn, "submissions_status") + " " +
                     (challenge ? "WHERE s.challenge_id = ? " : "") + "GROUP BY s.challenge_id",
                 params));
  std::map<std::int64_t, Counts> out;
  for (const auto& r : rows) {
    Counts c;
    c.total = r.Int(1);
    c.with_eligible = r.Int(2);
    c.eligible_now = r.Int(3);
    c.deleted = r.Int(4);
    c.held_submissions = r.Int(5);
    c.live = r.Int(6);
    c.bytes_stored = r.Int(7);
    out.emplace(r.Int(0), c);
  }
  // The kept ones (R10) from their partial index: the few a host or admin keeps, and baselines.
  ASSIGN_OR_RETURN(
      auto kept,
      conn.Query(std::string("SELECT s.challenge_id, COUNT(*) FROM submissions s") +
                     IndexedBy(conn, "submissions_kept") +
                     " WHERE s.kept = 1 AND s.is_artifact_deleted = 0 " +
                     (challenge ? "AND s.challenge_id = ? " : "") + "GROUP BY s.challenge_id",
                 challenge ? SqlParams{*challenge} : SqlParams{}));
  for (const auto& r : kept) out[r.Int(0)].kept = r.Int(1);
  return out;
}

Counts WithHold(Counts c, bool challenge_on_hold) {
  c.on_hold = challenge_on_hold ? c.live : c.held_submissions;
  return c;
}

Result<Counts> CountsFor(SqlConnection& conn, TimePoint now, std::int64_t challenge,
                         bool challenge_on_hold) {
  ASSIGN_OR_RETURN(auto by, CountsByChallenge(conn, now, challenge));
  auto it = by.find(challenge);
  return WithHold(it == by.end() ? Counts{} : it->second, challenge_on_hold);
}

json CountsJson(const Counts& c) {
  return json{{"total", c.total},
              {"with_eligible_date", c.with_eligible},
              {"eligible_now", c.eligible_now},
              {"deleted", c.deleted},
              {"on_hold", c.on_hold},
              {"kept", c.kept},
              {"bytes_stored", c.bytes_stored}};
}

Result<json> PhasesJson(SqlConnection& conn, std::int64_t challenge_id) {
  ASSIGN_OR_RETURN(auto rows,
                   conn.Query("SELECT id, name, start_date, end_date, is_public, retention_days, "
                              "retention_policy, retention_policy_reason FROM phases WHERE "
                              "challenge_id = ? ORDER BY id",
                              {challenge_id}));
  json phases = json::array();
  for (const auto& r : rows) {
    // The phase policy (R1): retention days or "keep", null when none is set.
    phases.push_back({{"id", r.Int(0)},
                      {"name", r.Text(1)},
                      {"start_date", JsonTime(OptTime(r, 2))},
                      {"end_date", JsonTime(OptTime(r, 3))},
                      {"is_public", r.Bool(4)},
                      {"retention_days", r.IsNull(5) ? json() : json(r.Int(5))},
                      {"retention_policy", r.IsNull(6) ? json() : json(r.Text(6))},
                      {"retention_policy_reason", r.IsNull(7) ? json() : json(r.Text(7))}});
  }
  return phases;
}

Result<json> ChallengeStatus(SqlConnection& conn, const ServiceContext& ctx, const SqlRow& c,
                             const Counts& counts) {
  const std::int64_t id = c.Int(0);
  json j;
  j["challenge_id"] = id;
  j["title"] = c.Text(1);
  j["has_consent"] = c.Bool(2);
  j["consent_date"] = JsonTime(OptTime(c, 3));
  j["consent_by"] = c.IsNull(4) ? json() : json(c.Text(4));
  j["notes"] = c.Text(5);
  j["log_retention_days_override"] = c.IsNull(6) ? json() : json(c.Int(6));
  j["retention_days"] = c.IsNull(6) ? ctx.settings.default_days : c.Int(6);
  j["legal_hold"] = c.Bool(7);
  j["legal_hold_reason"] = c.IsNull(8) ? json() : json(c.Text(8));
  j["approved"] = c.Bool(9);
  j["inform_hosts"] = c.Bool(10);
  ASSIGN_OR_RETURN(j["phases"], PhasesJson(conn, id));
  j["submissions"] = CountsJson(counts);
  ASSIGN_OR_RETURN(auto next, NextDeletionOf(conn, ctx, id));
  PutNextDeletion(j, next);
  ASSIGN_OR_RETURN(auto log, LogRetentionOf(conn, ctx, id));
  j["log_retention"] = LogStateJson(log);
  return j;
}

constexpr const char* kChallengeSql =
    "SELECT c.id, c.title, c.retention_policy_consent, c.retention_policy_consent_date, "
    "u.username, c.retention_policy_notes, c.log_retention_days_override, c.legal_hold, "
    "c.legal_hold_reason, c.approved, c.inform_hosts, c.log_retention_override_reason "
    "FROM challenges c LEFT JOIN users u ON u.id = c.retention_policy_consent_by ";

}  // namespace

json JsonTime(const std::optional<TimePoint>& t) { return t ? json(FormatTime(*t)) : json(); }

Result<NextDeletion> NextDeletionOf(SqlConnection& conn, const ServiceContext& ctx,
                                    std::int64_t challenge_id) {
  const TimePoint now = ctx.clock->Now();
  const RetentionSchedule schedule = ctx.settings.schedule();
  const std::int64_t gap = std::int64_t{std::max(ctx.settings.notice_days, 0)} * kSecondsPerDay;
  NextDeletion next;
  auto consider = [&](TimePoint eligible, std::optional<TimePoint> noticed) {
    const ProjectedDeletion p = ProjectDeletion(eligible, noticed, now, schedule);
    if (!p.deletion_date) return;
    if (!next.deletion_date || *p.deletion_date < *next.deletion_date) {
      next = {eligible, p.deletion_date, p.sweep_at};
    }
  };
  // The projection grows with the eligible date among the submissions not yet noticed, and with
  // max(eligible, notice + gap) among the noticed ones: the first of each group is enough.
  ASSIGN_OR_RETURN(auto unnoticed,
                   conn.QueryOne(std::string("SELECT MIN(s.retention_eligible_date)") +
                                     ScheduledOfChallenge(conn) + " AND s.notice_sent_at IS NULL",
                                 {challenge_id}));
  if (unnoticed && !unnoticed->IsNull(0)) consider(FromUnix(unnoticed->Int(0)), std::nullopt);
  ASSIGN_OR_RETURN(
      auto noticed,
      conn.QueryOne(std::string("SELECT s.retention_eligible_date, s.notice_sent_at") +
                        ScheduledOfChallenge(conn) +
                        " AND s.notice_sent_at IS NOT NULL ORDER BY CASE WHEN "
                        "s.retention_eligible_date > s.notice_sent_at + ? THEN "
                        "s.retention_eligible_date ELSE s.notice_sent_at + ? END LIMIT 1",
                    {challenge_id, gap, gap}));
  if (noticed) consider(FromUnix(noticed->Int(0)), FromUnix(noticed->Int(1)));
  return next;
}

Result<json> StatusView(const ServiceContext& ctx, std::optional<std::int64_t> challenge_id) {
  auto conn = ctx.db->LockRead();
  json out;
  const TimePoint now = ctx.clock->Now();
  out["as_of"] = FormatTime(now);
  if (!challenge_id) {
    ASSIGN_OR_RETURN(auto cc, conn->QueryOne("SELECT COUNT(*), COALESCE(SUM("
                                             "retention_policy_consent), 0) FROM challenges"));
    out["overall"] = {{"challenges", cc->Int(0)},
                      {"challenges_with_consent", cc->Int(1)},
                      {"retention_days_default", ctx.settings.default_days},
                      {"notice_days", ctx.settings.notice_days}};
    // Artifacts whose size storage did not know when `sync evalai` added them (stored as 0 and
    // left out of bytes_stored until a later sync fills them in): shown as unknown, not as 0.
    ASSIGN_OR_RETURN(auto unknown, conn->QueryOne("SELECT COUNT(*) FROM artifact_sizes_pending"));
    out["overall"]["artifacts_size_unknown"] = unknown ? unknown->Int(0) : 0;
  }
  ASSIGN_OR_RETURN(auto by_challenge, CountsByChallenge(*conn, now, challenge_id));
  std::string sql = kChallengeSql;
  SqlParams params;
  if (challenge_id) {
    sql += "WHERE c.id = ? ";
    params.emplace_back(*challenge_id);
  }
  sql += "ORDER BY c.id";
  ASSIGN_OR_RETURN(auto rows, conn->Query(sql, params));
  if (challenge_id && rows.empty()) {
    return NotFound("challenge " + std::to_string(*challenge_id) + " does not exist");
  }
  out["challenges"] = json::array();
  Counts overall;
  for (const auto& r : rows) {
    auto it = by_challenge.find(r.Int(0));
    const Counts counts = WithHold(it == by_challenge.end() ? Counts{} : it->second, r.Bool(7));
    overall.total += counts.total;
    overall.with_eligible += counts.with_eligible;
    overall.eligible_now += counts.eligible_now;
    overall.deleted += counts.deleted;
    overall.on_hold += counts.on_hold;
    overall.kept += counts.kept;
    overall.bytes_stored += counts.bytes_stored;
    ASSIGN_OR_RETURN(auto one, ChallengeStatus(*conn, ctx, r, counts));
    out["challenges"].push_back(std::move(one));
  }
  if (!challenge_id) out["overall"]["submissions"] = CountsJson(overall);
  return out;
}

Result<json> RetentionInfoView(const ServiceContext& ctx, std::int64_t challenge_id,
                               const ChallengeRole& who) {
  const Role role = who.role;
  const bool host = who.is_host;
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(auto rows,
                   conn->Query(std::string(kChallengeSql) + "WHERE c.id = ?", {challenge_id}));
  if (rows.empty()) return NotFound("Challenge does not exist");
  const SqlRow& c = rows.front();
  const bool privileged = host || role == Role::kAdmin;
  const bool consent = c.Bool(2);
  json j;
  j["challenge_id"] = challenge_id;
  j["challenge_title"] = c.Text(1);
  json policy = {{"has_consent", consent}};
  if (privileged) {
    policy["consent_date"] = JsonTime(OptTime(c, 3));
    policy["consent_by"] = c.IsNull(4) ? json() : json(c.Text(4));
    policy["notes"] = c.Text(5);
  }
  j["retention_policy"] = policy;
  j["user_permissions"] = {{"is_host", host},
                           {"is_admin", role == Role::kAdmin},
                           {"role", RoleName(role)},
                           {"can_provide_consent", host && !consent},
                           {"can_withdraw_consent", host && consent}};
  const std::int64_t days = c.IsNull(6) ? ctx.settings.default_days : c.Int(6);
  j["current_policies"] = {
      {"retention_days", days},
      {"default_days", ctx.settings.default_days},
      {"log_retention_days_override", c.IsNull(6) ? json() : json(c.Int(6))},
      {"override_reason", privileged && !c.IsNull(11) ? json(c.Text(11)) : json()},
      {"legal_hold", c.Bool(7)},
      {"legal_hold_reason", privileged && !c.IsNull(8) ? json(c.Text(8)) : json()},
      {"notice_days", ctx.settings.notice_days}};
  ASSIGN_OR_RETURN(auto latest, conn->QueryOne("SELECT MAX(end_date) FROM phases WHERE "
                                               "challenge_id = ?",
                                               {challenge_id}));
  ASSIGN_OR_RETURN(auto log, LogRetentionOf(*conn, ctx, challenge_id));
  j["calculated_retention"] = {{"retention_days", days},
                               {"latest_phase_end", JsonTime(OptTime(*latest, 0))},
                               {"log_group", log.group},
                               {"log_retention_desired_days", OptDays(log.desired)},
                               {"log_retention_applied_days", OptDays(log.applied)},
                               {"log_retention_state", log.state}};
  ASSIGN_OR_RETURN(j["phases"], PhasesJson(*conn, challenge_id));
  ASSIGN_OR_RETURN(auto counts, CountsFor(*conn, ctx.clock->Now(), challenge_id, c.Bool(7)));
  j["submissions"] = CountsJson(counts);
  ASSIGN_OR_RETURN(auto next, NextDeletionOf(*conn, ctx, challenge_id));
  PutNextDeletion(j, next);
  return j;
}

Result<json> ConsentStatusView(const ServiceContext& ctx, std::int64_t challenge_id,
                               const User& user) {
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(
      auto row, conn->QueryOne("SELECT c.title, c.retention_policy_consent, "
                               "c.retention_policy_consent_date, u.username, "
                               "c.retention_policy_notes, c.log_retention_days_override, "
                               "m.status FROM challenges c LEFT JOIN users u ON u.id = "
                               "c.retention_policy_consent_by LEFT JOIN host_team_members m ON "
                               "m.host_team_id = c.host_team_id AND m.user_id = ? WHERE c.id = ?",
                               {user.id, challenge_id}));
  if (!row) return NotFound("Challenge does not exist");
  const Role role = user.is_admin                ? Role::kAdmin
                    : row->Text(6) == "accepted" ? Role::kHost
                                                 : Role::kParticipant;
  const bool has = row->Bool(1);
  const bool host = row->Text(6) == "accepted";  // an admin may host too
  json out = {{"challenge_id", challenge_id},
              {"challenge_title", row->Text(0)},
              {"has_consent", has},
              {"is_host", host},
              {"can_provide_consent", host && !has}};
  if (has && (host || role == Role::kAdmin)) {
    out["consent_date"] = JsonTime(OptTime(*row, 2));
    out["consent_by"] = row->IsNull(3) ? json() : json(row->Text(3));
    out["retention_notes"] = row->Text(4);
    out["custom_policies"] = {
        {"log_retention_days_override", row->IsNull(5) ? json() : json(row->Int(5))}};
  }
  return out;
}

Result<json> ForecastView(const ServiceContext& ctx, std::int64_t challenge_id, int weeks) {
  if (weeks < 1 || weeks > 260) return InvalidArgument("weeks must be between 1 and 260");
  const TimePoint now = ctx.clock->Now();
  const RetentionSchedule schedule = ctx.settings.schedule();
  // Monday 00:00 UTC of the current week (1970-01-01 was a Thursday).
  const std::int64_t day = ToUnix(now) / kSecondsPerDay;
  const std::int64_t monday = (day - ((day + 3) % 7)) * kSecondsPerDay;
  const std::int64_t week = 7 * kSecondsPerDay;
  const TimePoint window_end = FromUnix(monday + weeks * week);
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(auto exists,
                   conn->QueryOne("SELECT id FROM challenges WHERE id = ?", {challenge_id}));
  if (!exists) return NotFound("Challenge does not exist");
  // One row per eligible date and notice (the submissions of a phase share both), projected
  // each: not one projection per submission.
  ASSIGN_OR_RETURN(auto rows, conn->Query(std::string("SELECT s.retention_eligible_date, "
                                                      "s.notice_sent_at, COUNT(*), "
                                                      "SUM(s.bytes_stored)") +
                                              ScheduledOfChallenge(*conn) + " GROUP BY 1, 2",
                                          {challenge_id}));
  std::vector<std::pair<std::int64_t, std::int64_t>> buckets(static_cast<std::size_t>(weeks));
  std::map<TimePoint, std::pair<std::int64_t, std::int64_t>> by_run;
  // Every run of the sweep in the window, those that delete nothing too (at most 1000).
  if (schedule.sweep) {
    for (auto run = FirstRunAtOrAfter(*schedule.sweep, now);
         run && *run < window_end && by_run.size() < 1000;
         run = FirstRunAtOrAfter(*schedule.sweep, *run + std::chrono::seconds(1))) {
      by_run[*run];
    }
  }
  std::int64_t total_subs = 0;
  std::int64_t total_bytes = 0;
  for (const auto& r : rows) {
    const ProjectedDeletion p = ProjectDeletion(FromUnix(r.Int(0)), OptTime(r, 1), now, schedule);
    if (!p.sweep_at || *p.sweep_at >= window_end) continue;
    const std::int64_t index = std::max<std::int64_t>((ToUnix(*p.sweep_at) - monday) / week, 0);
    auto& b = buckets[static_cast<std::size_t>(index)];
    b.first += r.Int(2);
    b.second += r.Int(3);
    auto& run = by_run[*p.sweep_at];
    run.first += r.Int(2);
    run.second += r.Int(3);
    total_subs += r.Int(2);
    total_bytes += r.Int(3);
  }
  json out;
  out["challenge_id"] = challenge_id;
  out["weeks"] = json::array();
  for (int i = 0; i < weeks; ++i) {
    const auto& b = buckets[static_cast<std::size_t>(i)];
    out["weeks"].push_back({{"week_start", FormatDate(FromUnix(monday + i * week))},
                            {"submissions", b.first},
                            {"bytes", b.second}});
  }
  out["sweeps"] = json::array();
  for (const auto& [run, b] : by_run) {
    out["sweeps"].push_back(
        {{"run_at", FormatTime(run)}, {"submissions", b.first}, {"bytes", b.second}});
  }
  out["total_submissions"] = total_subs;
  out["total_bytes"] = total_bytes;
  // R10: kept submissions have no eligible date, so none is in what the sweeps delete.
  ASSIGN_OR_RETURN(auto kept, conn->QueryOne("SELECT COUNT(*) FROM submissions s" +
                                                 IndexedBy(*conn, "submissions_kept") +
                                                 " WHERE s.kept = 1 AND s.is_artifact_deleted = 0 "
                                                 "AND s.challenge_id = ?",
                                             {challenge_id}));
  out["kept_submissions"] = kept->Int(0);
  return out;
}

Result<json> SubmissionSearchView(const ServiceContext& ctx, std::int64_t challenge_id,
                                  const std::string& query, std::int64_t after, int limit) {
  if (limit < 1 || limit > 500) return InvalidArgument("limit must be 1-500");
  if (query.size() > 150) return InvalidArgument("q is longer than 150 characters");
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(auto exists,
                   conn->QueryOne("SELECT id FROM challenges WHERE id = ?", {challenge_id}));
  if (!exists) return NotFound("Challenge does not exist");
  std::string sql =
      "SELECT s.id, s.phase_id, s.participant, s.submitted_at, s.status, s.kept, s.kept_at, "
      "s.kept_by, s.keep_reason, s.is_baseline, s.baseline_released_at, s.legal_hold, "
      "s.retention_eligible_date, s.is_artifact_deleted, s.artifact_deletion_date, "
      "s.bytes_stored FROM submissions s WHERE s.challenge_id = ? AND s.id > ?";
  SqlParams params = {challenge_id, after};
  // Served by submissions_challenge (all), the primary key (an id) or submissions_participant
  // (participant, challenge_id), each in id order.
  const bool digits =
      !query.empty() && query.size() <= 18 &&
      std::all_of(query.begin(), query.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (digits) {
    sql += " AND (s.id = ? OR s.participant = ?)";
    params.emplace_back(std::stoll(query));
    params.emplace_back(query);
  } else if (!query.empty()) {
    sql += " AND s.participant = ?";
    params.emplace_back(query);
  }
  sql += " ORDER BY s.id LIMIT ?";
  params.emplace_back(std::int64_t{limit} + 1);
  ASSIGN_OR_RETURN(auto rows, conn->Query(sql, params));
  json out;
  out["challenge_id"] = challenge_id;
  out["q"] = query;
  out["submissions"] = json::array();
  const std::size_t shown = std::min(rows.size(), static_cast<std::size_t>(limit));
  for (std::size_t i = 0; i < shown; ++i) {
    const SqlRow& r = rows[i];
    out["submissions"].push_back({{"id", r.Int(0)},
                                  {"phase_id", r.Int(1)},
                                  {"participant", r.Text(2)},
                                  {"submitted_at", JsonTime(OptTime(r, 3))},
                                  {"status", r.Text(4)},
                                  {"kept", r.Bool(5)},
                                  {"kept_at", JsonTime(OptTime(r, 6))},
                                  {"kept_by", r.IsNull(7) ? json() : json(r.Text(7))},
                                  {"keep_reason", r.IsNull(8) ? json() : json(r.Text(8))},
                                  {"is_baseline", r.Bool(9)},
                                  {"baseline_released", !r.IsNull(10)},
                                  {"legal_hold", r.Bool(11)},
                                  {"retention_eligible_date", JsonTime(OptTime(r, 12))},
                                  {"is_artifact_deleted", r.Bool(13)},
                                  {"artifact_deletion_date", JsonTime(OptTime(r, 14))},
                                  {"bytes_stored", r.Int(15)}});
  }
  out["next"] = rows.size() > shown ? json(rows[shown - 1].Int(0)) : json();
  return out;
}

json SweptSubmissionJson(const SweptSubmission& s) {
  json arts = json::array();
  for (const auto& a : s.artifacts) {
    arts.push_back({{"kind", a.kind}, {"key", a.key}, {"bytes", a.bytes}});
  }
  json j = {{"submission_id", s.submission_id},
            {"challenge_id", s.challenge_id},
            {"artifacts", std::move(arts)},
            {"bytes", s.bytes}};
  if (s.schedule) {
    j["notice_at"] = JsonTime(s.schedule->notice_at);
    j["deletion_date"] = JsonTime(s.schedule->deletion_date);
    j["sweep_at"] = JsonTime(s.schedule->sweep_at);
  }
  return j;
}

namespace {
// Appends `text` as a JSON string exactly as nlohmann's dump writes it. Printable ASCII other than
// '"' and '\\' is written as it is (the common case: keys and kinds); anything else goes through
// nlohmann (escapes, UTF-8 checked strictly).
void AppendJsonString(std::string& out, const std::string& text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char ch) {
    return ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\';
  });
  if (!plain) {
    out += json(text).dump(-1, ' ', false, json::error_handler_t::strict);
    return;
  }
  out += '"';
  out += text;
  out += '"';
}
}  // namespace

void AppendSweptSubmissionJson(std::string& out, const SweptSubmission& s) {
  // nlohmann's object keys sort; this writes them in that order.
  out += "{\"artifacts\":[";
  for (std::size_t i = 0; i < s.artifacts.size(); ++i) {
    const SweptArtifact& a = s.artifacts[i];
    out += i > 0 ? ",{\"bytes\":" : "{\"bytes\":";
    out += std::to_string(a.bytes);
    out += ",\"key\":";
    AppendJsonString(out, a.key);
    out += ",\"kind\":";
    AppendJsonString(out, a.kind);
    out += '}';
  }
  out += "],\"bytes\":";
  out += std::to_string(s.bytes);
  out += ",\"challenge_id\":";
  out += std::to_string(s.challenge_id);
  auto time = [&out](const char* key, const std::optional<TimePoint>& t) {
    out += key;
    out += t ? "\"" + FormatTime(*t) + "\"" : std::string("null");
  };
  if (s.schedule) {
    time(",\"deletion_date\":", s.schedule->deletion_date);
    time(",\"notice_at\":", s.schedule->notice_at);
  }
  out += ",\"submission_id\":";
  out += std::to_string(s.submission_id);
  if (s.schedule) time(",\"sweep_at\":", s.schedule->sweep_at);
  out += '}';
}

json SkippedSubmissionJson(const SkippedSubmission& s) {
  return {{"submission_id", s.submission_id},
          {"challenge_id", s.challenge_id},
          {"reason", s.reason},
          {"detail", s.detail}};
}

json FailedArtifactJson(const FailedArtifact& f) {
  return {{"submission_id", f.submission_id}, {"key", f.key}, {"error", f.error}};
}

json SweepSummaryJson(const SweepReport& r) {
  json out;
  out["dry_run"] = r.dry_run;
  out["as_of"] = FormatTime(r.as_of);
  out["interrupted"] = r.interrupted;
  out["totals"] = {{"examined", r.examined},
                   {"submissions", r.submissions_deleted},
                   {"artifacts", r.artifacts_deleted},
                   {"bytes", r.bytes_freed},
                   {"skipped", r.skipped_count},
                   {"failed", r.failed_count},
                   {"not_eligible", r.not_eligible},
                   {"eligible_in_future", r.eligible_in_future},
                   {"kept", r.kept},
                   {"recovered", {{"gone", r.recovered_gone}, {"present", r.recovered_present}}},
                   {"not_eligible_by_reason",
                    {{"no_consent", r.not_eligible_no_consent},
                     {"phase_public", r.not_eligible_phase_public},
                     {"no_end_date", r.not_eligible_no_end_date}}}};
  if (r.next) {
    out["next"] =
        std::to_string(r.next->eligible_date) + ":" + std::to_string(r.next->submission_id);
  }
  return out;
}

json SweepReportJson(const SweepReport& r) {
  json items = json::array();
  for (const auto& s : r.items) items.push_back(SweptSubmissionJson(s));
  json skipped = json::array();
  for (const auto& s : r.skipped) skipped.push_back(SkippedSubmissionJson(s));
  json failed = json::array();
  for (const auto& f : r.failed) failed.push_back(FailedArtifactJson(f));
  json out = SweepSummaryJson(r);
  out[r.dry_run ? "deletable" : "deleted"] = std::move(items);
  out["skipped"] = std::move(skipped);
  out["failed"] = std::move(failed);
  return out;
}

json AuditEventJson(const AuditEvent& e) {
  return json{{"id", e.id},
              {"ledger", e.ledger},
              {"challenge_id", e.challenge_id ? json(*e.challenge_id) : json()},
              {"submission_id", e.submission_id ? json(*e.submission_id) : json()},
              {"actor", e.actor},
              {"action", e.action},
              {"notes", e.notes},
              {"at", FormatTime(e.at)},
              {"hash", e.hash}};
}

std::string AuditCsv(const std::vector<AuditEvent>& events) {
  auto field = [](const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
      if (ch == '"') out += '"';
      out += ch;
    }
    return out + "\"";
  };
  std::string csv = "id,ledger,challenge_id,submission_id,actor,action,notes,at,hash\n";
  for (const auto& e : events) {
    csv += std::to_string(e.id) + "," + e.ledger + "," +
           (e.challenge_id ? std::to_string(*e.challenge_id) : "") + "," +
           (e.submission_id ? std::to_string(*e.submission_id) : "") + "," + field(e.actor) + "," +
           e.action + "," + field(e.notes) + "," + FormatTime(e.at) + "," + e.hash + "\n";
  }
  return csv;
}

Result<json> ChallengeListView(const ServiceContext& ctx, const User& user) {
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(
          "SELECT c.id, c.title, c.retention_policy_consent, c.legal_hold, c.approved, m.status "
          "FROM challenges c LEFT JOIN host_team_members m ON m.host_team_id = c.host_team_id AND "
          "m.user_id = ? WHERE ? = 1 OR m.status IS NOT NULL OR EXISTS (SELECT 1 FROM "
          "submissions s WHERE s.challenge_id = c.id AND s.participant = ?) ORDER BY c.id",
          {user.id, std::int64_t{user.is_admin ? 1 : 0}, user.username}));
  json arr = json::array();
  for (const auto& r : rows) {
    const std::string member = r.Text(5);
    const char* role = user.is_admin          ? "admin"
                       : member == "accepted" ? "host"
                       : member == "pending"  ? "pending"
                                              : "participant";
    arr.push_back({{"id", r.Int(0)},
                   {"title", r.Text(1)},
                   {"has_consent", r.Bool(2)},
                   {"is_host", member == "accepted"},
                   {"role", role},
                   {"legal_hold", r.Bool(3)},
                   {"approved", r.Bool(4)}});
  }
  return json{{"challenges", arr}};
}

json OutboxEntryJson(const OutboxEntry& e) {
  return {{"id", e.id},
          {"challenge_id", e.challenge_id ? json(*e.challenge_id) : json()},
          {"recipient", e.recipient},
          {"subject", e.subject},
          {"state", e.state},
          {"attempts", e.attempts},
          {"last_error", e.last_error ? json(*e.last_error) : json()},
          {"created_at", FormatTime(e.created_at)},
          {"sent_at", JsonTime(e.sent_at)}};
}

Result<json> OutboxView(const ServiceContext& ctx, const std::optional<std::string>& state,
                        int limit) {
  auto conn = ctx.db->LockRead();
  ASSIGN_OR_RETURN(auto entries, ListOutbox(*conn, state, limit));
  json arr = json::array();
  for (const OutboxEntry& e : entries) arr.push_back(OutboxEntryJson(e));
  return json{{"mail", arr}};
}

RetentionGauges ReadRetentionGauges(const ServiceContext& ctx) {
  const std::int64_t now = ToUnix(ctx.clock->Now());
  auto conn = ctx.db->LockRead();
  auto count = [&](const char* sql, const SqlParams& params) -> std::int64_t {
    auto row = conn->QueryOne(sql, params);
    return row.ok() && *row ? (*row)->Int(0) : 0;
  };
  RetentionGauges g;
  g.artifacts_deleted = count("SELECT COUNT(*) FROM artifacts WHERE state = 'deleted'", {});
  g.bytes_freed =
      count("SELECT COALESCE(SUM(size_bytes), 0) FROM artifacts WHERE state = 'deleted'", {});
  g.sweep_failures = count("SELECT COUNT(*) FROM artifacts WHERE state = 'failed'", {});
  g.backlog_submissions = count(
      "SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 0 AND "
      "retention_eligible_date <= ?",
      {now});
  g.oldest_overdue_seconds = count(
      "SELECT COALESCE(? - MIN(retention_eligible_date), 0) FROM submissions WHERE "
      "is_artifact_deleted = 0 AND retention_eligible_date <= ?",
      {now, now});
  auto runs = conn->Query(
      "SELECT job, MAX(finished_at) FROM job_runs WHERE status = 'succeeded' GROUP BY job");
  if (runs.ok()) {
    for (const auto& r : *runs) g.job_last_success[r.Text(0)] = r.Int(1);
  }
  auto failed = conn->Query(
      "SELECT job, MAX(COALESCE(finished_at, started_at)) FROM job_runs WHERE status = 'failed' "
      "GROUP BY job");
  if (failed.ok()) {
    for (const auto& r : *failed) g.job_last_failure[r.Text(0)] = r.Int(1);
  }
  auto durations = conn->Query(
      "SELECT r.job, r.finished_at - r.started_at FROM job_runs r JOIN (SELECT job, MAX(id) AS "
      "id FROM job_runs WHERE finished_at IS NOT NULL GROUP BY job) l ON l.id = r.id");
  if (durations.ok()) {
    for (const auto& r : *durations) g.job_last_duration[r.Text(0)] = r.Int(1);
  }
  // Every state is listed, zero included, so that an alert on one sees 0 rather than nothing.
  for (const char* state : {"queued", "sending", "sent", "failed", "cancelled", "suppressed"}) {
    g.outbox_by_state[state] = 0;
  }
  if (auto mail = conn->Query("SELECT state, COUNT(*) FROM mail_outbox GROUP BY state");
      mail.ok()) {
    for (const auto& r : *mail) g.outbox_by_state[r.Text(0)] = r.Int(1);
  }
  g.outbox_retrying = count(
      "SELECT COUNT(*) FROM mail_outbox WHERE state = 'queued' AND attempts > 0 AND last_error "
      "IS NOT NULL",
      {});
  for (const char* state : {"in_step", "pending", "error"}) g.log_groups_by_state[state] = 0;
  if (auto groups = conn->Query("SELECT state, COUNT(*) FROM log_retention_state GROUP BY state");
      groups.ok()) {
    for (const auto& r : *groups) g.log_groups_by_state[r.Text(0)] = r.Int(1);
  }
  return g;
}

Status CheckDatabase(const ServiceContext& ctx) {
  auto conn = ctx.db->LockRead();
  return conn->QueryOne("SELECT 1").status();
}

}  // namespace retention
