// The retention rules of DESIGN.md section 3 as pure functions: R1 (retention days), R2 (eligible
// date), R4 (deletion date after the notice) and the R5 decision a sweep takes for one submission.
//
// No I/O and no clock reads: "now" is always a parameter. Every function is pure and thread-safe.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "core/time.h"

namespace retention {

inline constexpr int kMinRetentionDays = 1;
inline constexpr int kMaxRetentionDays = 3653;

// R1. Returns the retention days D: `override_days` when an admin set one, else `default_days`.
// Returns InvalidArgument naming the value (and whether it is the override or the default) when
// the chosen value lies outside kMinRetentionDays..kMaxRetentionDays. Only the value actually used
// is checked: config validation checks the default on its own.
[[nodiscard]] Result<int> RetentionDays(std::optional<int> override_days, int default_days);

// R1 with a phase policy: returns `phase_days` when an admin set retention days for the phase,
// else RetentionDays(override_days, default_days). InvalidArgument (naming which value) when the
// chosen value lies outside kMinRetentionDays..kMaxRetentionDays. A phase whose policy is `keep`
// has no D at all: callers check that first (see EligibleDate's `phase_kept`).
[[nodiscard]] Result<int> RetentionDays(std::optional<int> phase_days,
                                        std::optional<int> override_days, int default_days);

// R2. Returns a submission's eligible date: `phase_end` + `retention_days` days, when the challenge
// has consent, the phase has an end date and the phase is not public; otherwise nullopt (never
// eligible). Precondition: `retention_days` comes from RetentionDays(). A value outside
// kMinRetentionDays..kMaxRetentionDays also yields nullopt, the direction that deletes nothing.
[[nodiscard]] std::optional<TimePoint> EligibleDate(bool has_consent,
                                                    std::optional<TimePoint> phase_end,
                                                    bool phase_is_public, int retention_days);

// R2 with a phase policy: nullopt when `phase_kept` (the phase's policy is `keep`: never
// eligible), else the same as the overload above. A kept submission (R10) has no eligible date
// either; callers pass `phase_kept || submission_kept`.
[[nodiscard]] std::optional<TimePoint> EligibleDate(bool has_consent,
                                                    std::optional<TimePoint> phase_end,
                                                    bool phase_is_public, bool phase_kept,
                                                    int retention_days);

// R4. Returns a submission's deletion date:
//   - nullopt when it has no eligible date;
//   - `eligible` when `notice_days` is 0 (the notice gate is off);
//   - nullopt when no notice has been sent yet (it cannot be deleted before one is);
//   - otherwise max(eligible, notice_sent_at + notice_days days).
// Precondition: notice_days >= 0 (config validates it); a negative value is treated as a gate that
// is on, i.e. a notice is still required.
[[nodiscard]] std::optional<TimePoint> DeletionDate(std::optional<TimePoint> eligible,
                                                    std::optional<TimePoint> notice_sent_at,
                                                    int notice_days);

// What a sweep knows about one submission at the moment it considers deleting its artifacts.
struct SweepFacts {
  bool has_consent = false;            // the challenge's consent is active now
  std::optional<TimePoint> phase_end;  // the phase's current end_date
  bool phase_is_public = false;        // the phase's current is_public
  bool phase_kept = false;             // the phase's policy is `keep` now (R1)
  bool submission_kept =
      false;               // the submission is kept now (R10: kept, or an unreleased baseline)
  int retention_days = 0;  // D from RetentionDays() (R1): the phase's days, override or default
  std::optional<TimePoint> stored_eligible_date;  // retention_eligible_date as stored
  bool challenge_on_hold = false;                 // legal hold on the challenge
  bool submission_on_hold = false;                // legal hold on the submission
  std::optional<TimePoint> notice_sent_at;        // first notice sent (or suppressed), if any
  int notice_days = 0;                            // retention.notice_days (0 turns the gate off)
};

// Why a sweep leaves a submission alone. kNone means it is deleted.
enum class SkipReason {
  kNone,
  kNoConsent,
  kPhaseKept,
  kKept,  // the submission itself is kept (R10)
  kPhasePublic,
  kNoEndDate,
  kEligibleDateChanged,
  kNotYetEligible,
  kChallengeOnHold,
  kSubmissionOnHold,
  kNoNoticeYet,
  kNoticePeriodRunning,
  // Forecasts only (a dry run as of a later time): deletable by then, but no scheduled sweep
  // runs between its deletion date and that time.
  kAwaitingSweepRun,
};

struct SweepDecision {
  bool delete_now = false;
  SkipReason reason = SkipReason::kNone;  // kNone exactly when delete_now
  // The deletion date that follows from the facts as they are now (R2 recomputed, then R4),
  // independent of holds; nullopt when there is none (no eligible date, or no notice yet while
  // the gate is on).
  std::optional<TimePoint> deletion_date;
};

// R5. Decides whether to delete a submission's artifacts at `now`. Checks, in this order, and
// reports the first that fails: consent, phase not kept (policy `keep`), submission not kept
// (R10, whatever its stored eligible date says), phase not public, phase
// has an end date, the eligible date recomputed from R2 equals the stored one, now >= eligible
// date, challenge not on hold, submission not on hold, a notice was sent (when notice_days > 0),
// now >= deletion date (R4).
[[nodiscard]] SweepDecision DecideSweep(const SweepFacts& f, TimePoint now);

// Returns the stable snake_case name of a reason ("no_consent", "challenge_on_hold", ...), used
// in JSON output and metrics; "" for kNone.
const char* SkipReasonName(SkipReason reason);

// Returns a short human sentence for a reason ("the challenge is on legal hold"): a static string.
const char* SkipReasonText(SkipReason reason);

}  // namespace retention
