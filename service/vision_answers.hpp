// The paid-answer store of the vision model, kept in the database's shared cache table so every
// replica, and every restart, reuses an answer that was already paid for.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>

#include "clients/claude_vision.hpp"
#include "core/clock.hpp"
#include "store/store.hpp"

namespace boomer::service {

// make_vision_answers keeps answers in `db`'s cache for `ttl`, reading and writing on
// `store_pool` (never on the caller's I/O thread). A database error while reading counts as a
// miss and while writing is logged and dropped: the cache must not fail an identification.
// `db`, `store_pool` and `time` must outlive the returned object. Thread-safe.
std::shared_ptr<clients::answer_store> make_vision_answers(store::store& db,
                                                           boost::asio::thread_pool& store_pool,
                                                           const clock& time,
                                                           std::chrono::hours ttl);

}  // namespace boomer::service
