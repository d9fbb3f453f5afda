// Reading AWS JSON-protocol errors and mapping them to Status: the one place where CloudWatch
// Logs' error types and HTTP statuses become status codes. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace retention::cloudwatch_internal {

// The error type of an AWS JSON answer: the x-amzn-ErrorType header when present, else the
// body's "__type", with any "namespace#" prefix and ":..." suffix removed
// ("com.amazonaws.logs#ThrottlingException:http://..." -> "ThrottlingException"). Empty when
// neither names one.
std::string AwsErrorType(std::string_view error_type_header, std::string_view body);

// The body's "message" (or "Message"); empty when there is none or the body is not JSON.
std::string AwsErrorMessage(std::string_view body);

// True when the call should be retried with backoff: throttling, an aborted concurrent
// operation, an unavailable service, or any HTTP 5xx.
bool IsRetryableAwsError(std::string_view type, int http_status);

// The Status for a failed call (http_status != 200): ResourceNotFoundException -> NotFound,
// InvalidParameterException -> InvalidArgument, signature and credential errors ->
// Unauthenticated, AccessDeniedException -> PermissionDenied, retryable errors -> Unavailable,
// anything else -> Internal. The message names the type and carries AWS's message.
Status StatusForAwsError(std::string_view type, int http_status, std::string_view message);

}  // namespace retention::cloudwatch_internal
