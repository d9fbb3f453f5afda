// Exponential backoff with jitter for retried AWS calls. Thread-safe (a generator per thread).
#pragma once

#include <chrono>

namespace retention {

// The wait before retry `retry` (1-based): drawn uniformly from [d/2, d] with
// d = min(max_delay, base_delay * 2^(retry-1)). Preconditions: 0 <= base_delay <= max_delay.
std::chrono::milliseconds BackoffDelay(std::chrono::milliseconds base_delay,
                                       std::chrono::milliseconds max_delay, int retry);

}  // namespace retention
