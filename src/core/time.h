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

// The real clock (UTC, whole seconds). It never reads the environment: app/ chooses a FixedClock
// instead when the configuration asks for one (RETENTION_FAKE_NOW, docs/TESTING.md).
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

// A clock that always answers the same time. Thread-safe (immutable).
class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint now) : now_(now) {}
  TimePoint Now() const override { return now_; }

 private:
  TimePoint now_;
};

// A test clock that runs `speed` times as fast as the real one from `start`, taken both as the
// fake and as the real anchor: it reads start + speed * (real now - start). Processes given the
// same start agree (RETENTION_CLOCK_SPEED, docs/TESTING.md). Thread-safe (immutable).
class FastClock final : public Clock {
 public:
  FastClock(TimePoint start, int speed) : start_(start), speed_(speed) {}
  TimePoint Now() const override;

 private:
  TimePoint start_;
  int speed_;
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
