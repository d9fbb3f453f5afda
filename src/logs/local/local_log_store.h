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
#include "logs/log_store.h"

namespace retention {

class LocalLogStore final : public LogStore {
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

  // Ingest: appends `lines` to the group's segment for the UTC day of `now` (their ingestion
  // time), creating the group when missing. Unavailable when the segment cannot be written; a
  // torn last line is dropped by the next Ingest and never read.
  Status Ingest(const std::string& group, const std::vector<LogLine>& lines,
                TimePoint now) override;

  // Read: segments are read one line at a time and only the `limit` earliest lines so far are
  // held, so memory is O(limit), not the size of the group. Internal when a segment is corrupt.
  Result<std::vector<LogLine>> Read(const std::string& group, TimePoint from, TimePoint to,
                                    std::size_t limit) override;

  // Enforce: a segment whose lines have all expired (its day's end + days <= now) is deleted;
  // one with some expired lines is rewritten without them. Unavailable for an I/O error,
  // Internal for a corrupt file.
  Result<EnforceReport> Enforce(TimePoint now) override;
  // EnforceGroup: as Enforce() for one group.
  Result<EnforceReport> EnforceGroup(const std::string& group, TimePoint now) override;

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
