// Versioned schema migrations, run by `retention migrate` and at every start. Each migration runs
// in its own write transaction and is recorded in schema_migrations; a database newer than this
// binary is refused.
#pragma once

#include "core/status.h"
#include "store/sql.h"

namespace retention {

// Applies every migration not yet applied. Returns how many were applied.
Result<int> Migrate(SqlConnection& conn);
// The newest schema version this binary knows.
int LatestSchemaVersion();

}  // namespace retention
