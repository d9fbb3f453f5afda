#include "aws/backoff.h"

#include <algorithm>
#include <cstdint>
#include <random>

namespace retention {

std::chrono::milliseconds BackoffDelay(std::chrono::milliseconds base_delay,
                                       std::chrono::milliseconds max_delay, int retry) {
  std::chrono::milliseconds cap = base_delay;
  for (int i = 1; i < retry && cap < max_delay; ++i) {
    cap *= 2;
  }
  cap = std::min(cap, max_delay);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> pick(cap.count() / 2, cap.count());
  return std::chrono::milliseconds(pick(rng));
}

}  // namespace retention
