#include "logs/log_retention.h"

#include <algorithm>

namespace retention {

bool IsAllowedRetentionDays(int days) {
  return std::binary_search(kAllowedRetentionDays.begin(), kAllowedRetentionDays.end(), days);
}

Status ValidateRetentionDays(int days) {
  if (IsAllowedRetentionDays(days)) {
    return Status::Ok();
  }
  return InvalidArgument("retention of " + std::to_string(days) +
                         " days is not allowed (allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, "
                         "180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)");
}

Status ValidateLogGroupName(std::string_view group) {
  const std::string quoted = "log group '" + std::string(group) + "'";
  if (group.empty() || group.size() > 512) {
    return InvalidArgument(quoted + ": name must be 1 to 512 characters");
  }
  for (char c : group) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '/' || c == '#' || c == '-';
    if (!ok) {
      return InvalidArgument(quoted + ": name may contain only A-Z a-z 0-9 _ . / # -");
    }
  }
  if (group.find("..") != std::string_view::npos) {
    return InvalidArgument(quoted + ": name must not contain '..'");
  }
  return Status::Ok();
}

}  // namespace retention
