// The store's second-level cache calls behind cache::second_level.
#include "cache/tiered_cache.hpp"

#include "store/store.hpp"

namespace boomer::cache {

std::optional<std::string> store_second_level::get(std::string_view key, std::int64_t now_ms) {
    return store_.cache_get(key, now_ms);
}

void store_second_level::put(std::string_view key, std::string_view value,
                             std::int64_t expires_at_ms) {
    store_.cache_put(key, value, expires_at_ms);
}

bool store_second_level::claim(std::string_view key, std::string_view value,
                               std::int64_t expires_at_ms, std::int64_t now_ms) {
    return store_.cache_claim(key, value, expires_at_ms, now_ms);
}

}  // namespace boomer::cache
