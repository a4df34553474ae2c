// The Postgres engine's second-level cache, one table shared by every replica: reads skip
// expired rows, puts replace, a claim stores only over an expired row (or none), the purge
// deletes what no read can see any more.
//
// A put commits without waiting for the disk (synchronous_commit off for its transaction only):
// a crash may forget the last puts, which costs a recomputation, never a wrong answer, and the
// cache then does not compete with the queue's durable commits for the disk.
#include <array>

#include "store/postgres_store_impl.hpp"

namespace boomer::store::pg {
namespace {

constexpr const char* put_sql = R"sql(
INSERT INTO cache_entries (key, value, expires_at_ms)
SELECT $1::text, $2::text, $3::bigint
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at_ms = excluded.expires_at_ms
)sql";

// A claim commits durably: one lost in a crash of the database could let two replicas pay.
constexpr const char* claim_sql = R"sql(
INSERT INTO cache_entries (key, value, expires_at_ms) VALUES ($1::text, $2::text, $3::bigint)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at_ms = excluded.expires_at_ms
WHERE cache_entries.expires_at_ms <= $4::bigint
)sql";

constexpr std::array<statement_def, 4> statements{{
    {"cache_get",
     "SELECT value FROM cache_entries WHERE key = $1::text AND expires_at_ms > $2::bigint"},
    {"cache_put", put_sql},
    {"cache_claim", claim_sql},
    {"cache_purge", "DELETE FROM cache_entries WHERE expires_at_ms <= $1::bigint"},
}};

}  // namespace

std::span<const statement_def> cache_statements() {
    return statements;
}

std::optional<std::string> postgres_store::cache_get(std::string_view key, std::int64_t now_ms) {
    auto rows = exec("cache_get", key, now_ms);
    if (rows.empty()) {
        return std::nullopt;
    }
    return rows[0][0].as<std::string>();
}

void postgres_store::cache_put(std::string_view key, std::string_view value,
                               std::int64_t expires_at_ms) {
    exec("cache_put", key, value, expires_at_ms);
}

bool postgres_store::cache_claim(std::string_view key, std::string_view value,
                                 std::int64_t expires_at_ms, std::int64_t now_ms) {
    return exec("cache_claim", key, value, expires_at_ms, now_ms).affected_rows() == 1;
}

std::int64_t postgres_store::cache_purge_expired(std::int64_t now_ms) {
    return exec("cache_purge", now_ms).affected_rows();
}

}  // namespace boomer::store::pg
