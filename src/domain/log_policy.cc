#include "domain/log_policy.h"

#include <algorithm>

namespace retention {

int RoundUpToAllowedDays(std::int64_t days) {
  const auto it = std::lower_bound(kAllowedLogRetentionDays.begin(), kAllowedLogRetentionDays.end(),
                                   days, [](int allowed, std::int64_t d) { return allowed < d; });
  return it == kAllowedLogRetentionDays.end() ? kAllowedLogRetentionDays.back() : *it;
}

std::string LogGroupName(std::int64_t challenge_id, std::string_view environment) {
  std::string name = "challenge-pk-";
  name += std::to_string(challenge_id);
  name += '-';
  name += environment;
  name += "-workers";
  return name;
}

std::optional<LogHorizon> LatestLogHorizon(const std::vector<PhaseLogInput>& phases) {
  std::optional<LogHorizon> best;
  for (const PhaseLogInput& p : phases) {
    if (!p.end || p.is_public || p.kept) continue;
    const TimePoint e = *p.end + Days(p.retention_days);
    if (!best) {
      best = LogHorizon{*p.end, p.retention_days};
      continue;
    }
    const TimePoint best_e = best->latest_phase_end + Days(best->retention_days);
    if (e > best_e || (e == best_e && p.retention_days > best->retention_days)) {
      best = LogHorizon{*p.end, p.retention_days};
    }
  }
  return best;
}

DesiredLogPolicy DesiredLogRetention(bool has_consent, std::optional<TimePoint> latest_phase_end,
                                     std::optional<TimePoint> challenge_start,
                                     std::optional<TimePoint> lines_since, int retention_days,
                                     TimePoint now) {
  if (!has_consent) {
    return {std::nullopt, "no retention consent: logs never expire"};
  }
  if (!latest_phase_end) {
    return {std::nullopt, "no phase has an end date: logs never expire"};
  }
  const TimePoint eligible = *latest_phase_end + Days(retention_days);
  if (now < eligible) {
    // CloudWatch counts retention from each line's ingestion, so the value must cover the oldest
    // line already stored or still to come. Lines start at the challenge's start, but may have
    // been stored since the service first saw the group; a start still ahead would purge today's
    // lines before E. Counting from a moving now would shrink the value day by day and purge the
    // lines stored earlier, so the origin is the earliest of the three.
    TimePoint origin = now;
    std::string from = "now ";
    if (lines_since && *lines_since < origin) {
      origin = *lines_since;
      from = "the first log line or reconcile ";
    }
    if (challenge_start && *challenge_start <= origin) {
      origin = *challenge_start;
      from = "the challenge start ";
    }
    const std::int64_t seconds = ToUnix(eligible) - ToUnix(origin);
    const std::int64_t days = (seconds + kSecondsPerDay - 1) / kSecondsPerDay;
    const int value = RoundUpToAllowedDays(days);
    return {value, "keeps every line until the eligible date " + FormatDate(eligible) + ": " +
                       std::to_string(days) + " days from " + from + FormatDate(origin) +
                       " rounded up to " + std::to_string(value)};
  }
  const int value = RoundUpToAllowedDays(retention_days);
  return {value, "the eligible date " + FormatDate(eligible) + " has passed: retention days " +
                     std::to_string(retention_days) + " rounded up to " + std::to_string(value)};
}

}  // namespace retention
