// The Postgres side of the store suite: server, schemas, administrator queries.
#include "tests/store/postgres_support.hpp"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <pqxx/pqxx>
#include <random>

namespace boomer::store::test {
namespace {

std::string hex(std::string_view text) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        out += digits[byte >> 4];
        out += digits[byte & 0x0f];
    }
    return out;
}

}  // namespace

std::string pg_dsn() {
    const char* dsn = std::getenv("BOOMER_TEST_PG_DSN");
    return dsn == nullptr ? std::string() : std::string(dsn);
}

bool pg_ready() {
    if (pg_dsn().empty()) {
        WARN(pg_not_set);
        return false;
    }
    return true;
}

std::string pg_schema_for(const std::filesystem::path& dir) {
    // Folder names are unique while the folders exist (mkdtemp); hex keeps the name lower case.
    return "boomer_test_" + hex(dir.filename().string());
}

std::string pg_unique_schema() {
    static std::atomic<int> counter{0};
    std::random_device random;
    return "boomer_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" +
           std::to_string(random() % 1'000'000);
}

postgres_options pg_options(const std::string& schema) {
    postgres_options options;
    options.schema = schema;
    options.application_name = "boomer-test";
    return options;
}

void pg_drop_schema(const std::string& schema) {
    pqxx::connection conn(pg_dsn());
    pqxx::nontransaction tx(conn);
    tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(schema) + " CASCADE");
}

std::vector<std::string> pg_rows(const std::string& sql, const std::string& schema) {
    pqxx::connection conn(pg_dsn());
    pqxx::nontransaction tx(conn);
    if (!schema.empty()) {
        tx.exec0("SET search_path TO " + tx.quote_name(schema));
    }
    std::vector<std::string> rows;
    for (const auto& row : tx.exec(sql)) {
        std::string line;
        for (const auto& field : row) {
            line += (line.empty() && field.num() == 0 ? "" : "|") + std::string(field.c_str());
        }
        rows.push_back(line);
    }
    return rows;
}

scoped_schema::~scoped_schema() {
    if (pg_dsn().empty()) {
        return;
    }
    try {
        pg_drop_schema(name_);
    } catch (const std::exception& x) {
        WARN("cannot drop schema " << name_ << ": " << x.what());
    }
}

}  // namespace boomer::store::test

// LeakSanitizer (debug preset): libpqxx 6.4 leaks the PGresult of a statement that fails on a
// connection the server has closed (its error path throws before taking ownership). The
// reconnection tests do exactly that on purpose, so leaks inside libpqxx are not reported; the
// store holds every libpqxx object by value or unique_ptr. Ignored without a sanitizer.
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libpqxx-6.4.so\n";
}
