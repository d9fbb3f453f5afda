// Time in UTC (R9): whole seconds since the Unix epoch, RFC 3339 on the wire, and an injectable
// clock so that no rule or test reads the real time directly. Thread-safe (pure functions).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace retention {

using TimePoint = std::chrono::sys_seconds;
using Days = std::chrono::days;

inline constexpr std::int64_t kSecondsPerDay = 86400;

inline std::int64_t ToUnix(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromUnix(std::int64_t s) { return TimePoint(std::chrono::seconds(s)); }

// Parses RFC 3339: "2026-03-01T00:00:00Z", optional fractional seconds (dropped), "Z" or a
// "+HH:MM"/"-HH:MM" offset. A bare date "2026-03-01" means its midnight UTC. Returns
// InvalidArgument naming the text otherwise.
Result<TimePoint> ParseTime(std::string_view text);

// Formats as "2026-03-01T00:00:00Z".
std::string FormatTime(TimePoint t);
// Formats the date part only: "2026-03-01".
std::string FormatDate(TimePoint t);

// The source of "now". Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The real clock, or a fixed time when the environment variable RETENTION_FAKE_NOW holds an
// RFC 3339 time (used by whole-process tests to simulate dates; documented in docs/TESTING.md).
class SystemClock final : public Clock {
 public:
  // Reads RETENTION_FAKE_NOW once, here.
  SystemClock();
  TimePoint Now() const override;

 private:
  std::optional<TimePoint> fixed_;
};

// A clock that tests set and advance by hand. Not thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint now) : now_(now) {}
  TimePoint Now() const override { return now_; }
  void Set(TimePoint t) { now_ = t; }
  void Advance(std::chrono::seconds d) { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace retention
