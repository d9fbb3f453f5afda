// GET /metrics: request counts and latency per route, recorded as requests finish, and the
// retention figures read from the database (service/views.h), in the Prometheus text format.
//
// Thread-safe: Record() and Prometheus() may run concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "service/views.h"

namespace retention {

class RequestMetrics {
 public:
  // Upper bounds of the latency histogram's buckets, in seconds.
  static constexpr std::array<double, 10> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,  0.1,    0.25,  0.5,  1.0};

  // Counts one request of `route` ("METHOD pattern", "static" or "unmatched") answered with
  // `status` after `seconds`.
  void Record(const std::string& route, int status, double seconds);

  // The Prometheus text: retention_http_requests_total, retention_http_request_duration_seconds
  // (from what was recorded so far), then the gauges and counters of `gauges`.
  std::string Prometheus(const RetentionGauges& gauges) const;

 private:
  struct PerRoute {
    std::map<int, std::uint64_t> by_status;
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, PerRoute> routes_;
};

}  // namespace retention
