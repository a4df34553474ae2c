// The SQLite engine's schema as an ordered list of versioned migrations, applied at open. Each
// migration runs once, inside the same transaction as its row in schema_migrations.
#pragma once

#include <span>
#include <string_view>

#include "store/sqlite_db.hpp"

namespace boomer::store::sqlite {

// One step of the schema. Versions start at 1 and increase by 1; a released migration is never
// edited, a change is a new migration.
struct migration {
    int version;
    std::string_view name;
    const char* sql;  // one or more statements
};

// migrations returns every migration this build knows, in version order.
std::span<const migration> migrations();

// migrate brings the database behind `conn` to the latest version and returns that version.
// Safe when several processes open the same file at once (the check and the steps run under
// the database write lock). Errors: store_error; kind bug when the database is newer than
// this build.
int migrate(connection& conn, std::mutex& write_mutex);

}  // namespace boomer::store::sqlite
