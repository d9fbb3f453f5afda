#include "domain/retention_rules.h"

#include <algorithm>

namespace retention {

Result<int> RetentionDays(std::optional<int> override_days, int default_days) {
  const int days = override_days.value_or(default_days);
  if (days < kMinRetentionDays || days > kMaxRetentionDays) {
    return InvalidArgument(
        std::string(override_days ? "retention days override " : "default retention days ") +
        std::to_string(days) + " is out of range " + std::to_string(kMinRetentionDays) + "-" +
        std::to_string(kMaxRetentionDays));
  }
  return days;
}

Result<int> RetentionDays(std::optional<int> phase_days, std::optional<int> override_days,
                          int default_days) {
  if (!phase_days) return RetentionDays(override_days, default_days);
  if (*phase_days < kMinRetentionDays || *phase_days > kMaxRetentionDays) {
    return InvalidArgument("phase retention days " + std::to_string(*phase_days) +
                           " is out of range " + std::to_string(kMinRetentionDays) + "-" +
                           std::to_string(kMaxRetentionDays));
  }
  return *phase_days;
}

std::optional<TimePoint> EligibleDate(bool has_consent, std::optional<TimePoint> phase_end,
                                      bool phase_is_public, bool phase_kept, int retention_days) {
  if (phase_kept) return std::nullopt;
  return EligibleDate(has_consent, phase_end, phase_is_public, retention_days);
}

std::optional<TimePoint> EligibleDate(bool has_consent, std::optional<TimePoint> phase_end,
                                      bool phase_is_public, int retention_days) {
  if (!has_consent || !phase_end || phase_is_public) {
    return std::nullopt;
  }
  if (retention_days < kMinRetentionDays || retention_days > kMaxRetentionDays) {
    return std::nullopt;
  }
  return *phase_end + Days(retention_days);
}

std::optional<TimePoint> DeletionDate(std::optional<TimePoint> eligible,
                                      std::optional<TimePoint> notice_sent_at, int notice_days) {
  if (!eligible) {
    return std::nullopt;
  }
  if (notice_days == 0) {
    return eligible;
  }
  if (!notice_sent_at) {
    return std::nullopt;
  }
  return std::max(*eligible, *notice_sent_at + Days(notice_days));
}

SweepDecision DecideSweep(const SweepFacts& f, TimePoint now) {
  const std::optional<TimePoint> eligible =
      EligibleDate(f.has_consent, f.phase_end, f.phase_is_public, f.phase_kept || f.submission_kept,
                   f.retention_days);
  SweepDecision d;
  d.deletion_date = DeletionDate(eligible, f.notice_sent_at, f.notice_days);
  auto skip = [&d](SkipReason reason) {
    d.delete_now = false;
    d.reason = reason;
    return d;
  };
  if (!f.has_consent) {
    return skip(SkipReason::kNoConsent);
  }
  if (f.phase_kept) {
    return skip(SkipReason::kPhaseKept);
  }
  if (f.submission_kept) {
    return skip(SkipReason::kKept);
  }
  if (f.phase_is_public) {
    return skip(SkipReason::kPhasePublic);
  }
  if (!f.phase_end) {
    return skip(SkipReason::kNoEndDate);
  }
  // Also covers an out-of-range D (recomputed nullopt) and a stored date that is missing.
  if (!eligible || eligible != f.stored_eligible_date) {
    return skip(SkipReason::kEligibleDateChanged);
  }
  if (now < *eligible) {
    return skip(SkipReason::kNotYetEligible);
  }
  if (f.challenge_on_hold) {
    return skip(SkipReason::kChallengeOnHold);
  }
  if (f.submission_on_hold) {
    return skip(SkipReason::kSubmissionOnHold);
  }
  if (f.notice_days != 0 && !f.notice_sent_at) {
    return skip(SkipReason::kNoNoticeYet);
  }
  if (!d.deletion_date || now < *d.deletion_date) {
    return skip(SkipReason::kNoticePeriodRunning);
  }
  d.delete_now = true;
  d.reason = SkipReason::kNone;
  return d;
}

const char* SkipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::kNone:
      return "";
    case SkipReason::kNoConsent:
      return "no_consent";
    case SkipReason::kPhaseKept:
      return "phase_kept";
    case SkipReason::kKept:
      return "kept";
    case SkipReason::kPhasePublic:
      return "phase_public";
    case SkipReason::kNoEndDate:
      return "no_end_date";
    case SkipReason::kEligibleDateChanged:
      return "eligible_date_changed";
    case SkipReason::kNotYetEligible:
      return "not_yet_eligible";
    case SkipReason::kChallengeOnHold:
      return "challenge_on_hold";
    case SkipReason::kSubmissionOnHold:
      return "submission_on_hold";
    case SkipReason::kNoNoticeYet:
      return "no_notice_yet";
    case SkipReason::kNoticePeriodRunning:
      return "notice_period_running";
    case SkipReason::kAwaitingSweepRun:
      return "awaiting_sweep_run";
  }
  return "unknown";
}

const char* SkipReasonText(SkipReason reason) {
  switch (reason) {
    case SkipReason::kNone:
      return "nothing prevents deletion";
    case SkipReason::kNoConsent:
      return "the challenge's hosts have not consented to retention";
    case SkipReason::kPhaseKept:
      return "an admin set the submission's phase to keep";
    case SkipReason::kKept:
      return "the submission is kept (by a host or an admin, or as an unreleased baseline)";
    case SkipReason::kPhasePublic:
      return "the submission's phase is public";
    case SkipReason::kNoEndDate:
      return "the submission's phase has no end date";
    case SkipReason::kEligibleDateChanged:
      return "the stored eligible date no longer follows from the rules (a recompute is due)";
    case SkipReason::kNotYetEligible:
      return "the eligible date has not been reached";
    case SkipReason::kChallengeOnHold:
      return "the challenge is on legal hold";
    case SkipReason::kSubmissionOnHold:
      return "the submission is on legal hold";
    case SkipReason::kNoNoticeYet:
      return "the hosts have not been sent a notice yet";
    case SkipReason::kNoticePeriodRunning:
      return "the notice period has not ended yet";
    case SkipReason::kAwaitingSweepRun:
      return "deletable by then, but no scheduled sweep runs before that time";
  }
  return "unknown reason";
}

}  // namespace retention
