// The log retention port (R8): reads and sets the retention policy of a log group on whichever
// log backend the deployment uses (the local log store or CloudWatch Logs).
//
// Implementations are thread-safe: one instance is shared by every thread of the process. No
// method throws; failures are returned as Status with these codes:
//   InvalidArgument  a bad group name or a retention value outside kAllowedRetentionDays;
//   NotFound         the group does not exist (CloudWatch only; the local store creates groups);
//   Unauthenticated  the backend refused the credentials (CloudWatch: bad keys or signature);
//   PermissionDenied the credentials may not do this (CloudWatch: AccessDeniedException);
//   Unavailable      the backend could not be reached or kept refusing (retry later);
//   Internal         the backend answered something unexpected (the message says what).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace retention {

// CloudWatch Logs' allowed retention values in days, ascending. Kept local to logs/ so the port
// does not depend on domain/ (domain/log_policy.h holds the same list for the R8 math).
inline constexpr std::array<int, 22> kAllowedRetentionDays = {
    1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
    365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

// True when `days` is one of kAllowedRetentionDays.
bool IsAllowedRetentionDays(int days);

// Ok when `days` is allowed; InvalidArgument naming the value otherwise.
Status ValidateRetentionDays(int days);

// Ok when `group` is a valid log group name: 1..512 characters from [A-Za-z0-9_./#-], without
// "..". InvalidArgument naming the group and the rule otherwise.
Status ValidateLogGroupName(std::string_view group);

// A log group and its retention policy.
struct LogGroupInfo {
  std::string name;
  // Days after ingestion at which lines are purged; nullopt means never expire.
  std::optional<int> retention_days;

  friend bool operator==(const LogGroupInfo&, const LogGroupInfo&) = default;
};

class LogRetention {
 public:
  virtual ~LogRetention() = default;

  // The group's current policy; nullopt when the group does not exist.
  virtual Result<std::optional<LogGroupInfo>> Describe(const std::string& group) = 0;

  // Every group whose name starts with `prefix` (all pages), ordered by name. An empty prefix
  // lists every group.
  virtual Result<std::vector<LogGroupInfo>> List(const std::string& prefix) = 0;

  // Sets the retention policy to `days`, which must be one of kAllowedRetentionDays
  // (InvalidArgument otherwise). CloudWatch: NotFound when the group does not exist. The local
  // store creates the group on first use.
  virtual Status SetPolicy(const std::string& group, int days) = 0;

  // Removes the retention policy (never expire); ok when there was none. CloudWatch: NotFound when
  // the group does not exist. The local store creates the group on first use.
  virtual Status RemovePolicy(const std::string& group) = 0;

  // The backend's URL without credentials, for logs and status output, e.g. "file://./var/logs"
  // or "cloudwatch://us-east-1?endpoint=http://127.0.0.1:4566". Named Url() rather than a second
  // Describe() overload so that a test double overriding one cannot hide the other.
  virtual std::string Url() const = 0;
};

}  // namespace retention
