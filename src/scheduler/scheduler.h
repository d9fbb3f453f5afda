// The scheduler of DESIGN.md section 4: runs the jobs of jobs/jobs.h at their cron slots (UTC),
// persists every run in job_runs, and makes each slot run exactly once across processes that share
// one database.
//
// Exactly once: a run starts in one write transaction (SQLite: BEGIN IMMEDIATE) that takes or
// renews the job's lease row in job_locks, checks that no run of the job for the slot is running
// or succeeded, and inserts the run as 'running'. The lease is renewed while the run lasts and
// released when it ends. A lease is free when it has expired, is held by this owner, or is held by
// a dead owner (a process of this host whose pid is gone); taking a free lease marks the runs its
// previous owner left 'running' as 'interrupted'.
//
// Catch-up: at start-up (Recover) a job whose latest slot has no running or succeeded run runs
// once for that slot (trigger 'catchup'), whatever the number of slots missed, but only when the
// job already has a scheduled history, so a fresh install does not sweep on its first start.
//
// Owners are "pid@host", optionally followed by "#tag" (two schedulers in one process, as in
// tests).
//
// Thread-safety: Tick and Recover must not be called concurrently on one Scheduler; Start runs
// them on a background thread, after which only Stop may be called. The free functions are
// thread-safe (they go through the Database lease).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/status.h"
#include "core/time.h"
#include "jobs/jobs.h"

namespace retention {

struct SchedulerOptions {
  // The owner recorded in job_runs and job_locks. Empty: "pid@host".
  std::string owner;
  // How long a lease lasts without renewal; a crashed owner on another host blocks its job this
  // long at most.
  std::chrono::seconds lease_ttl{300};
  // How often a running job renews its lease, on a helper thread (0: never; Tick in tests).
  std::chrono::seconds renew_every{60};
  // How often the background thread of Start() ticks.
  std::chrono::milliseconds tick_interval{1000};
};

class Scheduler {
 public:
  // `env.service` (database, clock) must outlive the Scheduler; env.schedule holds the crons.
  explicit Scheduler(JobEnvironment env, SchedulerOptions options = {});
  ~Scheduler();  // Stop()s.
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Start-up work at `now`: marks runs left 'running' by dead owners (or with an expired lease)
  // as 'interrupted', runs each job whose latest slot was missed once (trigger 'catchup'), and
  // arms Tick so that only slots after `now` fire. Returns the first database error; a failing
  // job is recorded as a failed run, not returned.
  Status Recover(TimePoint now);

  // Runs, one after the other (in kJobNames order), every job whose slot became due since the
  // previous Tick or Recover (the latest such slot only). Each slot is attempted at most once by
  // this Scheduler. Calls Recover(now) first if it has not run. Deterministic: no threads unless
  // options.renew_every > 0 (a lease-renewal helper while a job runs).
  Status Tick(TimePoint now);

  // Starts a background thread that calls Recover and then Tick about every tick_interval with
  // the service clock's time. Errors are logged on stderr and retried at the next tick.
  void Start();
  // Asks the current job to stop (the sweep finishes its batch; the run is recorded as
  // 'interrupted'), then joins the thread. Idempotent.
  void Stop();

  // The stop flag, set by Stop(); also honoured by RunJobNow when passed along.
  const std::atomic<bool>* stop_flag() const { return &stop_; }
  const std::string& owner() const { return options_.owner; }
  const JobEnvironment& env() const { return env_; }

  // Runs of this Scheduler so far (for tests and logs): job name -> count.
  const std::map<std::string, int>& runs_started() const { return runs_started_; }

 private:
  Status RunSlot(const std::string& job, TimePoint slot, const char* trigger);
  void Loop();

  JobEnvironment env_;
  SchedulerOptions options_;
  bool recovered_ = false;
  std::map<std::string, TimePoint> armed_;  // per job: the latest slot already handled
  std::map<std::string, int> runs_started_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

// "pid@host" of this process.
std::string DefaultOwner();

// The outcome of one attempt to run a job.
// NOLINTNEXTLINE(bugprone-exception-escape): only nlohmann::json's allocation can throw here.
struct JobRunOutcome {
  bool ran = false;         // false: another owner holds the job, or the slot is done
  std::string why_not;      // when !ran: "lease held by OWNER until T" / "slot already done"
  std::int64_t run_id = 0;  // when ran
  std::string status;       // succeeded | failed | interrupted
  nlohmann::json result;    // the job's result, or {"error": "..."} when it failed
};

// Runs `job` once now, persisted in job_runs with `trigger` ('schedule', 'manual', 'catchup') and
// `slot` (nullopt for manual runs), under the job's lease (see the top of this file). Runs to the
// end in the caller's thread unless `stop` is set. Returns a database error when the run could not
// be started or recorded; the job's own failure is an outcome with status 'failed'.
Result<JobRunOutcome> RunJobOnce(const JobEnvironment& env, const SchedulerOptions& options,
                                 const std::string& job, const char* trigger,
                                 std::optional<TimePoint> slot, const std::atomic<bool>* stop);

// Every job: {"jobs": [{"name", "cron", "next_run", "last_run": {...} | null,
// "last_success": {...} | null}]}, at the service clock's now.
Result<nlohmann::json> ListJobs(const JobEnvironment& env);

// Runs job `name` now in the caller's thread (trigger 'manual'), after recording the admin action
// "job_run" by `actor` in the audit chain. NotFound for an unknown job; Aborted when another owner
// holds the job's lease (it is running elsewhere). Returns {"run_id", "job", "status", "result"}.
Result<nlohmann::json> RunJobNow(const JobEnvironment& env, std::string_view name,
                                 const std::string& actor, const std::atomic<bool>* stop = nullptr,
                                 const SchedulerOptions& options = {});

// The latest runs, newest first, of one job (or all when `job` is empty), at most `limit`
// (1..1000): {"runs": [{"id", "job", "trigger", "slot", "owner", "started_at", "finished_at",
// "status", "result"}]}. InvalidArgument for a limit out of range; NotFound for an unknown job.
Result<nlohmann::json> ListJobRuns(const JobEnvironment& env, const std::string& job, int limit);

}  // namespace retention
