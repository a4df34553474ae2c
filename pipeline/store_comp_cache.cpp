// The store-backed second level of the comps cache (see store_comp_cache.hpp).
#include "pipeline/store_comp_cache.hpp"

#include "core/async.hpp"

namespace boomer::pipeline {

boost::asio::awaitable<std::optional<std::string>> store_comp_cache::get(const std::string& key,
                                                                         std::int64_t now_ms) {
    auto read = [this, &key, now_ms] { return db_.cache_get(key, now_ms); };
    co_return co_await run_on(pool_, read);
}

boost::asio::awaitable<void> store_comp_cache::put(const std::string& key, const std::string& value,
                                                   std::int64_t expires_at_ms) {
    auto write = [this, &key, &value, expires_at_ms] { db_.cache_put(key, value, expires_at_ms); };
    co_await run_on(pool_, write);
}

}  // namespace boomer::pipeline
