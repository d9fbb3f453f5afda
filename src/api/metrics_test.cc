#include "api/metrics.h"

#include <gtest/gtest.h>

namespace retention {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(RequestMetricsTest, CountsByRouteAndStatusWithCumulativeBuckets) {
  RequestMetrics m;
  m.Record("GET /healthz", 200, 0.002);
  m.Record("GET /healthz", 200, 0.5);
  m.Record("GET /healthz", 503, 2.0);
  const std::string text = m.Prometheus({});
  EXPECT_TRUE(Has(text, "retention_http_requests_total{route=\"GET /healthz\",status=\"200\"} 2"));
  EXPECT_TRUE(Has(text, "retention_http_requests_total{route=\"GET /healthz\",status=\"503\"} 1"));
  EXPECT_TRUE(
      Has(text,
          "retention_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"0.001\"} 0"));
  EXPECT_TRUE(Has(
      text,
      "retention_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"0.0025\"} 1"));
  EXPECT_TRUE(Has(
      text, "retention_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"1\"} 2"));
  EXPECT_TRUE(
      Has(text,
          "retention_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"+Inf\"} 3"));
  EXPECT_TRUE(Has(text, "retention_http_request_duration_seconds_count{route=\"GET /healthz\"} 3"));
}

TEST(RequestMetricsTest, WritesTheDatabaseFigures) {
  RetentionGauges g;
  g.artifacts_deleted = 7;
  g.bytes_freed = 700;
  g.sweep_failures = 1;
  g.backlog_submissions = 3;
  g.oldest_overdue_seconds = 86400;
  g.job_last_success["update_submission_retention_dates"] = 1780000000;
  const std::string text = RequestMetrics().Prometheus(g);
  EXPECT_TRUE(Has(text, "retention_artifacts_deleted_total 7"));
  EXPECT_TRUE(Has(text, "retention_bytes_freed_total 700"));
  EXPECT_TRUE(Has(text, "retention_sweep_failures 1"));
  EXPECT_TRUE(Has(text, "retention_backlog_submissions 3"));
  EXPECT_TRUE(Has(text, "retention_oldest_overdue_seconds 86400"));
  EXPECT_TRUE(
      Has(text,
          "retention_job_last_success_timestamp_seconds{job_name=\"update_submission_retention_"
          "dates\"} 1780000000"));
}

TEST(RequestMetricsTest, WritesTheFiguresTheAlertsRead) {
  RetentionGauges g;
  g.job_last_failure["cleanup_expired_submission_artifacts"] = 1780000100;
  g.job_last_duration["cleanup_expired_submission_artifacts"] = 42;
  g.outbox_by_state["failed"] = 2;
  g.outbox_retrying = 4;
  g.log_groups_by_state["pending"] = 5;
  const std::string text = RequestMetrics().Prometheus(g);
  EXPECT_TRUE(Has(text, "# TYPE retention_job_last_failure_timestamp_seconds gauge"));
  EXPECT_TRUE(
      Has(text,
          "retention_job_last_failure_timestamp_seconds{job_name=\"cleanup_expired_submission_"
          "artifacts\"} 1780000100"));
  EXPECT_TRUE(Has(text,
                  "retention_job_last_duration_seconds{job_name=\"cleanup_expired_submission_"
                  "artifacts\"} 42"));
  EXPECT_TRUE(Has(text, "retention_outbox_mail{state=\"failed\"} 2"));
  EXPECT_TRUE(Has(text, "retention_outbox_retrying 4"));
  EXPECT_TRUE(Has(text, "retention_log_groups{state=\"pending\"} 5"));
}

}  // namespace
}  // namespace retention
