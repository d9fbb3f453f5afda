#include "service/log_retention_sync.h"

#include <map>
#include <utility>
#include <vector>

#include "domain/log_policy.h"
#include "service/audit_log.h"
#include "service/log_group_origins.h"
#include "store/sql.h"

namespace retention {

using nlohmann::json;

// The R8 inputs of one challenge, read from the database.
struct LogRetentionSync::Inputs {
  std::int64_t challenge_id = 0;
  bool has_consent = false;
  std::optional<int> override_days;
  std::optional<TimePoint> start;
  std::optional<LogHorizon> horizon;  // R8's E; nullopt: no private, non-kept phase has an end
  // When the service first saw the challenge's log group (log_group_origins); nullopt before
  // its first reconcile or ingested line.
  std::optional<TimePoint> lines_since;
};

// What the backend said about a group: `known` false when it could not be asked (error set).
struct LogRetentionSync::Actual {
  bool known = false;
  bool exists = false;
  std::optional<int> days;
  Status error;
};

namespace {

// One challenge's R8 inputs; parameters: the challenge's log group, then its id.
constexpr const char* kInputsQuery =
    "SELECT c.id, c.retention_policy_consent, c.log_retention_days_override, c.start_date, "
    "NULL, "
    "(SELECT o.first_seen_at FROM log_group_origins o WHERE o.group_name = ?) "
    "FROM challenges c WHERE c.id = ?";

constexpr const char* kGroupPrefix = "challenge-pk-";

// How often the daily reconcile re-applies one challenge whose state keeps changing under it
// before it leaves that group's enforcement to the next run.
constexpr int kEnforceRounds = 3;

json OptDays(std::optional<int> d) { return d ? json(*d) : json(); }

std::string DaysText(std::optional<int> d) {
  return d ? std::to_string(*d) + " days" : std::string("never expire");
}

std::optional<TimePoint> OptTime(const SqlRow& r, std::size_t i) {
  if (auto v = r.OptInt(i)) return FromUnix(*v);
  return std::nullopt;
}

}  // namespace

json LogReconcileOutcomeJson(const LogReconcileOutcome& o) {
  return json{{"challenge_id", o.challenge_id},
              {"log_group", o.log_group},
              {"desired_days", OptDays(o.desired_days)},
              {"desired_explanation", o.explanation},
              {"previous_days", o.actual_known ? OptDays(o.actual_days) : json()},
              {"applied_days", o.applied_known ? OptDays(o.applied_days) : json()},
              {"applied_known", o.applied_known},
              {"state", o.state},
              {"changed", o.changed},
              {"error", o.error.ok() ? json() : json(o.error.ToString())}};
}

LogRetentionSync::LogRetentionSync(const ServiceContext* ctx, LogRetention* backend,
                                   LogRetentionSyncOptions options)
    : ctx_(ctx), backend_(backend), options_(std::move(options)) {}

LogRetentionSync::~LogRetentionSync() { StopWorker(); }

DesiredLogPolicy LogRetentionSync::Desire(const Inputs& in, TimePoint now) const {
  if (!in.horizon) {
    return DesiredLogRetention(in.has_consent, std::nullopt, in.start, in.lines_since,
                               ctx_->settings.default_days, now);
  }
  return DesiredLogRetention(in.has_consent, in.horizon->latest_phase_end, in.start, in.lines_since,
                             in.horizon->retention_days, now);
}

Result<LogReconcileOutcome> LogRetentionSync::Apply(const Inputs& in, const Actual& actual,
                                                    TimePoint now) {
  const DesiredLogPolicy desired = Desire(in, now);
  LogReconcileOutcome o;
  o.challenge_id = in.challenge_id;
  o.log_group = LogGroupName(in.challenge_id, ctx_->settings.environment);
  o.desired_days = desired.days;
  o.explanation = desired.explanation;
  o.group_exists = actual.exists;
  o.actual_known = actual.known;
  o.actual_days = actual.days;

  if (!actual.known) {
    o.state = "error";
    o.error = actual.error;
  } else if (!actual.exists && !options_.backend_creates_groups) {
    o.state = "pending";
    o.applied_known = false;
  } else if (actual.days == desired.days) {
    // In step; a group the local store has not created yet has no policy, which is what a
    // never-expire policy wants, so it is not created just for that.
    o.state = "in_step";
    o.applied_known = true;
    o.applied_days = actual.days;
  } else {
    const Status s = desired.days ? backend_->SetPolicy(o.log_group, *desired.days)
                                  : backend_->RemovePolicy(o.log_group);
    if (s.ok()) {
      o.state = "in_step";
      o.changed = true;
      o.applied_known = true;
      o.applied_days = desired.days;
    } else if (s.code() == StatusCode::kNotFound) {
      // The group vanished (or never existed) between listing and writing: retry next time.
      o.state = "pending";
    } else {
      o.state = "error";
      o.error = s.WithContext("set log retention of " + o.log_group);
      o.applied_known = actual.exists;
      o.applied_days = actual.days;
    }
  }
  RETURN_IF_ERROR(Record(o, now));
  return o;
}

Status LogRetentionSync::Record(const LogReconcileOutcome& o, TimePoint now) {
  auto conn = ctx_->db->Lock();
  ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
  std::string last_error;
  if (o.state == "pending") {
    last_error = "log group " + o.log_group + " does not exist yet; the next reconcile applies it";
  } else if (o.state == "error") {
    last_error = o.error.ToString();
  }
  const SqlValue desired = o.desired_days ? SqlValue(std::int64_t{*o.desired_days}) : SqlNull();
  if (o.state == "error" && !o.actual_known) {
    // The backend could not be asked: keep the last known applied policy.
    RETURN_IF_ERROR(conn->Exec(
        "INSERT INTO log_retention_state (challenge_id, group_name, desired_days, applied_days, "
        "applied_known, state, last_error, updated_at) VALUES (?, ?, ?, NULL, 0, 'error', ?, ?) "
        "ON CONFLICT (challenge_id) DO UPDATE SET group_name = excluded.group_name, "
        "desired_days = excluded.desired_days, state = 'error', last_error = excluded.last_error, "
        "updated_at = excluded.updated_at",
        {o.challenge_id, o.log_group, desired, last_error, ToUnix(now)}));
  } else {
    const SqlValue applied =
        o.applied_known && o.applied_days ? SqlValue(std::int64_t{*o.applied_days}) : SqlNull();
    RETURN_IF_ERROR(conn->Exec(
        "INSERT INTO log_retention_state (challenge_id, group_name, desired_days, applied_days, "
        "applied_known, state, last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (challenge_id) DO UPDATE SET group_name = excluded.group_name, "
        "desired_days = excluded.desired_days, applied_days = excluded.applied_days, "
        "applied_known = excluded.applied_known, state = excluded.state, "
        "last_error = excluded.last_error, updated_at = excluded.updated_at",
        {o.challenge_id, o.log_group, desired, applied, std::int64_t{o.applied_known ? 1 : 0},
         o.state, last_error.empty() ? SqlNull() : SqlValue(last_error), ToUnix(now)}));
  }
  // The first reconcile of a group is its origin (ADR 0004): from now on lines may be stored.
  RETURN_IF_ERROR(RecordLogGroupOrigin(*conn, o.log_group, now));
  if (o.changed) {
    AuditEvent e;
    e.ledger = "admin";
    e.challenge_id = o.challenge_id;
    e.actor = "system";
    e.action = "log_retention_applied";
    e.notes = o.log_group + ": " + DaysText(o.applied_days) + " (was " +
              (o.group_exists ? DaysText(o.actual_days) : std::string("a new group")) + "); " +
              o.explanation;
    e.at = now;
    RETURN_IF_ERROR(AppendAuditEvent(*conn, std::move(e)).status());
  }
  return tx.Commit();
}

Result<std::optional<LogRetentionSync::Inputs>> LogRetentionSync::ReadInputs(
    std::int64_t challenge_id) {
  auto conn = ctx_->db->Lock();
  ASSIGN_OR_RETURN(auto row, conn->QueryOne(kInputsQuery,
                                            {LogGroupName(challenge_id, ctx_->settings.environment),
                                             challenge_id}));
  if (!row) return std::optional<Inputs>();
  Inputs in;
  in.challenge_id = challenge_id;
  in.has_consent = row->Bool(1);
  if (auto d = row->OptInt(2)) in.override_days = static_cast<int>(*d);
  in.start = OptTime(*row, 3);
  in.lines_since = OptTime(*row, 5);
  ASSIGN_OR_RETURN(in.horizon,
                   ReadLogHorizon(*conn, ctx_->settings, challenge_id, in.override_days));
  return std::optional<Inputs>(std::move(in));
}

Result<LogReconcileOutcome> LogRetentionSync::ReconcileChallenge(std::int64_t challenge_id,
                                                                 TimePoint now) {
  std::lock_guard<std::mutex> reconciling(reconcile_mu_);
  ASSIGN_OR_RETURN(std::optional<Inputs> read, ReadInputs(challenge_id));
  if (!read) return NotFound("challenge " + std::to_string(challenge_id) + " does not exist");
  const Inputs& in = *read;
  Actual actual;
  const std::string group = LogGroupName(challenge_id, ctx_->settings.environment);
  auto described = backend_->Describe(group);
  if (described.ok()) {
    actual.known = true;
    actual.exists = described->has_value();
    if (actual.exists) actual.days = (*described)->retention_days;
  } else {
    actual.error = described.status().WithContext("describe log group " + group);
  }
  auto outcome = Apply(in, actual, now);
  if (!outcome.ok()) {
    return outcome.status().WithContext("log retention of challenge " +
                                        std::to_string(challenge_id));
  }
  return outcome;
}

Result<json> LogRetentionSync::ReconcileAll(TimePoint now) {
  std::lock_guard<std::mutex> reconciling(reconcile_mu_);
  std::vector<std::int64_t> challenge_ids;
  {
    auto conn = ctx_->db->Lock();
    ASSIGN_OR_RETURN(auto rows, conn->Query("SELECT id FROM challenges ORDER BY id"));
    challenge_ids.reserve(rows.size());
    for (const auto& r : rows) challenge_ids.push_back(r.Int(0));
  }
  auto listed = backend_->List(kGroupPrefix);
  if (!listed.ok()) {
    return listed.status().WithContext("list log groups with prefix " + std::string(kGroupPrefix));
  }
  std::map<std::string, std::optional<int>, std::less<>> groups;
  for (const auto& g : *listed) groups.emplace(g.name, g.retention_days);

  std::int64_t processed = 0, changed = 0, in_step = 0, pending = 0, failed = 0;
  json changes = json::array();
  json errors = json::array();
  EnforceReport enforced;
  std::set<std::string> challenge_groups;  // enforced (or left alone) with their challenge
  auto enforce = [&](const std::string& group, std::optional<std::int64_t> challenge_id) {
    auto one = options_.log_store->EnforceGroup(group, now);
    if (!one.ok()) {
      ++failed;
      errors.push_back(
          {{"challenge_id", challenge_id ? json(*challenge_id) : json()},
           {"log_group", group},
           {"error", one.status().WithContext("enforce local log retention").ToString()}});
      return;
    }
    enforced.groups_with_policy += one->groups_with_policy;
    enforced.segments_removed += one->segments_removed;
    enforced.segments_rewritten += one->segments_rewritten;
    enforced.lines_removed += one->lines_removed;
    enforced.bytes_freed += one->bytes_freed;
  };

  for (const std::int64_t id : challenge_ids) {
    const std::string group = LogGroupName(id, ctx_->settings.environment);
    challenge_groups.insert(group);
    Actual actual;
    actual.known = true;
    const auto it = groups.find(group);
    actual.exists = it != groups.end();
    if (actual.exists) actual.days = it->second;
    // The challenge's state as of now, read right before its group is written: a withdrawal (or
    // any other change) committed while earlier challenges were reconciled counts.
    ASSIGN_OR_RETURN(std::optional<Inputs> in, ReadInputs(id));
    if (!in) continue;  // gone since the list was read
    ++processed;
    std::optional<LogReconcileOutcome> last;
    bool settled = false;
    for (int round = 0; round < kEnforceRounds && !settled; ++round) {
      ASSIGN_OR_RETURN(LogReconcileOutcome o, Apply(*in, actual, now));
      if (o.changed) {
        ++changed;
        changes.push_back({{"challenge_id", o.challenge_id},
                           {"log_group", o.log_group},
                           {"from_days", o.group_exists ? OptDays(o.actual_days) : json()},
                           {"to_days", OptDays(o.applied_days)}});
      }
      const bool applied = o.state == "in_step";
      last = std::move(o);
      if (options_.log_store == nullptr || !applied) break;
      // Enforce with the state as of enforcement: when the desired policy moved since it was
      // applied (consent withdrawn, override changed), apply the new one first, so that no line
      // is purged under a policy the database no longer wants.
      ASSIGN_OR_RETURN(in, ReadInputs(id));
      if (!in) break;
      if (Desire(*in, now).days == last->applied_days) {
        settled = true;
      } else {
        actual.exists = true;
        actual.days = last->applied_days;
      }
    }
    if (settled) enforce(group, id);
    const LogReconcileOutcome& o = *last;
    if (o.state == "in_step") {
      ++in_step;
    } else if (o.state == "pending") {
      ++pending;
    } else {
      ++failed;
      errors.push_back({{"challenge_id", o.challenge_id},
                        {"log_group", o.log_group},
                        {"error", o.error.ToString()}});
    }
  }
  json result{{"processed", processed}, {"checked", processed}, {"changed", changed},
              {"in_step", in_step},     {"pending", pending},   {"changes", changes}};
  if (options_.log_store != nullptr) {
    // Groups that belong to no challenge of this environment keep their stored policy.
    auto all = options_.log_store->List("");
    if (all.ok()) {
      for (const auto& g : *all) {
        if (!challenge_groups.contains(g.name)) enforce(g.name, std::nullopt);
      }
    } else {
      ++failed;
      errors.push_back(
          {{"challenge_id", json()},
           {"log_group", json()},
           {"error", all.status().WithContext("enforce local log retention").ToString()}});
    }
    result["enforcement"] = {{"groups_with_policy", enforced.groups_with_policy},
                             {"segments_removed", enforced.segments_removed},
                             {"segments_rewritten", enforced.segments_rewritten},
                             {"lines_removed", enforced.lines_removed},
                             {"bytes_freed", enforced.bytes_freed}};
  }
  result["deleted"] = enforced.lines_removed;
  result["failed"] = failed;
  result["errors"] = errors;
  return result;
}

void LogRetentionSync::RunTrigger(std::int64_t challenge_id) {
  auto o = ReconcileChallenge(challenge_id, ctx_->clock->Now());
  if (!options_.on_trigger_error) return;
  if (!o.ok()) {
    options_.on_trigger_error(o.status());
  } else if (o->state == "error") {
    options_.on_trigger_error(
        o->error.WithContext("log retention of challenge " + std::to_string(challenge_id)));
  }
}

void LogRetentionSync::Trigger(std::int64_t challenge_id) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (worker_running_) {
      if (queued_.insert(challenge_id).second) {
        queue_.push_back(challenge_id);
        queue_cv_.notify_one();
      }
      return;
    }
  }
  RunTrigger(challenge_id);
}

void LogRetentionSync::StartWorker() {
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (worker_running_) return;
  worker_running_ = true;
  stopping_ = false;
  worker_ = std::thread([this] { WorkerLoop(); });
}

void LogRetentionSync::StopWorker() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!worker_running_) return;
    stopping_ = true;
    queue_cv_.notify_all();
  }
  worker_.join();
  std::lock_guard<std::mutex> lock(queue_mu_);
  worker_running_ = false;
  stopping_ = false;
}

void LogRetentionSync::WaitIdle() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void LogRetentionSync::WorkerLoop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything queued is done
    const std::int64_t id = queue_.front();
    queue_.pop_front();
    // Unmark before reconciling: a trigger arriving meanwhile may carry newer inputs.
    queued_.erase(id);
    busy_ = true;
    lock.unlock();
    RunTrigger(id);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
  idle_cv_.notify_all();
}

Result<json> LogRetentionSync::ChallengeEvent(std::int64_t challenge_id, const std::string& event) {
  if (event != "approved" && event != "worker_restarted" && event != "task_definition_registered") {
    return InvalidArgument("event '" + event +
                           "' must be approved, worker_restarted or task_definition_registered");
  }
  {
    auto conn = ctx_->db->Lock();
    ASSIGN_OR_RETURN(auto row,
                     conn->QueryOne("SELECT id FROM challenges WHERE id = ?", {challenge_id}));
    if (!row) return NotFound("challenge " + std::to_string(challenge_id) + " does not exist");
  }
  const std::string group = LogGroupName(challenge_id, ctx_->settings.environment);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (worker_running_) {
      if (queued_.insert(challenge_id).second) {
        queue_.push_back(challenge_id);
        queue_cv_.notify_one();
      }
      return json{{"log_group", group}, {"queued", true}};
    }
  }
  ASSIGN_OR_RETURN(auto o, ReconcileChallenge(challenge_id, ctx_->clock->Now()));
  json j = LogReconcileOutcomeJson(o);
  j["queued"] = false;
  return j;
}

Result<json> LogRetentionSync::IngestLogLines(const std::string& group, const json& lines) {
  if (options_.log_store == nullptr) {
    return FailedPrecondition("log lines go to " + backend_->Url() +
                              " directly; only the local log store ingests them");
  }
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  if (!lines.is_array()) return InvalidArgument("'lines' must be an array of {timestamp, message}");
  std::vector<LogLine> parsed;
  parsed.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json& l = lines[i];
    const std::string where = "lines[" + std::to_string(i) + "]";
    if (!l.is_object()) return InvalidArgument(where + " must be an object");
    for (const auto& [key, value] : l.items()) {
      if (key != "timestamp" && key != "message") {
        return InvalidArgument(where + ": unknown field '" + key + "'");
      }
    }
    if (!l.contains("timestamp") || !l["timestamp"].is_string()) {
      return InvalidArgument(where + ".timestamp must be an RFC 3339 string");
    }
    if (!l.contains("message") || !l["message"].is_string()) {
      return InvalidArgument(where + ".message must be a string");
    }
    auto t = ParseTime(l["timestamp"].get<std::string>());
    if (!t.ok()) return t.status().WithContext(where + ".timestamp");
    parsed.push_back(LogLine{*t, l["message"].get<std::string>()});
  }
  const TimePoint now = ctx_->clock->Now();
  {
    // The group's origin first (ADR 0004): a line is never stored before it, so the before-E
    // policy covers it. Recorded before the lines, so a failure stores nothing.
    auto conn = ctx_->db->Lock();
    RETURN_IF_ERROR(RecordLogGroupOrigin(*conn, group, now).WithContext("log group " + group));
  }
  RETURN_IF_ERROR(options_.log_store->Ingest(group, parsed, now));
  return json{{"log_group", group}, {"ingested", static_cast<std::int64_t>(parsed.size())}};
}

Result<json> LogRetentionSync::ReadLogLines(const std::string& group, const std::string& from,
                                            const std::string& to, int limit) {
  if (options_.log_store == nullptr) {
    return FailedPrecondition("log lines are kept by " + backend_->Url() +
                              "; only the local log store serves them");
  }
  RETURN_IF_ERROR(ValidateLogGroupName(group));
  if (limit < 1 || limit > 100000) {
    return InvalidArgument("limit " + std::to_string(limit) + " is out of range 1-100000");
  }
  TimePoint begin = FromUnix(0);
  TimePoint end = FromUnix(253402300800);  // 10000-01-01T00:00:00Z
  if (!from.empty()) {
    auto t = ParseTime(from);
    if (!t.ok()) return t.status().WithContext("from");
    begin = *t;
  }
  if (!to.empty()) {
    auto t = ParseTime(to);
    if (!t.ok()) return t.status().WithContext("to");
    end = *t;
  }
  ASSIGN_OR_RETURN(auto lines,
                   options_.log_store->Read(group, begin, end, static_cast<std::size_t>(limit)));
  json out = json::array();
  for (const auto& l : lines) {
    out.push_back({{"timestamp", FormatTime(l.timestamp)}, {"message", l.message}});
  }
  return json{
      {"log_group", group}, {"lines", out}, {"count", static_cast<std::int64_t>(lines.size())}};
}

}  // namespace retention
