// The local log store: the embedded default log backend (`logs.url = file://DIR`). It stores the
// worker log lines of each log group on disk and enforces the group's retention policy itself,
// the way CloudWatch Logs would.
//
// Layout under DIR (one folder per log group; a '/' in a group name is stored as "%2F" and a
// leading '.' as "%2E", so every group is exactly one folder; a folder name that would exceed 200
// bytes is shortened to a prefix, '~' and the name's SHA-256):
//   DIR/<group>/name                 the group's name
//   DIR/<group>/policy.json          {"retention_days": N}; absent means never expire
//   DIR/<group>/YYYY-MM-DD.jsonl     one segment per ingestion day (UTC); one JSON object a line:
//                                    {"ingestion_time": "...Z", "timestamp": "...Z", "message":
//                                    ...}
// Files are replaced atomically (write to a temporary file, then rename), so a crash leaves either
// the old or the new content.
//
// Thread-safe: every method takes one mutex. One process should own DIR.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
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

// What one Enforce() run did.
struct EnforceReport {
  int groups_with_policy = 0;      // groups whose policy was applied
  int segments_removed = 0;        // whole day-segments deleted (every line had expired)
  int segments_rewritten = 0;      // segments that kept their newer lines
  std::int64_t lines_removed = 0;  // expired lines, in removed and rewritten segments
  std::int64_t bytes_freed = 0;    // file bytes released
};

class LocalLogStore final : public LogRetention {
 public:
  // Opens the store at `url` ("file://DIR"; DIR may be relative, e.g. "file://./var/logs"),
  // creating DIR when missing. InvalidArgument for another scheme or an empty path; Unavailable
  // when DIR cannot be created.
  static Result<std::unique_ptr<LocalLogStore>> Open(const std::string& url);

  // Describe: nullopt when the group has no folder yet.
  Result<std::optional<LogGroupInfo>> Describe(const std::string& group) override;
  // List: groups ordered by name; an empty prefix lists all.
  Result<std::vector<LogGroupInfo>> List(const std::string& prefix) override;
  // SetPolicy/RemovePolicy: create the group when missing.
  Status SetPolicy(const std::string& group, int days) override;
  Status RemovePolicy(const std::string& group) override;
  std::string Url() const override;

  // Appends `lines` to the group's segment for the UTC day of `now` (their ingestion time),
  // creating the group when missing. InvalidArgument for a bad group name; Unavailable when the
  // segment cannot be written.
  Status Ingest(const std::string& group, const std::vector<LogLine>& lines, TimePoint now);

  // Lines of `group` whose event timestamp is in [from, to), ordered by timestamp (ties in
  // ingestion order), at most `limit` of them (the earliest). Segments are read one line at a
  // time and only the `limit` earliest lines so far are held, so memory is O(limit), not the
  // size of the group. An empty vector when the group does not exist. Internal when a segment is
  // corrupt.
  Result<std::vector<LogLine>> Read(const std::string& group, TimePoint from, TimePoint to,
                                    std::size_t limit);

  // Applies every group's policy at `now`: a line expires when its ingestion time + days <= now.
  // A segment whose lines have all expired (its day's end + days <= now) is deleted; one with
  // some expired lines is rewritten without them. Groups without a policy lose nothing. Stops at
  // the first I/O error and returns it (Unavailable, or Internal for a corrupt file); work done
  // before stays done, and a later run finishes it.
  Result<EnforceReport> Enforce(TimePoint now);

  // Applies one group's policy at `now`, as Enforce() does for every group, reading the policy
  // as it is stored at this moment (so a RemovePolicy made just before protects the lines). A
  // group that does not exist or has no policy loses nothing (groups_with_policy 0).
  // InvalidArgument for a bad group name; otherwise fails as Enforce() does.
  Result<EnforceReport> EnforceGroup(const std::string& group, TimePoint now);

 private:
  explicit LocalLogStore(std::filesystem::path dir, std::string url);

  std::filesystem::path GroupDir(const std::string& group) const;
  Result<std::optional<int>> ReadPolicy(const std::filesystem::path& group_dir) const;
  Status EnsureGroup(const std::string& group) const;
  Result<EnforceReport> EnforceGroupDir(const std::filesystem::path& group_dir, int days,
                                        TimePoint now);

  const std::filesystem::path dir_;
  const std::string url_;
  std::mutex mu_;
};

}  // namespace retention
