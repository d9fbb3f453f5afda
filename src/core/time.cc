#include "core/time.h"

#include <date/date.h>

#include <array>
#include <cstdio>
#include <sstream>

namespace retention {

Result<TimePoint> ParseTime(std::string_view text) {
  const std::string s(text);
  auto bad = [&] {
    return InvalidArgument("'" + s + "' is not an RFC 3339 time (like 2026-03-01T00:00:00Z)");
  };
  if (s.size() == 10) {
    std::istringstream in(s);
    date::sys_days d;
    in >> date::parse("%F", d);
    if (in.fail() || in.peek() != EOF) return bad();
    return TimePoint(d);
  }
  if (s.size() < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) return bad();
  std::string main = s.substr(0, 10) + "T" + s.substr(11, 8);
  std::istringstream in(main);
  date::sys_seconds t;
  in >> date::parse("%FT%T", t);
  if (in.fail()) return bad();
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ++pos;
      ++digits;
    }
    if (digits == 0) return bad();
  }
  if (pos == s.size()) return bad();
  const char zone = s[pos];
  if ((zone == 'Z' || zone == 'z') && pos + 1 == s.size()) return t;
  if ((zone == '+' || zone == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
    auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
    if (!digit(pos + 1) || !digit(pos + 2) || !digit(pos + 4) || !digit(pos + 5)) return bad();
    const int hours = (s[pos + 1] - '0') * 10 + (s[pos + 2] - '0');
    const int minutes = (s[pos + 4] - '0') * 10 + (s[pos + 5] - '0');
    if (hours > 23 || minutes > 59) return bad();
    const std::chrono::seconds offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    return zone == '+' ? t - offset : t + offset;
  }
  return bad();
}

// Formats by hand: date::format goes through iostreams and locales, which dominated the cost of
// rendering small JSON responses (callgrind on the consent-status endpoint).
std::string FormatTime(TimePoint t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<std::chrono::seconds> hms(t - day);
  std::array<char, 48> buf{};
  std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf.data();
}

std::string FormatDate(TimePoint t) { return FormatTime(t).substr(0, 10); }

TimePoint SystemClock::Now() const {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

TimePoint FastClock::Now() const {
  const auto real = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return start_ + std::chrono::floor<std::chrono::seconds>((real - start_) * speed_);
}

}  // namespace retention
