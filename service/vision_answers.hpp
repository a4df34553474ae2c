// The paid-answer store of the vision model: a sharded in-memory LRU (bounded by entries and by
// bytes) in front of the database's shared cache table, so every replica, and every restart,
// reuses an answer that was already paid for, and a hot answer costs no SQL.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>

#include "cache/lru_cache.hpp"
#include "clients/claude_vision.hpp"
#include "core/clock.hpp"
#include "store/store.hpp"

namespace boomer::service {

// make_vision_answers keeps answers for `ttl` in memory (`memory` caps; lookups counted in
// `registry` as cache "vision_answers_memory", registry may be null) and in `db`'s cache,
// reading and writing the database on `store_pool` (never on the caller's I/O thread). A
// database error while reading counts as a miss and while writing is logged and dropped: the
// cache must not fail an identification. `db`, `store_pool`, `time` and `registry` must outlive
// the returned object. Thread-safe.
std::shared_ptr<clients::answer_store> make_vision_answers(
    store::store& db, boost::asio::thread_pool& store_pool, const clock& time,
    std::chrono::hours ttl, cache::lru_options memory = {}, metrics::registry* registry = nullptr);

}  // namespace boomer::service
