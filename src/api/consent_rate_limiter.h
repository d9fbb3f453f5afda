// The per-user limit on consent writes (DESIGN.md section 6: 429 over the rate limit): at most
// `per_minute` calls in any sliding minute. Time comes from the caller (a steady clock reading),
// so tests drive it without sleeping.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>

namespace retention {

class ConsentRateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `per_minute` >= 1 calls are allowed per user and minute.
  explicit ConsentRateLimiter(int per_minute) : per_minute_(per_minute) {}

  // Counts a call of `user_id` at `now` and returns 0 when it is allowed; otherwise returns the
  // seconds (>= 1) until the oldest call in the window leaves it, and the call is not counted.
  // Precondition: `now` does not go back between calls.
  int Acquire(std::int64_t user_id, TimePoint now);

 private:
  const int per_minute_;
  std::mutex mu_;
  std::map<std::int64_t, std::deque<TimePoint>> calls_;
};

}  // namespace retention
