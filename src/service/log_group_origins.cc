#include "service/log_group_origins.h"

namespace retention {

Result<std::optional<TimePoint>> LogGroupOrigin(SqlConnection& conn, const std::string& group) {
  ASSIGN_OR_RETURN(auto row, conn.QueryOne("SELECT first_seen_at FROM log_group_origins WHERE "
                                           "group_name = ?",
                                           {group}));
  if (!row) return std::optional<TimePoint>();
  return std::optional<TimePoint>(FromUnix(row->Int(0)));
}

Status RecordLogGroupOrigin(SqlConnection& conn, const std::string& group, TimePoint seen_at) {
  return conn
      .Exec(
          "INSERT INTO log_group_origins (group_name, first_seen_at) VALUES (?, ?) "
          "ON CONFLICT (group_name) DO UPDATE SET first_seen_at = excluded.first_seen_at "
          "WHERE excluded.first_seen_at < log_group_origins.first_seen_at",
          {group, ToUnix(seen_at)})
      .status();
}

}  // namespace retention
