// The Postgres engine's schema as an ordered list of versioned migrations, applied at start-up.
// Each migration runs once, in the same transaction as its row in schema_migrations.
#pragma once

#include <span>
#include <string_view>

#include "store/postgres_db.hpp"

namespace boomer::store::pg {

// One step of the schema. Versions start at 1 and increase by 1; a released migration is never
// edited, a change is a new migration.
struct migration {
    int version;
    std::string_view name;
    const char* sql;  // one or more statements
};

// migrations returns every migration this build knows, in version order.
std::span<const migration> migrations();

// migrate brings the schema the pool's sessions use (settings().schema, created if missing, or
// else the first schema of the search_path) to the latest version and returns that version.
// Everything runs in one transaction that first takes pg_advisory_xact_lock on that schema's
// name, so replicas starting at once wait for each other and only the first one migrates.
// Errors: store_error; kind bug when the schema is newer than this build or no schema exists.
int migrate(session_pool& pool);

}  // namespace boomer::store::pg
