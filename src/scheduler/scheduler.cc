#include "scheduler/scheduler.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <iostream>
#include <vector>

#include "service/service.h"

namespace retention {
namespace {

using nlohmann::json;

constexpr int kFinishTries = 5;
constexpr int kMaxRunsListed = 1000;
// How often a running job's lease renewer looks at the caller's stop flag.
constexpr std::chrono::milliseconds kStopPoll{100};

std::string HostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// True when `owner` ("pid@host[#tag]") names a process of this host that no longer exists.
bool OwnerIsDead(const std::string& owner) {
  const auto at = owner.find('@');
  if (at == std::string::npos || at == 0) return false;
  const auto hash = owner.find('#', at);
  const std::string host =
      owner.substr(at + 1, hash == std::string::npos ? std::string::npos : hash - at - 1);
  if (host != HostName()) return false;
  std::int64_t pid = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (owner[i] < '0' || owner[i] > '9') return false;
    pid = pid * 10 + (owner[i] - '0');
    if (pid > INT_MAX) return false;
  }
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string OwnerOf(const SchedulerOptions& options) {
  return options.owner.empty() ? DefaultOwner() : options.owner;
}

void LogLine(const std::string& line) { std::cerr << "retention: scheduler: " << line << '\n'; }

// Marks every 'running' run of `job` interrupted, except those of `keep_owner`.
Status InterruptStaleRuns(SqlConnection& conn, const std::string& job,
                          const std::optional<std::string>& keep_owner, TimePoint now,
                          const std::string& why) {
  const std::string result = json{{"interrupted", true}, {"error", why}}.dump();
  if (keep_owner) {
    return conn
        .Exec(
            "UPDATE job_runs SET status = 'interrupted', finished_at = ?, result = ? WHERE "
            "job = ? AND status = 'running' AND owner <> ?",
            {ToUnix(now), result, job, *keep_owner})
        .status();
  }
  return conn
      .Exec(
          "UPDATE job_runs SET status = 'interrupted', finished_at = ?, result = ? WHERE job = "
          "? AND status = 'running'",
          {ToUnix(now), result, job})
      .status();
}

json ParseResult(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(text) : j;
}

json RunRowJson(const SqlRow& r) {
  // id, job, trigger, slot, owner, started_at, finished_at, status, result
  return json{{"id", r.Int(0)},
              {"job", r.Text(1)},
              {"trigger", r.Text(2)},
              {"slot", r.OptInt(3) ? json(FormatTime(FromUnix(*r.OptInt(3)))) : json()},
              {"owner", r.Text(4)},
              {"started_at", FormatTime(FromUnix(r.Int(5)))},
              {"finished_at", r.OptInt(6) ? json(FormatTime(FromUnix(*r.OptInt(6)))) : json()},
              {"status", r.Text(7)},
              {"result", ParseResult(r.Text(8))}};
}

constexpr const char* kRunColumns =
    "SELECT id, job, trigger, slot, owner, started_at, finished_at, status, result FROM job_runs ";

// Renews a lease on a helper thread while a run lasts, and stops the run when the lease was lost
// (another owner took it after it expired: the holder was too slow to renew, or was paused). The
// job is given stop(): set when the caller's `stop` is, or when a renewal found the lease gone;
// the run then ends after its current batch and is recorded 'interrupted'.
class LeaseRenewer {
 public:
  LeaseRenewer(const JobEnvironment& env, const SchedulerOptions& options, std::string job,
               std::string owner, const std::atomic<bool>* outer_stop) {
    if (options.renew_every.count() <= 0) {
      stop_ptr_ = outer_stop;
      return;
    }
    thread_ = std::thread([this, &env, options, job = std::move(job), owner = std::move(owner),
                           outer_stop] {
      std::unique_lock<std::mutex> lock(mu_);
      auto next = std::chrono::steady_clock::now() + options.renew_every;
      while (!cv_.wait_for(lock, kStopPoll, [this] { return done_; })) {
        if (outer_stop != nullptr && outer_stop->load()) stop_ = true;
        if (std::chrono::steady_clock::now() < next) continue;
        next = std::chrono::steady_clock::now() + options.renew_every;
        lock.unlock();
        {
          auto conn = env.service->db->Lock();
          auto r = conn->Exec("UPDATE job_locks SET expires_at = ? WHERE job = ? AND owner = ?",
                              {ToUnix(env.service->clock->Now() + options.lease_ttl), job, owner});
          if (!r.ok()) {
            LogLine("renew lease of " + job + ": " + r.status().ToString());
          } else if (*r == 0) {
            LogLine("lease of " + job +
                    " lost (another replica took it after it expired): "
                    "stopping the run after its current batch");
            stop_ = true;
          }
        }
        lock.lock();
      }
    });
  }
  ~LeaseRenewer() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

  // The flag to give the job.
  const std::atomic<bool>* stop() const { return stop_ptr_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> stop_{false};
  const std::atomic<bool>* stop_ptr_ = &stop_;
  std::thread thread_;
};

}  // namespace

std::string DefaultOwner() { return std::to_string(getpid()) + "@" + HostName(); }

Result<JobRunOutcome> RunJobOnce(const JobEnvironment& env, const SchedulerOptions& options,
                                 const std::string& job, const char* trigger,
                                 std::optional<TimePoint> slot, const std::atomic<bool>* stop) {
  if (!IsJobName(job)) return NotFound("unknown job '" + job + "'");
  if (!JobRegistered(env, job)) {
    return FailedPrecondition("job " + job + " runs only when evalai.url is set");
  }
  const std::string owner = OwnerOf(options);
  const TimePoint started = env.service->clock->Now();
  JobRunOutcome outcome;
  {
    auto conn = env.service->db->Lock();
    ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
    ASSIGN_OR_RETURN(
        auto lease, conn->QueryOne("SELECT owner, expires_at FROM job_locks WHERE job = ?", {job}));
    if (lease && lease->Int(1) > ToUnix(started) && !OwnerIsDead(lease->Text(0))) {
      outcome.why_not = "job " + job + " is running: lease held by " + lease->Text(0) + " until " +
                        FormatTime(FromUnix(lease->Int(1)));
      return outcome;
    }
    // The lease is free: nobody legitimately runs this job, so a 'running' run is stale.
    RETURN_IF_ERROR(InterruptStaleRuns(
        *conn, job, std::nullopt, started,
        lease ? "owner " + lease->Text(0) + " died or its lease expired during the run"
              : "the run's owner died or lost its lease"));
    if (slot) {
      ASSIGN_OR_RETURN(auto done,
                       conn->QueryOne("SELECT id FROM job_runs WHERE job = ? AND slot = ? AND "
                                      "status IN ('running', 'succeeded')",
                                      {job, ToUnix(*slot)}));
      if (done) {
        RETURN_IF_ERROR(tx.Commit());
        outcome.why_not = "slot " + FormatTime(*slot) + " of " + job + " already ran (run " +
                          std::to_string(done->Int(0)) + ")";
        return outcome;
      }
    }
    RETURN_IF_ERROR(conn->Exec(
        "INSERT INTO job_locks (job, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (job) DO "
        "UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
        {job, owner, ToUnix(started + options.lease_ttl)}));
    ASSIGN_OR_RETURN(
        auto row,
        conn->QueryOne("INSERT INTO job_runs (job, trigger, slot, owner, started_at, status, "
                       "result) VALUES (?, ?, ?, ?, ?, 'running', '{}') RETURNING id",
                       {job, std::string(trigger), slot ? SqlValue(ToUnix(*slot)) : SqlNull(),
                        owner, ToUnix(started)}));
    if (!row) return Internal("start run of " + job + ": insert returned no id");
    outcome.run_id = row->Int(0);
    RETURN_IF_ERROR(tx.Commit());
  }
  outcome.ran = true;

  Result<json> result = json();
  {
    LeaseRenewer renewer(env, options, job, owner, stop);
    result = RunJob(env, job, started, renewer.stop());
  }
  if (result.ok()) {
    outcome.result = std::move(result).value();
    const bool interrupted =
        outcome.result.is_object() && outcome.result.value("interrupted", false);
    outcome.status = interrupted ? "interrupted" : "succeeded";
  } else {
    outcome.status = "failed";
    outcome.result = json{{"error", result.status().ToString()}};
    LogLine("run " + std::to_string(outcome.run_id) + " of " + job +
            " failed: " + result.status().ToString());
  }

  Status last;
  for (int i = 0; i < kFinishTries; ++i) {
    auto conn = env.service->db->Lock();
    auto tx = Transaction::Start(*conn, TxMode::kWrite);
    if (!tx.ok()) {
      last = tx.status();
      continue;
    }
    last = conn->Exec("UPDATE job_runs SET status = ?, finished_at = ?, result = ? WHERE id = ?",
                      {outcome.status, ToUnix(env.service->clock->Now()), outcome.result.dump(),
                       outcome.run_id})
               .status();
    if (last.ok()) {
      last = conn->Exec("DELETE FROM job_locks WHERE job = ? AND owner = ?", {job, owner}).status();
    }
    if (last.ok()) last = tx->Commit();
    if (last.ok() || last.code() != StatusCode::kAborted) break;
  }
  if (!last.ok()) {
    return last.WithContext("record the end of run " + std::to_string(outcome.run_id) + " of " +
                            job + " (" + outcome.status + ")");
  }
  return outcome;
}

Scheduler::Scheduler(JobEnvironment env, SchedulerOptions options)
    : env_(std::move(env)), options_(std::move(options)) {
  if (options_.owner.empty()) options_.owner = DefaultOwner();
}

Scheduler::~Scheduler() { Stop(); }

Status Scheduler::RunSlot(const std::string& job, TimePoint slot, const char* trigger) {
  ASSIGN_OR_RETURN(JobRunOutcome outcome, RunJobOnce(env_, options_, job, trigger, slot, &stop_));
  if (outcome.ran) {
    ++runs_started_[job];
  } else if (outcome.why_not.find("lease held") != std::string::npos) {
    return Status::Ok();  // not armed: tried again at the next tick, when the holder is done
  }
  armed_[job] = slot;
  return Status::Ok();
}

Status Scheduler::Recover(TimePoint now) {
  Status first;
  for (std::string_view name : kJobNames) {
    if (!JobRegistered(env_, name)) continue;
    const std::string job(name);
    {
      auto conn = env_.service->db->Lock();
      ASSIGN_OR_RETURN(auto tx, Transaction::Start(*conn, TxMode::kWrite));
      ASSIGN_OR_RETURN(
          auto lease,
          conn->QueryOne("SELECT owner, expires_at FROM job_locks WHERE job = ?", {job}));
      std::optional<std::string> live_holder;
      if (lease && lease->Int(1) > ToUnix(now) && !OwnerIsDead(lease->Text(0)) &&
          lease->Text(0) != options_.owner) {
        live_holder = lease->Text(0);
      }
      RETURN_IF_ERROR(InterruptStaleRuns(*conn, job, live_holder, now,
                                         "found running at start-up; its owner died or lost "
                                         "its lease"));
      if (!live_holder && lease) {
        RETURN_IF_ERROR(conn->Exec("DELETE FROM job_locks WHERE job = ?", {job}));
      }
      RETURN_IF_ERROR(tx.Commit());
    }
    auto cron = env_.schedule.find(job);
    if (cron == env_.schedule.end()) continue;
    const std::optional<TimePoint> latest = cron->second.LatestAtOrBefore(now);
    if (!latest) continue;
    bool has_history = false;
    bool done = false;
    {
      auto conn = env_.service->db->Lock();
      ASSIGN_OR_RETURN(auto h, conn->QueryOne("SELECT 1 FROM job_runs WHERE job = ? AND trigger "
                                              "IN ('schedule', 'catchup') LIMIT 1",
                                              {job}));
      has_history = h.has_value();
      ASSIGN_OR_RETURN(auto d, conn->QueryOne("SELECT 1 FROM job_runs WHERE job = ? AND slot = ? "
                                              "AND status IN ('running', 'succeeded') LIMIT 1",
                                              {job, ToUnix(*latest)}));
      done = d.has_value();
    }
    if (has_history && !done) {
      if (Status s = RunSlot(job, *latest, "catchup"); !s.ok() && first.ok()) first = s;
    } else {
      armed_[job] = *latest;
    }
  }
  recovered_ = true;
  return first;
}

Status Scheduler::Tick(TimePoint now) {
  if (!recovered_) RETURN_IF_ERROR(Recover(now));
  Status first;
  for (std::string_view name : kJobNames) {
    if (stop_.load()) break;
    const std::string job(name);
    auto cron = env_.schedule.find(job);
    if (cron == env_.schedule.end()) continue;
    const std::optional<TimePoint> latest = cron->second.LatestAtOrBefore(now);
    if (!latest) continue;
    auto armed = armed_.find(job);
    if (armed != armed_.end() && *latest <= armed->second) continue;
    if (Status s = RunSlot(job, *latest, "schedule"); !s.ok() && first.ok()) {
      first = s.WithContext(job + " slot " + FormatTime(*latest));
    }
  }
  return first;
}

void Scheduler::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_.load()) {
    lock.unlock();
    const Status s = Tick(env_.service->clock->Now());
    if (!s.ok()) LogLine(s.ToString());
    lock.lock();
    cv_.wait_for(lock, options_.tick_interval, [this] { return stop_.load(); });
  }
}

Result<json> ListJobs(const JobEnvironment& env) {
  const TimePoint now = env.service->clock->Now();
  json jobs = json::array();
  auto conn = env.service->db->Lock();
  for (std::string_view name : kJobNames) {
    if (!JobRegistered(env, name)) continue;
    const std::string job(name);
    json j{{"name", job}};
    auto cron = env.schedule.find(job);
    if (cron != env.schedule.end()) {
      j["cron"] = cron->second.expression();
      const TimePoint next = cron->second.NextAfter(now);
      j["next_run"] = next == TimePoint::max() ? json() : json(FormatTime(next));
    } else {
      j["cron"] = nullptr;
      j["next_run"] = nullptr;
    }
    ASSIGN_OR_RETURN(
        auto last,
        conn->QueryOne(std::string(kRunColumns) + "WHERE job = ? ORDER BY id DESC LIMIT 1", {job}));
    j["last_run"] = last ? RunRowJson(*last) : json();
    ASSIGN_OR_RETURN(auto ok, conn->QueryOne(std::string(kRunColumns) +
                                                 "WHERE job = ? AND status = 'succeeded' ORDER "
                                                 "BY id DESC LIMIT 1",
                                             {job}));
    j["last_success"] = ok ? json(FormatTime(FromUnix(ok->Int(6)))) : json();
    jobs.push_back(j);
  }
  return json{{"now", FormatTime(now)}, {"jobs", jobs}};
}

Result<json> RunJobNow(const JobEnvironment& env, std::string_view name, const std::string& actor,
                       const std::atomic<bool>* stop, const SchedulerOptions& options) {
  if (!IsJobName(name)) {
    return NotFound("unknown job '" + std::string(name) +
                    "' (known: cleanup_expired_submission_artifacts, "
                    "weekly_retention_notifications_and_consent_log, "
                    "update_submission_retention_dates, reconcile_log_retention, "
                    "sync_evalai)");
  }
  if (!JobRegistered(env, name)) {
    return FailedPrecondition("job " + std::string(name) + " runs only when evalai.url is set");
  }
  const std::string job(name);
  RETURN_IF_ERROR(
      RecordAdminAction(*env.service, std::nullopt, actor, "job_run", "manual run of " + job));
  ASSIGN_OR_RETURN(JobRunOutcome outcome,
                   RunJobOnce(env, options, job, "manual", std::nullopt, stop));
  if (!outcome.ran) return Aborted(outcome.why_not);
  return json{{"run_id", outcome.run_id},
              {"job", job},
              {"status", outcome.status},
              {"result", outcome.result}};
}

Result<json> ListJobRuns(const JobEnvironment& env, const std::string& job, int limit) {
  if (limit < 1 || limit > kMaxRunsListed) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxRunsListed));
  }
  if (!job.empty() && !IsJobName(job)) return NotFound("unknown job '" + job + "'");
  auto conn = env.service->db->Lock();
  ASSIGN_OR_RETURN(
      auto rows,
      job.empty() ? conn->Query(std::string(kRunColumns) + "ORDER BY id DESC LIMIT ?",
                                {std::int64_t{limit}})
                  : conn->Query(std::string(kRunColumns) + "WHERE job = ? ORDER BY id DESC LIMIT ?",
                                {job, std::int64_t{limit}}));
  json runs = json::array();
  for (const SqlRow& r : rows) runs.push_back(RunRowJson(r));
  return json{{"runs", runs}};
}

}  // namespace retention
