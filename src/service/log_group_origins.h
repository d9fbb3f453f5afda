// The origin of each log group (R8, issue 8 defect 1): the first time the service saw the group,
// at its first reconcile or its first ingested line, stored in log_group_origins. Before E the
// log retention policy counts from the earliest of the challenge's start and this origin, never
// from a moving now, so a line stored since the origin is kept until E. An origin never moves
// later: recording a later time is a no-op.
//
// Functions run on the caller's connection (inside its transaction when there is one); not
// thread-safe beyond the connection's own rules.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "core/time.h"
#include "store/sql.h"

namespace retention {

// The stored origin of `group`; nullopt when the service has never seen it. Returns the
// database's error.
Result<std::optional<TimePoint>> LogGroupOrigin(SqlConnection& conn, const std::string& group);

// Records `seen_at` as the origin of `group` unless an earlier (or equal) origin is stored.
// Returns the database's error.
Status RecordLogGroupOrigin(SqlConnection& conn, const std::string& group, TimePoint seen_at);

}  // namespace retention
