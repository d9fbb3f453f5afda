// AWS credentials and where they come from (the AWS_* environment variables unless given).
// Pure functions apart from reading the environment; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace retention {

// AWS credentials. The session token is optional (sent as X-Amz-Security-Token when set).
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

// `given` when set, else AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and (optional)
// AWS_SESSION_TOKEN. InvalidArgument "<what>: AWS credentials missing: set X and Y" naming every
// missing variable, or when the access key contains ':' (libcurl could not pass it).
Result<AwsCredentials> ResolveAwsCredentials(const std::optional<AwsCredentials>& given,
                                             const std::string& what);

}  // namespace retention
