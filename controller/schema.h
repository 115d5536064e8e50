// The farm database's schema as versioned migrations (PRAGMA user_version counts the applied
// ones). A migration is applied in one transaction; a database newer than this build is refused.
#pragma once

#include "common/status.h"
#include "controller/db.h"

namespace qfarm::controller {

int SchemaVersion();  // the version this build writes
Status Migrate(Db& db);

}  // namespace qfarm::controller
