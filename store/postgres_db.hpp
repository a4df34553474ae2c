// The Postgres engine's connection layer over libpqxx: sessions (a connection with the store's
// settings and prepared statements), a fixed-size pool of them, and the one place where libpqxx
// exceptions become store_error kinds. Not part of the store interface.
//
// Thread-safety: a session is used by one thread at a time; the pool hands each caller its own
// and is itself thread-safe.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace boomer::store::pg {

// classify_sqlstate maps a five-character SQLSTATE to what it means for the caller: connection
// exceptions (class 08), transaction rollbacks (40: serialization failure, deadlock), operator
// intervention (57: shutdown, query canceled by a timeout), lock timeouts (55P03) and exhausted
// resources (53) are retryable; unique and foreign-key violations (23505, 23503) are conflicts;
// everything else (syntax, undefined objects, types, other constraints) is a bug.
error_kind classify_sqlstate(std::string_view sqlstate);

// ends_session tells whether the connection that reported `sqlstate` cannot be used again
// (connection exceptions, administrator or crash shutdown).
bool ends_session(std::string_view sqlstate);

// A database failure seen at the boundary: the store_error to throw, and whether the session
// that saw it must be replaced.
struct classified_error {
    store_error error;
    bool session_lost = false;
};

// classify_exception turns the exception `e` into a classified_error when it comes from
// libpqxx; anything else (our own errors) gives nullopt, to be rethrown as is. `context` says
// what was being done; libpq text is scrubbed of the secrets of `dsn`.
std::optional<classified_error> classify_exception(std::exception_ptr e, std::string_view context,
                                                   std::string_view dsn);

// A prepared statement, defined on every session of the pool (libpqxx prepares it on the
// server on first use).
struct statement_def {
    const char* name;
    const char* sql;
};

struct session_settings {
    std::string dsn;     // holds the password, if any: never print it, see redact_dsn
    std::string schema;  // empty: the DSN's own search_path
    std::string application_name = "boomer";
    int connect_timeout_s = 10;  // used when the DSN sets none
    int statement_timeout_ms = 30'000;
    std::vector<std::span<const statement_def>> statements;
};

// One open connection configured for the store: search_path, statement timeout, application
// name, and every prepared statement defined.
class session {
public:
    // Connects. Throws libpqxx exceptions (the pool classifies them).
    explicit session(const session_settings& settings);

    pqxx::connection& conn() { return *conn_; }

    // usable reads whatever the server sent while the session sat idle, without waiting, and
    // tells whether the connection is still open: false after the server ended it (restart,
    // administrator, idle timeout). A false positive is possible (the loss is not known yet);
    // the statement then fails as a lost connection.
    bool usable();

private:
    std::unique_ptr<pqxx::connection> conn_;
};

// A fixed number of session slots. A slot connects on first use and again after its session was
// lost, so a database restart costs the callers in flight one retryable error each, not the
// process.
class session_pool {
public:
    // Preconditions: size >= 1. Connects nothing yet.
    session_pool(session_settings settings, int size);

    // A session borrowed until this object is destroyed.
    class lease {
    public:
        lease(session_pool& pool, std::unique_ptr<session> s)
            : pool_(&pool), session_(std::move(s)) {}
        lease(lease&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)), session_(std::move(other.session_)) {}
        lease& operator=(lease&&) = delete;
        lease(const lease&) = delete;
        ~lease();
        pqxx::connection& operator*() { return session_->conn(); }
        // discard closes the session; its slot reconnects on next use.
        void discard() { session_.reset(); }

    private:
        session_pool* pool_;
        std::unique_ptr<session> session_;
    };

    // acquire waits for a free slot and lends its session, connecting first when needed: also
    // when the slot's session was ended by the server while idle, so that after a database
    // restart callers do not each meet a dead connection once.
    // Errors: store_error (retryable when the server cannot be reached). Thread-safe.
    lease acquire();

    // run calls fn(pqxx::connection&) on a borrowed session and returns what it returns. libpqxx
    // exceptions leave as store_error (kind by classify_exception), prefixed with `context`; a
    // session whose connection is gone is discarded. Other exceptions pass unchanged.
    template <class Fn>
    auto run(std::string_view context, Fn&& fn) {
        auto held = acquire();
        try {
            return fn(*held);
        } catch (...) {
            auto failure = classify_exception(std::current_exception(), context, settings_.dsn);
            if (!failure) {
                throw;
            }
            if (failure->session_lost) {
                held.discard();
            }
            throw failure->error;
        }
    }

    const session_settings& settings() const { return settings_; }

private:
    void give_back(std::unique_ptr<session> s);

    session_settings settings_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<session>> idle_;  // guarded by mutex_; null: not connected
};

}  // namespace boomer::store::pg
