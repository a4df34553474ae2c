// The Postgres engine of the store interface: several replicas share one database. Jobs are
// claimed with `FOR UPDATE SKIP LOCKED`, so replicas never wait on each other's claims, and
// every change that makes a job runnable now (create, retry, release, rescue) is followed by
// `NOTIFY boomer_jobs` with the schema's name as payload, so idle replicas can sleep on a
// postgres_listener instead of polling.
//
// Engine-specific rules, on top of store.hpp (the same as the SQLite engine's):
// - A lease is valid while now <= locked_until_ms; rescue_expired(now) takes only jobs whose
//   locked_until_ms < now. A fenced write is judged by its fence alone.
// - lease_owner and locked_until_ms are cleared ('' and 0) whenever a job leaves `running`, and
//   every exit from `running` bumps the fence.
// - retry() queues the job as if it were submitted at that moment and clears the previous
//   error, result document, started_ms and finished_ms.
// - items.updated_ms moves when the item's outcome changes: final state reached, retried.
// - Identifiers compare bytewise (COLLATE "C"), whatever the database's locale, so list cursors
//   and claim order match the SQLite engine's.
//
// Errors: every call throws store_error classified from the SQLSTATE (see postgres_db.hpp):
// a lost connection, a timeout, a serialization failure or a deadlock is retryable. A pooled
// connection the server ended while it sat idle (a restart) is replaced before it is lent out;
// one lost during a statement fails that call and is replaced on its next use. No message
// carries the DSN's password.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/aging.hpp"
#include "store/postgres_dsn.hpp"
#include "store/store.hpp"

namespace boomer::store {

struct postgres_options {
    int connections = 4;  // pool size; match the store thread pool
    std::string schema;   // tables live here (created if missing); empty: search_path's
    std::string application_name = "boomer";  // shown in pg_stat_activity
    int connect_timeout_s = 10;               // when the DSN sets no connect_timeout
    int statement_timeout_ms = 30'000;        // a statement running longer is canceled
    aging_policy aging;                       // queue order offsets per priority
};

// The channel the engine notifies when a job becomes runnable.
inline constexpr const char* jobs_channel = "boomer_jobs";

// open_postgres_store connects to the database named by `dsn` (libpq URI or key=value form, e.g.
// "postgresql://boomer:secret@db:5432/boomer") and brings its schema up to date. Migrations are
// versioned in schema_migrations and run under a transaction-level advisory lock, so replicas
// starting together migrate once. Preconditions: options.connections >= 1, timeouts >= 1.
// Errors: std::invalid_argument for bad options; store_error when the server cannot be reached
// (retryable) or the schema is newer than this build (bug). The returned store is thread-safe;
// each call uses one pooled connection.
std::unique_ptr<store> open_postgres_store(const std::string& dsn,
                                           const postgres_options& options = {});

// A dedicated connection listening on jobs_channel, for a replica with nothing to do.
// Not thread-safe: one thread waits on it.
class postgres_listener {
public:
    // Connects and starts listening. Errors: store_error, as open_postgres_store.
    postgres_listener(const std::string& dsn, const postgres_options& options = {});
    postgres_listener(const postgres_listener&) = delete;
    postgres_listener& operator=(const postgres_listener&) = delete;
    ~postgres_listener();

    // wait_for_notification blocks until a job may have become runnable or `timeout` passed.
    // True: notifications arrived (all pending ones are consumed), or the connection was lost
    // and has been re-established, during which notifications may have been missed; either way
    // the caller should look at the queue. False: the timeout passed quietly. Errors:
    // store_error (retryable) when the server cannot be reached again.
    bool wait_for_notification(std::chrono::milliseconds timeout);

private:
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace boomer::store
