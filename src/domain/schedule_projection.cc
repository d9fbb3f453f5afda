#include "domain/schedule_projection.h"

#include <algorithm>
#include <chrono>

namespace retention {

namespace {

TimePoint AddDays(TimePoint t, int days) { return t + std::chrono::days(days); }

std::optional<TimePoint> Fire(TimePoint t) {
  if (t == TimePoint::max()) return std::nullopt;
  return t;
}

}  // namespace

RetentionSchedule DefaultRetentionSchedule() {
  RetentionSchedule s;
  s.notices = *CronSchedule::Parse("0 10 * * 1");
  s.sweep = *CronSchedule::Parse("0 2 1 * *");
  s.notice_days = 14;
  return s;
}

std::optional<TimePoint> FirstRunAtOrAfter(const CronSchedule& cron, TimePoint t) {
  // TimePoint counts whole seconds: the first fire strictly after t - 1 s is at or after t.
  return Fire(cron.NextAfter(t - std::chrono::seconds(1)));
}

ProjectedDeletion ProjectDeletion(TimePoint eligible, std::optional<TimePoint> notice_sent_at,
                                  TimePoint now, const RetentionSchedule& schedule) {
  ProjectedDeletion p;
  const int gap = std::max(schedule.notice_days, 0);
  if (notice_sent_at) {
    p.notice_at = notice_sent_at;
    p.notice_recorded = true;
  } else if (schedule.notices) {
    // The job running at N notices the submission when eligible < next run after N + gap, i.e.
    // when the next run after N is later than eligible - gap. The first run with that property
    // is the latest run at or before eligible - gap (its next run is later by definition), or
    // the job's first run from now when that one lies in the past.
    const CronSchedule& cron = *schedule.notices;
    std::optional<TimePoint> first = FirstRunAtOrAfter(cron, now);
    if (first) {
      const std::optional<TimePoint> latest = cron.LatestAtOrBefore(AddDays(eligible, -gap));
      p.notice_at = latest ? std::max(*first, *latest) : *first;
    }
  }
  if (gap == 0) {
    p.deletion_date = eligible;
  } else if (p.notice_at) {
    p.deletion_date = std::max(eligible, AddDays(*p.notice_at, gap));
  }
  if (p.deletion_date) p.sweep_at = SweepRunFor(*p.deletion_date, now, schedule);
  return p;
}

std::optional<TimePoint> SweepRunFor(TimePoint deletion_date, TimePoint now,
                                     const RetentionSchedule& schedule) {
  if (!schedule.sweep) return std::nullopt;
  return FirstRunAtOrAfter(*schedule.sweep, std::max(deletion_date, now));
}

}  // namespace retention
