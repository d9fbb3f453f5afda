// A client-side rate limiter: never more than `calls` starts in any window of `window` (a sliding
// window over a steady clock). Used to keep CloudWatch Logs calls under AWS's per-second quota
// across every thread of the process. Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

namespace retention::cloudwatch_internal {

class RateLimiter {
 public:
  using SteadyClock = std::chrono::steady_clock;

  // `calls` >= 1 starts allowed per `window` (> 0).
  RateLimiter(int calls, SteadyClock::duration window);

  // Reserves the earliest start time at or after `now` that keeps every window within the limit
  // and returns it. The caller must not start its call before that time. Reservations are
  // handed out in order, so concurrent callers queue fairly.
  SteadyClock::time_point Reserve(SteadyClock::time_point now);

  // Reserve(now) and sleep until the reserved time.
  void Acquire();

  // The limiter shared by every client in this process that uses the same `key` (e.g. the
  // endpoint) and limit, created on first use.
  static std::shared_ptr<RateLimiter> Shared(const std::string& key, int calls,
                                             SteadyClock::duration window);

 private:
  const std::size_t calls_;
  const SteadyClock::duration window_;
  std::mutex mu_;
  std::deque<SteadyClock::time_point> starts_;  // the last `calls_` reserved starts, ascending
};

}  // namespace retention::cloudwatch_internal
