#include "api/metrics.h"

#include <sstream>

namespace retention {

void RequestMetrics::Record(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& m = routes_[route];
  ++m.by_status[status];
  ++m.count;
  m.sum += seconds;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++m.buckets[i];
  }
}

std::string RequestMetrics::Prometheus(const RetentionGauges& gauges) const {
  std::map<std::string, PerRoute> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot = routes_;
  }
  std::ostringstream out;
  out << "# HELP retention_http_requests_total HTTP requests by route and status.\n"
      << "# TYPE retention_http_requests_total counter\n";
  for (const auto& [route, m] : snapshot) {
    for (const auto& [status, n] : m.by_status) {
      out << "retention_http_requests_total{route=\"" << route << "\",status=\"" << status << "\"} "
          << n << "\n";
    }
  }
  out << "# HELP retention_http_request_duration_seconds Request latency.\n"
      << "# TYPE retention_http_request_duration_seconds histogram\n";
  for (const auto& [route, m] : snapshot) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out << "retention_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\""
          << kBuckets[i] << "\"} " << m.buckets[i] << "\n";
    }
    out << "retention_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\"+Inf\"} "
        << m.count << "\n"
        << "retention_http_request_duration_seconds_sum{route=\"" << route << "\"} " << m.sum
        << "\n"
        << "retention_http_request_duration_seconds_count{route=\"" << route << "\"} " << m.count
        << "\n";
  }
  auto gauge = [&](const char* name, const char* help, const char* type, std::int64_t value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
        << name << " " << value << "\n";
  };
  gauge("retention_artifacts_deleted_total", "Artifacts deleted by sweeps.", "counter",
        gauges.artifacts_deleted);
  gauge("retention_bytes_freed_total", "Bytes freed by sweeps.", "counter", gauges.bytes_freed);
  gauge("retention_sweep_failures", "Artifacts whose last deletion attempt failed.", "gauge",
        gauges.sweep_failures);
  gauge("retention_backlog_submissions", "Submissions whose eligible date has passed.", "gauge",
        gauges.backlog_submissions);
  gauge("retention_oldest_overdue_seconds",
        "Age of the oldest submission past its eligible date and not yet deleted.", "gauge",
        gauges.oldest_overdue_seconds);
  // The job's label is job_name: Prometheus gives every scraped series a `job` label of its
  // own (the scrape job) and would rename ours to exported_job.
  out << "# HELP retention_job_last_success_timestamp_seconds Last successful run per job.\n"
      << "# TYPE retention_job_last_success_timestamp_seconds gauge\n";
  for (const auto& [job, at] : gauges.job_last_success) {
    out << "retention_job_last_success_timestamp_seconds{job_name=\"" << job << "\"} " << at
        << "\n";
  }
  auto labelled = [&](const char* name, const char* help, const char* label,
                      const std::map<std::string, std::int64_t>& values) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
    for (const auto& [key, value] : values) {
      out << name << "{" << label << "=\"" << key << "\"} " << value << "\n";
    }
  };
  labelled("retention_job_last_failure_timestamp_seconds", "Last failed run per job.", "job_name",
           gauges.job_last_failure);
  labelled("retention_job_last_duration_seconds", "How long the last finished run took, per job.",
           "job_name", gauges.job_last_duration);
  labelled("retention_outbox_mail", "Mail in the outbox per state.", "state",
           gauges.outbox_by_state);
  gauge("retention_outbox_retrying", "Queued mail whose last attempt failed.", "gauge",
        gauges.outbox_retrying);
  labelled("retention_log_groups", "Log groups per log retention state (R8).", "state",
           gauges.log_groups_by_state);
  return out.str();
}

}  // namespace retention
