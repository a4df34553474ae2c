// The store's shared cache table as the second level of the comps cache, so that replicas on
// one database reuse each other's market answers.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "pipeline/market/fan_out.hpp"
#include "store/store.hpp"

namespace boomer::pipeline {

class store_comp_cache final : public market::comp_cache_backend {
public:
    // `db` and `pool` must outlive the cache. The store's blocking calls run on `pool`.
    store_comp_cache(store::store& db, boost::asio::thread_pool& pool) : db_(db), pool_(pool) {}

    // Both may throw store::store_error; the fan-out treats that as a miss or a skipped save.
    boost::asio::awaitable<std::optional<std::string>> get(const std::string& key,
                                                           std::int64_t now_ms) override;
    boost::asio::awaitable<void> put(const std::string& key, const std::string& value,
                                     std::int64_t expires_at_ms) override;

private:
    store::store& db_;
    boost::asio::thread_pool& pool_;
};

}  // namespace boomer::pipeline
