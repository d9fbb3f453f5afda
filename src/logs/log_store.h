// The log store port: a log backend that keeps the worker log lines itself and so enforces its
// retention policies itself (today the local log store, `logs.url = file://DIR`). It is the log
// retention port (log_retention.h) plus ingesting lines, reading them and purging expired ones.
// A backend that receives the lines directly from the platform (CloudWatch Logs) implements only
// LogRetention: there the service neither ingests nor serves lines, and the backend purges them.
//
// Retention counts from each line's ingestion time, as in CloudWatch Logs: a line of a group with
// a policy of `days` expires when its ingestion time + days <= now. A group without a policy never
// loses a line.
//
// Implementations are thread-safe: one instance is shared by every thread of the process. No
// method throws; besides the codes of log_retention.h, failures are returned as
//   InvalidArgument  a bad group name (ValidateLogGroupName);
//   Unavailable      the lines could not be written or read (retry later);
//   Internal         stored lines are corrupt (the message names the file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "logs/log_retention.h"

namespace retention {

// One log line as the platform sends it.
struct LogLine {
  TimePoint timestamp;  // when the event happened (the worker's clock)
  std::string message;

  friend bool operator==(const LogLine&, const LogLine&) = default;
};

// What one enforcement run did. A store keeps a group's lines in segments (the local store: one
// file per ingestion day).
struct EnforceReport {
  int groups_with_policy = 0;      // groups whose policy was applied
  int segments_removed = 0;        // whole segments deleted (every line had expired)
  int segments_rewritten = 0;      // segments that kept their newer lines
  std::int64_t lines_removed = 0;  // expired lines, in removed and rewritten segments
  std::int64_t bytes_freed = 0;    // stored bytes released
};

class LogStore : public LogRetention {
 public:
  // Stores `lines` in `group` with `now` as their ingestion time, creating the group when
  // missing. InvalidArgument for a bad group name (nothing stored); Unavailable when the lines
  // cannot be written (some of them may be stored already).
  virtual Status Ingest(const std::string& group, const std::vector<LogLine>& lines,
                        TimePoint now) = 0;

  // Lines of `group` whose event timestamp is in [from, to), ordered by timestamp (ties in
  // ingestion order), at most `limit` of them (the earliest). An empty vector when the group does
  // not exist. InvalidArgument for a bad group name; Internal when stored lines are corrupt.
  virtual Result<std::vector<LogLine>> Read(const std::string& group, TimePoint from, TimePoint to,
                                            std::size_t limit) = 0;

  // Applies every group's stored policy at `now`, removing the expired lines. Stops at the first
  // failure and returns it (Unavailable, or Internal for corrupt lines); what was removed before
  // stays removed, and a later run finishes the rest.
  virtual Result<EnforceReport> Enforce(TimePoint now) = 0;

  // Applies one group's policy at `now` as Enforce() does, reading the policy as it is stored at
  // this moment (so a RemovePolicy made just before protects the lines). A group that does not
  // exist or has no policy loses nothing (groups_with_policy 0). InvalidArgument for a bad group
  // name; otherwise fails as Enforce() does.
  virtual Result<EnforceReport> EnforceGroup(const std::string& group, TimePoint now) = 0;
};

}  // namespace retention
