#include "domain/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <vector>

namespace retention {
namespace {

using std::chrono::floor;
using std::chrono::sys_days;
using std::chrono::year_month_day;

// One Gregorian cycle: after 400 years dates and weekdays repeat, so a search over this span
// either finds a fire time or proves there is none.
constexpr Days kGregorianCycle{146097};

// Times outside years 1..9999 are clamped (LatestAtOrBefore) or answered as "never" (NextAfter),
// which keeps all calendar arithmetic inside std::chrono::year's range.
constexpr TimePoint kFirstSupported{sys_days{std::chrono::year{1} / 1 / 1}};
constexpr TimePoint kLastSupported{sys_days{std::chrono::year{9999} / 12 / 31} +
                                   std::chrono::seconds(kSecondsPerDay - 1)};

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const std::string_view* names;  // names[i] means min + i; nullptr when the field has none
  std::size_t name_count;
  const char* what;  // what a value may be, for messages
};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, nullptr, 0, "a number"},
    {"hour", 0, 23, nullptr, 0, "a number"},
    {"day-of-month", 1, 31, nullptr, 0, "a number"},
    {"month", 1, 12, kMonthNames.data(), kMonthNames.size(), "a number or a month name"},
    // 7 is accepted as a second Sunday and folded onto 0 after parsing.
    {"day-of-week", 0, 7, kWeekdayNames.data(), kWeekdayNames.size(), "a number or a weekday name"},
}};

// Parses one field into bits min..max (at most 60 of them).
class FieldParser {
 public:
  FieldParser(std::string_view expr, const FieldSpec& spec) : expr_(expr), spec_(spec) {}

  Result<std::bitset<60>> Parse(std::string_view text) const {
    std::bitset<60> bits;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = text.find(',', start);
      const std::string_view item = text.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      RETURN_IF_ERROR(ParseItem(item, text, bits));
      if (comma == std::string_view::npos) {
        break;
      }
      start = comma + 1;
    }
    return bits;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument("cron '" + std::string(expr_) + "': " + spec_.name + " " + what);
  }

  Status ParseItem(std::string_view item, std::string_view field, std::bitset<60>& bits) const {
    if (item.empty()) {
      return Error("'" + std::string(field) + "' has an empty list item");
    }
    std::string_view base = item;
    int step = 1;
    const bool has_step = item.find('/') != std::string_view::npos;
    if (has_step) {
      const std::size_t slash = item.find('/');
      base = item.substr(0, slash);
      const std::string_view step_text = item.substr(slash + 1);
      const std::optional<int> n = Number(step_text);
      if (!n) {
        return Error("step '" + std::string(step_text) + "' in '" + std::string(item) +
                     "' is not a number");
      }
      if (*n < 1) {
        return Error("step " + std::to_string(*n) + " in '" + std::string(item) +
                     "' must be at least 1");
      }
      step = *n;
    }
    int lo = spec_.min;
    int hi = spec_.max;
    if (base != "*") {
      const std::size_t dash = base.find('-');
      if (dash == std::string_view::npos) {
        ASSIGN_OR_RETURN(lo, Value(base));
        hi = has_step ? spec_.max : lo;
      } else {
        ASSIGN_OR_RETURN(lo, Value(base.substr(0, dash)));
        ASSIGN_OR_RETURN(hi, Value(base.substr(dash + 1)));
        if (lo > hi) {
          return Error("range '" + std::string(base) + "' runs backwards (write it low-high)");
        }
      }
    }
    for (int v = lo; v <= hi; v += step) {
      bits.set(static_cast<std::size_t>(v));
    }
    return Status::Ok();
  }

  // A plain decimal number of at most 4 digits, or nullopt.
  static std::optional<int> Number(std::string_view text) {
    if (text.empty() || text.size() > 4) {
      return std::nullopt;
    }
    int n = 0;
    for (const char c : text) {
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
      n = n * 10 + (c - '0');
    }
    return n;
  }

  Result<int> Value(std::string_view text) const {
    if (const std::optional<int> n = Number(text)) {
      if (*n < spec_.min || *n > spec_.max) {
        return Error(std::to_string(*n) + " is out of range " + std::to_string(spec_.min) + "-" +
                     std::to_string(spec_.max));
      }
      return *n;
    }
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (std::size_t i = 0; i < spec_.name_count; ++i) {
      if (spec_.names[i] == lower) {
        return spec_.min + static_cast<int>(i);
      }
    }
    return Error("'" + std::string(text) + "' is not " + spec_.what);
  }

  std::string_view expr_;
  const FieldSpec& spec_;
};

template <std::size_t N>
int NextBit(const std::bitset<N>& bits, int from) {
  for (int i = std::max(from, 0); i < static_cast<int>(N); ++i) {
    if (bits[static_cast<std::size_t>(i)]) {
      return i;
    }
  }
  return -1;
}

template <std::size_t N>
int PrevBit(const std::bitset<N>& bits, int from) {
  for (int i = std::min(from, static_cast<int>(N) - 1); i >= 0; --i) {
    if (bits[static_cast<std::size_t>(i)]) {
      return i;
    }
  }
  return -1;
}

template <std::size_t N>
std::bitset<N> Narrow(const std::bitset<60>& wide) {
  std::bitset<N> bits;
  for (std::size_t i = 0; i < N; ++i) {
    bits[i] = wide[i];
  }
  return bits;
}

constexpr std::array<unsigned, 13> kMaxDaysInMonth = {0,  31, 29, 31, 30, 31, 30,
                                                      31, 31, 30, 31, 30, 31};

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expr) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) {
      ++i;
    }
    const std::size_t start = i;
    while (i < expr.size() && !std::isspace(static_cast<unsigned char>(expr[i]))) {
      ++i;
    }
    if (i > start) {
      fields.push_back(expr.substr(start, i - start));
    }
  }
  if (fields.size() != kFields.size()) {
    return InvalidArgument("cron '" + std::string(expr) +
                           "': expected 5 fields (minute hour day-of-month month day-of-week), "
                           "found " +
                           std::to_string(fields.size()));
  }
  std::array<std::bitset<60>, 5> parsed;
  for (std::size_t f = 0; f < kFields.size(); ++f) {
    ASSIGN_OR_RETURN(parsed[f], FieldParser(expr, kFields[f]).Parse(fields[f]));
  }
  CronSchedule s;
  s.expression_ = std::string(expr);
  s.minutes_ = Narrow<60>(parsed[0]);
  s.hours_ = Narrow<24>(parsed[1]);
  s.days_of_month_ = Narrow<32>(parsed[2]);
  s.months_ = Narrow<13>(parsed[3]);
  s.days_of_week_ = Narrow<7>(parsed[4]);
  if (parsed[4][7]) {
    s.days_of_week_.set(0);
  }
  s.day_of_month_star_ = fields[2].front() == '*';
  s.day_of_week_star_ = fields[4].front() == '*';
  // With the OR rule every month has a matching weekday. With the AND rule a day of the month must
  // exist in some allowed month (each such date falls on every weekday within the 400-year cycle).
  if (s.day_of_month_star_ || s.day_of_week_star_) {
    bool possible = false;
    for (unsigned m = 1; m <= 12 && !possible; ++m) {
      if (!s.months_[m]) {
        continue;
      }
      for (unsigned d = 1; d <= kMaxDaysInMonth[m]; ++d) {
        if (s.days_of_month_[d]) {
          possible = true;
          break;
        }
      }
    }
    s.never_fires_ = !possible;
  }
  return s;
}

bool CronSchedule::DayMatches(sys_days day) const {
  const year_month_day ymd{day};
  const bool dom = days_of_month_[static_cast<unsigned>(ymd.day())];
  const bool dow = days_of_week_[std::chrono::weekday(day).c_encoding()];
  if (!day_of_month_star_ && !day_of_week_star_) {
    return dom || dow;
  }
  return dom && dow;
}

bool CronSchedule::Matches(TimePoint t) const {
  const sys_days day = floor<Days>(t);
  const year_month_day ymd{day};
  const auto minute_of_day = floor<std::chrono::minutes>(t - day).count();
  return months_[static_cast<unsigned>(ymd.month())] && DayMatches(day) &&
         hours_[static_cast<std::size_t>(minute_of_day / 60)] &&
         minutes_[static_cast<std::size_t>(minute_of_day % 60)];
}

TimePoint CronSchedule::NextAfter(TimePoint t) const {
  if (never_fires_ || t >= kLastSupported) {
    return TimePoint::max();
  }
  t = std::max(t, kFirstSupported - std::chrono::seconds(1));
  TimePoint c = floor<std::chrono::minutes>(t) + std::chrono::minutes(1);
  const TimePoint limit = c + kGregorianCycle;
  const int first_minute = NextBit(minutes_, 0);
  while (c <= limit) {
    const sys_days day = floor<Days>(c);
    const year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      const std::chrono::year_month next = ymd.year() / ymd.month() + std::chrono::months(1);
      c = sys_days{next / 1};
      continue;
    }
    if (!DayMatches(day)) {
      c = day + Days(1);
      continue;
    }
    const auto minute_of_day = floor<std::chrono::minutes>(c - day).count();
    const int hour = static_cast<int>(minute_of_day / 60);
    const int minute = static_cast<int>(minute_of_day % 60);
    if (hours_[static_cast<std::size_t>(hour)]) {
      const int m = NextBit(minutes_, minute);
      if (m >= 0) {
        return day + std::chrono::hours(hour) + std::chrono::minutes(m);
      }
    }
    const int h = NextBit(hours_, hour + 1);
    if (h < 0) {
      c = day + Days(1);
      continue;
    }
    return day + std::chrono::hours(h) + std::chrono::minutes(first_minute);
  }
  return TimePoint::max();
}

std::optional<TimePoint> CronSchedule::LatestAtOrBefore(TimePoint t) const {
  if (never_fires_ || t < kFirstSupported) {
    return std::nullopt;
  }
  t = std::min(t, kLastSupported);
  TimePoint c = floor<std::chrono::minutes>(t);
  const TimePoint limit = c - kGregorianCycle;
  const int last_minute = PrevBit(minutes_, 59);
  while (c >= limit) {
    const sys_days day = floor<Days>(c);
    const year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      c = sys_days{ymd.year() / ymd.month() / 1} - std::chrono::minutes(1);
      continue;
    }
    if (!DayMatches(day)) {
      c = day - std::chrono::minutes(1);
      continue;
    }
    const auto minute_of_day = floor<std::chrono::minutes>(c - day).count();
    const int hour = static_cast<int>(minute_of_day / 60);
    const int minute = static_cast<int>(minute_of_day % 60);
    if (hours_[static_cast<std::size_t>(hour)]) {
      const int m = PrevBit(minutes_, minute);
      if (m >= 0) {
        return day + std::chrono::hours(hour) + std::chrono::minutes(m);
      }
    }
    const int h = PrevBit(hours_, hour - 1);
    if (h < 0) {
      c = day - std::chrono::minutes(1);
      continue;
    }
    return day + std::chrono::hours(h) + std::chrono::minutes(last_minute);
  }
  return std::nullopt;
}

}  // namespace retention
