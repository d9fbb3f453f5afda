// The one projection of the schedule (DESIGN.md section 5, "A forecast follows the schedule"):
// when a submission with an eligible date will be noticed (R4), when it may be deleted, and which
// run of the sweep deletes it, assuming that the notice job and the sweep run at their scheduled
// times and that mail is delivered. The dry run with `--as-of`, the forecast, `retention-info`'s
// and `status`'s next deletion date and the notices' dates all come from it, so they never
// disagree.
//
// Pure: no I/O, no clock reads ("now" is a parameter); thread-safe.
#pragma once

#include <optional>

#include "core/time.h"
#include "domain/cron.h"

namespace retention {

// What the projection follows: the crons of the notice job and of the sweep (nullopt: the job is
// not scheduled) and R4's notice gap.
struct RetentionSchedule {
  std::optional<CronSchedule> notices;  // weekly_retention_notifications_and_consent_log
  std::optional<CronSchedule> sweep;    // cleanup_expired_submission_artifacts
  int notice_days = 14;                 // retention.notice_days; 0 turns the notice gate off
};

// The seed's schedule: notices "0 10 * * 1", sweep "0 2 1 * *", notice_days 14.
RetentionSchedule DefaultRetentionSchedule();

struct ProjectedDeletion {
  // The notice: the recorded time when one was sent (or suppressed), else the first run of the
  // notice job at or after now that notices the submission: the job notices every submission
  // whose eligible date is earlier than its next run + notice_days. nullopt when the notice job
  // never runs again.
  std::optional<TimePoint> notice_at;
  bool notice_recorded = false;  // notice_at is the recorded time, not a projection
  // R4 with that notice: max(eligible, notice_at + notice_days); the eligible date when
  // notice_days is 0. nullopt when the gate is on and no notice will come.
  std::optional<TimePoint> deletion_date;
  // The sweep run that deletes it: the first run of the sweep's cron at or after both the
  // deletion date and now (an overdue submission goes with the next run). nullopt when there is
  // no deletion date or the sweep never runs again.
  std::optional<TimePoint> sweep_at;
};

// Projects one submission with eligible date `eligible` (R2) and recorded notice `notice_sent_at`
// (nullopt when none yet) from `now` on. The caller leaves out what no schedule deletes (no
// eligible date, a hold, no consent): the projection assumes nothing changes but the clock.
// Times of a projected notice are the job's scheduled fire times (whole minutes).
ProjectedDeletion ProjectDeletion(TimePoint eligible, std::optional<TimePoint> notice_sent_at,
                                  TimePoint now, const RetentionSchedule& schedule);

// The sweep run that deletes a submission whose deletion date is `deletion_date`: the first run
// of the sweep's cron at or after both it and `now`; nullopt when the sweep never runs again.
std::optional<TimePoint> SweepRunFor(TimePoint deletion_date, TimePoint now,
                                     const RetentionSchedule& schedule);

// The first fire time of `cron` at or after `t` (a run scheduled at `t` itself counts), or
// nullopt when it never fires again.
std::optional<TimePoint> FirstRunAtOrAfter(const CronSchedule& cron, TimePoint t);

}  // namespace retention
