#include "logs/cloudwatch/aws_error.h"

#include <nlohmann/json.hpp>

namespace retention::cloudwatch_internal {
namespace {

std::string StripType(std::string_view type) {
  if (auto hash = type.rfind('#'); hash != std::string_view::npos) {
    type.remove_prefix(hash + 1);
  }
  if (auto colon = type.find(':'); colon != std::string_view::npos) {
    type = type.substr(0, colon);
  }
  while (!type.empty() && (type.back() == ' ' || type.back() == '\r')) {
    type.remove_suffix(1);
  }
  while (!type.empty() && type.front() == ' ') {
    type.remove_prefix(1);
  }
  return std::string(type);
}

std::string BodyString(std::string_view body, const char* key, const char* alt) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return "";
  }
  for (const char* k : {key, alt}) {
    if (auto it = j.find(k); it != j.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return "";
}

}  // namespace

std::string AwsErrorType(std::string_view error_type_header, std::string_view body) {
  std::string type = StripType(error_type_header);
  if (!type.empty()) {
    return type;
  }
  return StripType(BodyString(body, "__type", "code"));
}

std::string AwsErrorMessage(std::string_view body) {
  return BodyString(body, "message", "Message");
}

bool IsRetryableAwsError(std::string_view type, int http_status) {
  return type == "ThrottlingException" || type == "OperationAbortedException" ||
         type == "ServiceUnavailableException" || http_status >= 500;
}

Status StatusForAwsError(std::string_view type, int http_status, std::string_view message) {
  std::string text = type.empty() ? "HTTP " + std::to_string(http_status) : std::string(type);
  if (!message.empty()) {
    text += ": " + std::string(message);
  }
  if (type == "ResourceNotFoundException") {
    return NotFound(text);
  }
  if (type == "InvalidParameterException") {
    return InvalidArgument(text);
  }
  if (type == "InvalidSignatureException" || type == "UnrecognizedClientException" ||
      type == "MissingAuthenticationTokenException" || type == "ExpiredTokenException" ||
      type == "IncompleteSignatureException") {
    return Unauthenticated(text);
  }
  if (type == "AccessDeniedException") {
    return PermissionDenied(text);
  }
  if (IsRetryableAwsError(type, http_status)) {
    return Unavailable(text);
  }
  return Internal(text);
}

}  // namespace retention::cloudwatch_internal
