// One SigV4-signed HTTP request to an AWS service over libcurl (CURLOPT_AWS_SIGV4), shared by the
// AWS adapters. The client signs; the caller owns what libcurl 7.88 gets wrong for S3 (NOTES.md):
// it builds the path and the query in canonical form (encoded, sorted), sends
// x-amz-content-sha256 and Content-Type itself where the service needs them, and never passes an
// "Expect:" header (libcurl signs it but does not send it).
//
// Thread-safe: one client serves every thread; curl handles are pooled for connection reuse.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/aws_credentials.h"
#include "core/status.h"

namespace retention {

// What every AWS adapter's options share: credentials, retries and timeouts.
struct AwsClientOptions {
  // Credentials to sign with; when unset, read from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
  // (optional) AWS_SESSION_TOKEN.
  std::optional<AwsCredentials> credentials;
  // Calls per operation, the first included, before giving up with Unavailable. At least 1.
  int max_attempts = 6;
  // Backoff before retry n (1-based) is drawn from [d/2, d] with d = min(max_delay,
  // base_delay * 2^(n-1)) (aws/backoff.h).
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{10000};
  // Time to connect, and for a whole request.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
};

// InvalidArgument "<who>: ..." when max_attempts < 1 or not 0 <= base_delay <= max_delay.
Status ValidateAwsClientOptions(const AwsClientOptions& options, const std::string& who);

struct AwsHttpRequest {
  // GET, HEAD, PUT, POST or DELETE.
  std::string method;
  // The whole URL, its path and query already canonical (libcurl signs them as given).
  std::string url;
  // "Name: value" lines; every one is signed. Never "Expect:".
  std::vector<std::string> headers;
  // Sent for PUT and POST.
  std::string_view body;
};

struct AwsHttpResponse {
  int status = 0;
  std::string body;
  // The last response's headers, names in lower case, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  // The first value of header `lower_case_name`, or "" when absent.
  std::string Header(std::string_view lower_case_name) const;
};

class AwsHttpClient {
 public:
  // `service_name` names the service in messages ("CloudWatch Logs", "S3"); `sigv4` is libcurl's
  // provider string, e.g. "aws:amz:us-east-1:s3". Makes no call.
  AwsHttpClient(std::string service_name, std::string sigv4, AwsCredentials credentials,
                std::chrono::milliseconds connect_timeout,
                std::chrono::milliseconds request_timeout);
  ~AwsHttpClient();
  AwsHttpClient(const AwsHttpClient&) = delete;
  AwsHttpClient& operator=(const AwsHttpClient&) = delete;

  // Sends `request` signed (with X-Amz-Security-Token when the credentials have a session token)
  // and returns whatever HTTP answer came back, error statuses included. Unavailable "cannot
  // reach <service>: ..." when no answer came back, with `*retryable` true for connection
  // failures and timeouts; Internal when libcurl cannot start.
  Result<AwsHttpResponse> Send(const AwsHttpRequest& request, bool* retryable);

 private:
  void* TakeHandle();
  void ReturnHandle(void* handle);

  const std::string service_name_;
  const std::string sigv4_;
  const AwsCredentials credentials_;
  const std::chrono::milliseconds connect_timeout_;
  const std::chrono::milliseconds request_timeout_;

  std::mutex handles_mu_;
  std::vector<void*> handles_;  // idle CURL* handles, kept for connection reuse
};

}  // namespace retention
