#include "jobs/jobs.h"

#include <algorithm>
#include <string>

#include "jobs/notices.h"
#include "service/evalai_sync.h"
#include "service/log_retention_sync.h"
#include "service/sweep.h"
#include "service/views.h"

namespace retention {
namespace {

using nlohmann::json;

constexpr int kMaxListed = 1000;

Result<json> RunCleanup(const JobEnvironment& env, const std::atomic<bool>* stop) {
  SweepOptions options;
  options.keep_items = false;
  options.max_listed_problems = kMaxListed;
  options.stop = stop;
  if (env.progress) {
    options.progress = [&env](std::int64_t, std::int64_t) { env.progress(); };
  }
  ASSIGN_OR_RETURN(SweepReport report, RunSweep(*env.service, options));
  json skipped = json::array();
  for (const SkippedSubmission& s : report.skipped) {
    skipped.push_back({{"submission_id", s.submission_id},
                       {"challenge_id", s.challenge_id},
                       {"reason", s.reason},
                       {"detail", s.detail}});
  }
  json errors = json::array();
  for (const FailedArtifact& f : report.failed) {
    errors.push_back({{"submission_id", f.submission_id}, {"key", f.key}, {"error", f.error}});
  }
  return json{{"processed", report.examined},
              {"deleted", report.submissions_deleted},
              {"artifacts_deleted", report.artifacts_deleted},
              {"bytes_freed", report.bytes_freed},
              {"failed", report.failed_count},
              {"errors", errors},
              {"skipped_count", report.skipped_count},
              {"skipped", skipped},
              {"not_eligible", report.not_eligible},
              {"eligible_in_future", report.eligible_in_future},
              {"interrupted", report.interrupted}};
}

// The sweep's job: the sweep, then (never failing it) EvalAI's write-back.
Result<json> RunCleanupJob(const JobEnvironment& env, const std::atomic<bool>* stop) {
  ASSIGN_OR_RETURN(json out, RunCleanup(env, stop));
  if (env.evalai != nullptr && env.evalai->settings().write_back) {
    out["evalai_write_back"] = EvalaiWriteBackJson(WriteBackToEvalai(*env.service, *env.evalai));
  }
  return out;
}

Result<json> RunSyncEvalai(const JobEnvironment& env) {
  if (env.evalai == nullptr) {
    return FailedPrecondition("job sync_evalai runs only when evalai.url is set");
  }
  ASSIGN_OR_RETURN(EvalaiSyncReport report, SyncEvalai(*env.service, *env.evalai, {}));
  json out = EvalaiSyncJson(report);
  std::int64_t read = 0;
  for (const auto& [name, c] : report.tables) read += c.read;
  out["processed"] = read;
  out["deleted"] = 0;
  out["failed"] = 0;
  out["errors"] = json::array();
  out["skipped"] = json::array();
  if (env.evalai->settings().write_back) {
    out["evalai_write_back"] = EvalaiWriteBackJson(WriteBackToEvalai(*env.service, *env.evalai));
  }
  return out;
}

Result<json> RunUpdateDates(const JobEnvironment& env) {
  std::int64_t live = 0;
  {
    auto conn = env.service->db->Lock();
    ASSIGN_OR_RETURN(
        auto row, conn->QueryOne("SELECT COUNT(*) FROM submissions WHERE is_artifact_deleted = 0"));
    live = row ? row->Int(0) : 0;
  }
  ASSIGN_OR_RETURN(std::int64_t changed, UpdateDates(*env.service, std::nullopt));
  return json{{"processed", live}, {"updated", changed},      {"deleted", 0},
              {"failed", 0},       {"errors", json::array()}, {"skipped", json::array()}};
}

Result<json> RunNotifications(const JobEnvironment& env, TimePoint now) {
  ASSIGN_OR_RETURN(json notices, ProcessNotices(env, now, /*dry_run=*/false));
  ASSIGN_OR_RETURN(json consent, ConsentLog(env, now));
  json result{{"processed", notices["processed"]},
              {"deleted", 0},
              {"failed", notices["failed"]},
              {"errors", notices["errors"]},
              {"skipped", notices["skipped"]},
              {"notices", notices},
              {"consent_log", consent}};
  return result;
}

}  // namespace

bool IsJobName(std::string_view name) {
  return std::find(kJobNames.begin(), kJobNames.end(), name) != kJobNames.end();
}

bool JobRegistered(const JobEnvironment& env, std::string_view name) {
  if (name == kSyncEvalaiJob) return env.evalai != nullptr;
  return IsJobName(name);
}

Result<JobEnvironment> MakeJobEnvironment(ServiceContext* service, const Config& config,
                                          MailSender* mail) {
  JobEnvironment env;
  env.service = service;
  env.mail = mail;
  env.mail_from = config.smtp_from;
  env.challenge_url = config.challenge_url;
  std::string problems;
  for (const auto& [job, expr] : config.schedule) {
    if (!IsJobName(job)) {
      problems += (problems.empty() ? "" : "\n") + std::string("schedule.") + job +
                  ": unknown job (known: cleanup_expired_submission_artifacts, "
                  "weekly_retention_notifications_and_consent_log, "
                  "update_submission_retention_dates, reconcile_log_retention, sync_evalai)";
      continue;
    }
    auto cron = CronSchedule::Parse(expr);
    if (!cron.ok()) {
      problems += std::string(problems.empty() ? "" : "\n") + "schedule." + job + ": " +
                  cron.status().message();
      continue;
    }
    env.schedule.emplace(job, *cron);
  }
  if (!problems.empty()) return InvalidArgument(problems);
  // DESIGN.md section 4: sync_evalai runs only when evalai.url is set.
  if (config.evalai_url.empty()) env.schedule.erase(std::string(kSyncEvalaiJob));
  // The projection of the schedule (forecast, next deletion dates) follows the same crons.
  auto cron_of = [&env](std::string_view job) -> std::optional<CronSchedule> {
    auto it = env.schedule.find(job);
    if (it == env.schedule.end()) return std::nullopt;
    return it->second;
  };
  service->settings.notice_cron = cron_of(kNotificationsJob);
  service->settings.sweep_cron = cron_of(kCleanupJob);
  return env;
}

Result<json> RunJob(const JobEnvironment& env, std::string_view name, TimePoint now,
                    const std::atomic<bool>* stop) {
  if (env.service == nullptr) return Internal("run job: no service context");
  Result<json> result = NotFound("unknown job '" + std::string(name) + "'");
  if (name == kCleanupJob) {
    result = RunCleanupJob(env, stop);
  } else if (name == kSyncEvalaiJob) {
    result = RunSyncEvalai(env);
  } else if (name == kUpdateDatesJob) {
    result = RunUpdateDates(env);
  } else if (name == kNotificationsJob) {
    result = RunNotifications(env, now);
  } else if (name == kReconcileLogsJob) {
    if (env.log_sync != nullptr) {
      result = env.log_sync->ReconcileAll(now);
    } else {
      result = json{{"processed", 0},
                    {"deleted", 0},
                    {"failed", 0},
                    {"errors", json::array()},
                    {"skipped", "no log backend"}};
    }
  } else {
    return result;
  }
  if (!result.ok()) return result.status().WithContext("job " + std::string(name));
  json out = std::move(result).value();
  if (out.is_object()) {
    out["job"] = std::string(name);
    out["at"] = FormatTime(now);
  }
  return out;
}

}  // namespace retention
