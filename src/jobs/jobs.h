// The four jobs of DESIGN.md section 4, as plain functions the scheduler, the CLI (`jobs run`,
// `notify`) and the API call. A job does its work through the service functions and returns a
// result like the seed's: counts of processed, deleted and failed items, the errors, and what it
// skipped and why.
//
// Thread-safety: RunJob may be called from several threads at once with the same environment
// (the service functions guard the database); the MailSender must then be thread-safe too (the
// SMTP adapter is).
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/status.h"
#include "core/time.h"
#include "domain/cron.h"
#include "notify/mail.h"
#include "service/service.h"

namespace retention {

class LogRetentionSync;  // service/log_retention_sync.h
class EvalaiSource;      // service/evalai_sync.h

inline constexpr std::string_view kCleanupJob = "cleanup_expired_submission_artifacts";
inline constexpr std::string_view kNotificationsJob =
    "weekly_retention_notifications_and_consent_log";
inline constexpr std::string_view kUpdateDatesJob = "update_submission_retention_dates";
inline constexpr std::string_view kReconcileLogsJob = "reconcile_log_retention";
inline constexpr std::string_view kSyncEvalaiJob = "sync_evalai";

// Every job, in the order the scheduler considers them when several are due at once: EvalAI's
// data is read first, dates are recomputed before notices are planned, and notices are queued
// before a sweep looks at them. sync_evalai exists only when evalai.url is set (JobRegistered).
inline constexpr std::array<std::string_view, 5> kJobNames = {
    kSyncEvalaiJob, kUpdateDatesJob, kNotificationsJob, kCleanupJob, kReconcileLogsJob};

// True when `name` is one of kJobNames.
bool IsJobName(std::string_view name);

// Everything a job needs. Plain struct; the pointers must outlive every use.
struct JobEnvironment {
  // The service context (database, artifact store, clock, settings). Required.
  ServiceContext* service = nullptr;
  // Hands notices to a mail server. nullptr: mail stays in the outbox, and queuing a notice
  // counts as sending it (the outbox is the transport of a single-machine install, DESIGN.md 1).
  MailSender* mail = nullptr;
  // The From of notices; empty: the sender's default.
  std::string mail_from;
  // The link in notices; "{id}" is replaced by the challenge id.
  std::string challenge_url = "http://127.0.0.1:8000/challenges/{id}";
  // The cron of every job, by job name (UTC). A job without an entry is never scheduled; the
  // notifications job needs its own cron and the cleanup cron to plan notices.
  std::map<std::string, CronSchedule, std::less<>> schedule;
  // R8 for every challenge: the reconcile_log_retention job runs its ReconcileAll(). Not owned.
  // nullptr: the job succeeds with {"skipped": "no log backend"}.
  LogRetentionSync* log_sync = nullptr;
  // EvalAI's database (DESIGN.md 7b) when evalai.url is set: the sync_evalai job reads it, and
  // with evalai.write_back the sweep's job writes its deletions back. Not owned; nullptr: there is
  // no sync_evalai job.
  EvalaiSource* evalai = nullptr;
  // Called between batches of long jobs (the sweep) from the job's thread, possibly while the
  // database lease is held: it must not lock the Database. May be empty.
  std::function<void()> progress;
};

// True when job `name` exists in `env`: one of kJobNames, and sync_evalai only with env.evalai.
bool JobRegistered(const JobEnvironment& env, std::string_view name);

// Builds an environment from the configuration: parses every cron of config.schedule (UTC) and
// copies the mail and link settings; sets `service`'s notice and sweep crons (the projection of
// the schedule follows them). `service` must outlive the environment; `mail` may be null.
// Returns InvalidArgument naming the job and the cron when one does not parse, or when a cron is
// given for an unknown job.
Result<JobEnvironment> MakeJobEnvironment(ServiceContext* service, const Config& config,
                                          MailSender* mail);

// Runs job `name` once at `now`, which must be the service clock's current time (the sweep reads
// the clock itself). `stop`, when set to true by another thread, interrupts the sweep after its
// current batch (the result then holds "interrupted": true); other jobs are short and ignore it.
// Returns the job's result document; NotFound for an unknown job name; the first database error
// otherwise (work already committed stays done: every job is idempotent).
Result<nlohmann::json> RunJob(const JobEnvironment& env, std::string_view name, TimePoint now,
                              const std::atomic<bool>* stop);

}  // namespace retention
