// The SQLite engine's second-level cache: one row per key with its expiry. Reads skip expired
// rows; puts replace; a claim stores only over an expired row (or none); the purge deletes what
// no read can see any more.
#include "store/sqlite_store_impl.hpp"

namespace boomer::store::sqlite {

std::optional<std::string> sqlite_store::cache_get(std::string_view key, std::int64_t now_ms) {
    auto conn = pool_.acquire();
    auto st =
        conn->prepare("SELECT value FROM cache_entries WHERE key = ?1 AND expires_at_ms > ?2");
    if (!st.bind_all(key, now_ms).step()) {
        return std::nullopt;
    }
    return st.text(0);
}

void sqlite_store::cache_put(std::string_view key, std::string_view value,
                             std::int64_t expires_at_ms) {
    write([&](connection& c) {
        c.prepare(
             "INSERT INTO cache_entries (key, value, expires_at_ms) VALUES (?1, ?2, ?3) "
             "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
             "expires_at_ms = excluded.expires_at_ms")
            .bind_all(key, value, expires_at_ms)
            .run();
    });
}

bool sqlite_store::cache_claim(std::string_view key, std::string_view value,
                               std::int64_t expires_at_ms, std::int64_t now_ms) {
    std::int64_t stored = 0;
    write([&](connection& c) {
        stored = c.prepare(
                      "INSERT INTO cache_entries (key, value, expires_at_ms) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                      "expires_at_ms = excluded.expires_at_ms "
                      "WHERE cache_entries.expires_at_ms <= ?4")
                     .bind_all(key, value, expires_at_ms, now_ms)
                     .run();
    });
    return stored == 1;
}

std::int64_t sqlite_store::cache_purge_expired(std::int64_t now_ms) {
    std::int64_t removed = 0;
    write([&](connection& c) {
        removed =
            c.prepare("DELETE FROM cache_entries WHERE expires_at_ms <= ?1").bind_all(now_ms).run();
    });
    return removed;
}

}  // namespace boomer::store::sqlite
