// The store's shared cache table as the second level of the comps cache, so that replicas on
// one database reuse each other's market answers.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "cache/tiered_cache.hpp"
#include "pipeline/market/fan_out.hpp"
#include "store/store.hpp"

namespace boomer::pipeline {

class store_comp_cache final : public market::comp_cache_backend {
public:
    // `db` and `pool` must outlive the cache. The store's blocking calls run on `pool`.
    store_comp_cache(store::store& db, boost::asio::thread_pool& pool) : level_(db), pool_(pool) {}

    // Both block and may throw store::store_error; the comps cache treats that as a miss or a
    // skipped save.
    std::optional<std::string> get(std::string_view key, std::int64_t now_ms) override;
    void put(std::string_view key, std::string_view value, std::int64_t expires_at_ms) override;
    boost::asio::thread_pool* pool() override { return &pool_; }

private:
    cache::store_second_level level_;
    boost::asio::thread_pool& pool_;
};

}  // namespace boomer::pipeline
