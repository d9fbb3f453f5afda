#include "aws/aws_credentials.h"

#include <cstdlib>
#include <vector>

namespace retention {
namespace {

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

Result<AwsCredentials> ResolveAwsCredentials(const std::optional<AwsCredentials>& given,
                                             const std::string& what) {
  AwsCredentials credentials;
  if (given) {
    credentials = *given;
  } else {
    credentials = {Getenv("AWS_ACCESS_KEY_ID"), Getenv("AWS_SECRET_ACCESS_KEY"),
                   Getenv("AWS_SESSION_TOKEN")};
  }
  std::vector<std::string> missing;
  if (credentials.access_key_id.empty()) {
    missing.emplace_back("AWS_ACCESS_KEY_ID");
  }
  if (credentials.secret_access_key.empty()) {
    missing.emplace_back("AWS_SECRET_ACCESS_KEY");
  }
  if (!missing.empty()) {
    std::string names = missing[0];
    for (std::size_t i = 1; i < missing.size(); ++i) {
      names += " and " + missing[i];
    }
    return InvalidArgument(what + ": AWS credentials missing: set " + names);
  }
  if (credentials.access_key_id.find(':') != std::string::npos) {
    return InvalidArgument(what + ": AWS_ACCESS_KEY_ID must not contain ':'");
  }
  return credentials;
}

}  // namespace retention
