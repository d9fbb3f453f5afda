// The CloudWatch Logs adapter of the log retention port (`logs.url = cloudwatch://REGION`).
//
// Speaks the AWS JSON 1.1 protocol over libcurl (POST /, X-Amz-Target: Logs_20140328.<Op>),
// signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:logs"). Uses
// PutRetentionPolicy, DeleteRetentionPolicy and DescribeLogGroups.
//
// Throttling, OperationAborted, ServiceUnavailable, HTTP 5xx and connection failures are retried
// with exponential backoff and jitter, up to `max_attempts` calls; then Unavailable. Every call,
// retries included, first waits for a process-wide rate limiter shared by all clients of the same
// endpoint: never more than `calls_per_second` starts in any one-second window (R8: at most 5).
//
// Thread-safe: one instance serves every thread; curl handles are pooled and reused.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/aws_credentials.h"
#include "aws/aws_http_client.h"
#include "core/status.h"
#include "logs/log_retention.h"

namespace retention {

namespace cloudwatch_internal {
class RateLimiter;
}  // namespace cloudwatch_internal

// Credentials, retries and timeouts as in AwsClientOptions, plus the rate limit.
struct CloudWatchOptions : AwsClientOptions {
  // Most calls started in any one-second window, across the process (AWS allows 5/s for
  // PutRetentionPolicy and DeleteRetentionPolicy).
  int calls_per_second = 5;
};

class CloudWatchLogs final : public LogRetention {
 public:
  // Opens a client for `url` = "cloudwatch://REGION" or "cloudwatch://REGION?endpoint=URL"
  // (default endpoint https://logs.REGION.amazonaws.com). Makes no call. InvalidArgument naming
  // the problem for a malformed URL, an unknown query parameter, a non-http(s) endpoint, missing
  // credentials (every missing variable named) or out-of-range options.
  static Result<std::unique_ptr<CloudWatchLogs>> Open(const std::string& url,
                                                      CloudWatchOptions options = {});
  ~CloudWatchLogs() override;
  CloudWatchLogs(const CloudWatchLogs&) = delete;
  CloudWatchLogs& operator=(const CloudWatchLogs&) = delete;

  // DescribeLogGroups with the name as prefix, picking the exact match (following pages).
  Result<std::optional<LogGroupInfo>> Describe(const std::string& group) override;
  // DescribeLogGroups over every page; an empty prefix lists every group of the region.
  Result<std::vector<LogGroupInfo>> List(const std::string& prefix) override;
  // PutRetentionPolicy. NotFound when the group does not exist.
  Status SetPolicy(const std::string& group, int days) override;
  // DeleteRetentionPolicy. NotFound when the group does not exist; ok when it had no policy.
  Status RemovePolicy(const std::string& group) override;
  // The URL given to Open().
  std::string Url() const override;

 private:
  CloudWatchLogs(std::string url, std::string region, std::string endpoint,
                 AwsCredentials credentials, CloudWatchOptions options);

  // One signed POST; Unavailable (with `retryable`) when no HTTP answer came back.
  Result<AwsHttpResponse> Post(const std::string& operation, const std::string& body,
                               bool* retryable);
  // One operation with rate limiting and retries; returns the JSON answer's text.
  Result<std::string> Call(const std::string& operation, const std::string& body);
  // One DescribeLogGroups page: groups into `out`, the next token (empty at the end).
  Result<std::string> DescribePage(const std::string& prefix, const std::string& token,
                                   std::vector<LogGroupInfo>* out);

  const std::string url_;
  const std::string region_;
  const std::string endpoint_;  // without a trailing '/'
  const CloudWatchOptions options_;
  const std::shared_ptr<cloudwatch_internal::RateLimiter> limiter_;
  AwsHttpClient http_;
};

}  // namespace retention
