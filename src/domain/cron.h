// Cron schedules for the jobs of DESIGN.md section 4: parsing five-field expressions and finding
// fire times, in UTC (R9).
//
// Syntax: "minute hour day-of-month month day-of-week". Each field is `*`, a number, a range
// `a-b`, a step `*/n`, `a-b/n` or `a/n` (a to the field's maximum), or a comma-separated list of
// those. Months may be written jan..dec and weekdays sun..sat (case-insensitive); 7 also means
// Sunday. Vixie-cron rule: when both day-of-month and day-of-week are restricted (neither field
// starts with `*`), a day matches if either matches; otherwise both must match.
//
// CronSchedule is an immutable value type: thread-safe for concurrent const use. No clock reads.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"

namespace retention {

class CronSchedule {
 public:
  // Parses `expr`. Returns InvalidArgument naming the expression, the field and the offending
  // text, e.g. "cron '0 25 * * *': hour 25 is out of range 0-23". A schedule that can never fire
  // (such as "0 0 30 2 *") is accepted; see NeverFires().
  [[nodiscard]] static Result<CronSchedule> Parse(std::string_view expr);

  // Returns the first fire time strictly after `t` (whole minutes, seconds zero). Returns
  // TimePoint::max() when the schedule never fires. The search covers one full 400-year Gregorian
  // cycle, after which the calendar repeats, so a schedule that fires at all is always found.
  // Cost: proportional to the days skipped in matching months, not to the minutes.
  TimePoint NextAfter(TimePoint t) const;

  // Returns the last fire time at or before `t`, or nullopt when there is none within the
  // preceding 400-year cycle (that is, the schedule never fires).
  std::optional<TimePoint> LatestAtOrBefore(TimePoint t) const;

  // True when `t` (truncated to its minute) is a fire time.
  bool Matches(TimePoint t) const;

  // True when no date satisfies the day-of-month and month fields (e.g. "0 0 30 2 *").
  bool NeverFires() const { return never_fires_; }

  // The expression as given to Parse().
  const std::string& expression() const { return expression_; }

 private:
  CronSchedule() = default;

  bool DayMatches(std::chrono::sys_days day) const;

  std::string expression_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bits 1..31
  std::bitset<13> months_;         // bits 1..12
  std::bitset<7> days_of_week_;    // bits 0..6, Sunday = 0
  bool day_of_month_star_ = false;
  bool day_of_week_star_ = false;
  bool never_fires_ = false;
};

}  // namespace retention
