// The database's shared cache table as the store of paid vision answers (clients::answer_store),
// so that every replica, and every restart, reuses an answer that was already paid for. The
// answers kept in memory in front of it are claude_vision's (cache::tiered_cache).
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <memory>

#include "clients/claude_answers.hpp"
#include "store/store.hpp"

namespace boomer::service {

// make_vision_answers reads and writes `db`'s cache table on `store_pool` (never on an I/O
// thread). A database error while reading is logged and counts as a miss, and while writing is
// logged and dropped: the answer store must not fail an identification. `db` and `store_pool`
// must outlive the returned object. Thread-safe.
std::shared_ptr<clients::answer_store> make_vision_answers(store::store& db,
                                                           boost::asio::thread_pool& store_pool);

}  // namespace boomer::service
