#include "api/consent_rate_limiter.h"

namespace retention {

int ConsentRateLimiter::Acquire(std::int64_t user_id, TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& q = calls_[user_id];
  while (!q.empty() && now - q.front() >= std::chrono::minutes(1)) q.pop_front();
  if (static_cast<int>(q.size()) >= per_minute_) {
    const int retry_after = static_cast<int>(
        std::chrono::ceil<std::chrono::seconds>(q.front() + std::chrono::minutes(1) - now).count());
    return retry_after < 1 ? 1 : retry_after;
  }
  q.push_back(now);
  return 0;
}

}  // namespace retention
