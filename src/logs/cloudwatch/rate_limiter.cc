#include "logs/cloudwatch/rate_limiter.h"

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

namespace retention::cloudwatch_internal {

RateLimiter::RateLimiter(int calls, SteadyClock::duration window)
    : calls_(static_cast<std::size_t>(std::max(calls, 1))), window_(window) {}

RateLimiter::SteadyClock::time_point RateLimiter::Reserve(SteadyClock::time_point now) {
  std::lock_guard lock(mu_);
  SteadyClock::time_point start = now;
  if (!starts_.empty()) {
    start = std::max(start, starts_.back());
  }
  // The call `calls_` places back must be at least one window earlier.
  if (starts_.size() == calls_) {
    start = std::max(start, starts_.front() + window_);
  }
  starts_.push_back(start);
  if (starts_.size() > calls_) {
    starts_.pop_front();
  }
  return start;
}

void RateLimiter::Acquire() { std::this_thread::sleep_until(Reserve(SteadyClock::now())); }

std::shared_ptr<RateLimiter> RateLimiter::Shared(const std::string& key, int calls,
                                                 SteadyClock::duration window) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::pair<int, SteadyClock::rep>>,
                  std::shared_ptr<RateLimiter>>
      limiters;
  std::lock_guard lock(mu);
  auto& limiter = limiters[{key, {calls, window.count()}}];
  if (!limiter) {
    limiter = std::make_shared<RateLimiter>(calls, window);
  }
  return limiter;
}

}  // namespace retention::cloudwatch_internal
