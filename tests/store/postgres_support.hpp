// The Postgres side of the store suite: the server named by BOOMER_TEST_PG_DSN (scripts/test
// starts a throwaway one), a schema of its own per test so that tests can run in parallel, and
// an administrator connection to look at the database behind the store's back.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "store/postgres_store.hpp"

namespace boomer::store::test {

inline constexpr const char* pg_not_set = "BOOMER_TEST_PG_DSN not set: Postgres engine not tested";

// pg_dsn returns BOOMER_TEST_PG_DSN, or "" when it is not set.
std::string pg_dsn();

// pg_ready tells whether a Postgres server is configured; when not, it WARNs pg_not_set (call it
// first in a [pg] test and return when false).
bool pg_ready();

// pg_schema_for returns the schema name that belongs to the test folder `dir` (the same in a
// forked child, unique among folders that exist at once).
std::string pg_schema_for(const std::filesystem::path& dir);

// pg_unique_schema returns a schema name no other test uses.
std::string pg_unique_schema();

// pg_options returns the store options the suite uses: tables in `schema`.
postgres_options pg_options(const std::string& schema);

// pg_drop_schema drops `schema` and everything in it, if it exists.
void pg_drop_schema(const std::string& schema);

// pg_rows runs `sql` on a fresh connection (search_path `schema` when not empty) and returns its
// rows, columns joined by '|'.
std::vector<std::string> pg_rows(const std::string& sql, const std::string& schema = "");

// A unique schema for one test, dropped at the end of the scope.
class scoped_schema {
public:
    scoped_schema() : name_(pg_unique_schema()) {}
    scoped_schema(const scoped_schema&) = delete;
    scoped_schema& operator=(const scoped_schema&) = delete;
    ~scoped_schema();
    const std::string& name() const { return name_; }

private:
    std::string name_;
};

}  // namespace boomer::store::test
