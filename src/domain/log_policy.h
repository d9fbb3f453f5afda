// R8: the log retention policy a challenge's worker log group should have, and the mapping of a
// requested number of days onto the values CloudWatch Logs accepts.
//
// No I/O and no clock reads: "now" is a parameter. Every function is pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace retention {

// The retention values CloudWatch Logs accepts (PutRetentionPolicy's retentionInDays), ascending.
// The local log store accepts the same set so that both backends behave alike.
inline constexpr std::array<int, 22> kAllowedLogRetentionDays = {
    1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
    365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

// Returns the smallest allowed value >= `days`: 1 for anything <= 1, 3653 for anything above it.
// Examples: 25 -> 30, 100 -> 120, 1000 -> 1096, 0 -> 1, 5000 -> 3653.
int RoundUpToAllowedDays(std::int64_t days);

// Returns the worker log group of a challenge: "challenge-pk-{id}-{environment}-workers".
std::string LogGroupName(std::int64_t challenge_id, std::string_view environment);

// One phase's R8 inputs: its end date, visibility, whether its policy is `keep`, and its D (R1:
// the phase's retention days, else the challenge's override, else the default).
struct PhaseLogInput {
  std::optional<TimePoint> end;
  bool is_public = false;
  bool kept = false;
  int retention_days = 0;
};

// The phase that sets E = end + retention_days days.
struct LogHorizon {
  TimePoint latest_phase_end;
  int retention_days = 0;
};

// R8. Returns the phase giving the latest E = end + D over the private phases with an end date
// and no `keep` policy (on a tie in E, the larger D); nullopt when there is none (logs never
// expire).
std::optional<LogHorizon> LatestLogHorizon(const std::vector<PhaseLogInput>& phases);

// The policy a log group should have.
struct DesiredLogPolicy {
  std::optional<int> days;  // one of kAllowedLogRetentionDays; nullopt = never expire
  std::string explanation;  // one sentence for status output and audit: which case applied
};

// R8. Returns the desired policy of a challenge's log group at `now`:
//   - no consent, or no phase has an end date (`latest_phase_end` is nullopt): never expire;
//   - with E = latest_phase_end + retention_days days, before E: the allowed value covering the
//     whole days from the origin to E, so that no line is purged before E. The origin is the
//     earliest of the challenge's start, `lines_since` and now. `lines_since` is the stored time
//     the service first saw the group (its first reconcile or first ingested line; nullopt when
//     this call is the first, which the caller then records as now). It never moves later, so the
//     value never shrinks below what keeps a line stored since then until E, however often the
//     policy is reconciled before E;
//   - from E on: the allowed value covering retention_days, so the lines go soon after E.
// Precondition: retention_days comes from RetentionDays() (1..3653).
DesiredLogPolicy DesiredLogRetention(bool has_consent, std::optional<TimePoint> latest_phase_end,
                                     std::optional<TimePoint> challenge_start,
                                     std::optional<TimePoint> lines_since, int retention_days,
                                     TimePoint now);

}  // namespace retention
