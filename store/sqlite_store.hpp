// The embedded SQLite engine of the store interface: one database file in WAL mode, durable at
// every commit (synchronous=FULL), shared by a small pool of connections.
//
// Engine-specific rules, on top of store.hpp:
// - A lease is valid while now <= locked_until_ms; rescue_expired(now) takes only jobs whose
//   locked_until_ms < now. A fenced write is judged by its fence alone: a worker whose lease
//   expired but was not rescued yet may still heartbeat or complete.
// - lease_owner and locked_until_ms describe the current lease; they are cleared ('' and 0)
//   whenever a job leaves `running`. Every exit from `running` also bumps the fence.
// - retry() queues the job as if it were submitted at that moment (its aging starts over) and
//   clears the previous error, result document, started_ms and finished_ms.
// - items.updated_ms moves when the item's outcome changes: final state reached, retried.
#pragma once

#include <memory>
#include <string>

#include "store/aging.hpp"
#include "store/store.hpp"

namespace boomer::store {

struct sqlite_options {
    int connections = 4;           // pool size; match the store thread pool
    int busy_timeout_ms = 5'000;   // wait for another process's write lock before failing
    int checkpoint_pages = 1'000;  // log length (pages) that starts a background checkpoint
    aging_policy aging;            // queue order offsets per priority
};

// open_sqlite_store opens (creating and migrating if needed) the database file at `path`.
// Preconditions: `path` names a file (":memory:" is refused: every pooled connection would see
// a database of its own). Errors: std::invalid_argument for a bad path or options; store_error
// when the file cannot be opened or migrated. The returned store is thread-safe.
std::unique_ptr<store> open_sqlite_store(const std::string& path,
                                         const sqlite_options& options = {});

}  // namespace boomer::store
