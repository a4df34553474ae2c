// Thin RAII layer over the SQLite C API for the SQLite engine: connections with cached prepared
// statements, a small connection pool, read and write transactions, and the one place where
// SQLite result codes become store_error kinds. Not part of the store interface.
//
// Thread-safety: a connection (and its statements) is used by one thread at a time; the pool
// hands each caller its own. Writes of the store go through sqlite_commit.hpp; write_txn is for
// one-off writers such as migrations.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace boomer::store::sqlite {

// classify maps an (extended) SQLite result code to what it means for the caller: busy, locked,
// I/O error and full disk are retryable; unique, primary-key and foreign-key violations are
// conflicts; everything else (bad SQL, check and not-null violations, misuse) is a bug.
error_kind classify(int result_code);

// throw_error throws store_error for `result_code`, with `context` and the connection's message.
[[noreturn]] void throw_error(sqlite3* db, int result_code, std::string_view context);

// A prepared statement borrowed from a connection's cache for one use. Binds are 1-based, column
// reads 0-based. On destruction it is reset and its bindings cleared, ready for the next use.
class statement {
public:
    statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement();

    statement& bind(int index, std::string_view text);
    statement& bind(int index, std::int64_t value);
    statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }

    // bind_all binds its arguments to parameters 1, 2, ... in order.
    template <class... Args>
    statement& bind_all(const Args&... args) {
        int index = 0;
        (bind(++index, args), ...);
        return *this;
    }

    // step advances to the next row: true when a row is ready, false when done. Throws
    // store_error on failure.
    bool step();

    // run steps until done and returns how many rows the statement changed.
    int run();

    std::string text(int column) const;
    std::int64_t int64(int column) const;
    int integer(int column) const;
    bool is_null(int column) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

// One open database connection configured for the store (WAL, synchronous FULL, foreign keys,
// busy timeout), with its prepared statements cached by SQL text, and the store's own SQL
// function boomer_hamming(a, b): the number of differing bits of two integers (NULL if either
// is NULL).
class connection {
public:
    // open opens (creating if needed) the database file at `path`. Throws store_error.
    connection(const std::string& path, int busy_timeout_ms);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    // prepare returns the cached statement for `sql`, preparing it on first use. `sql` is one
    // statement. Throws store_error (kind bug for bad SQL).
    statement prepare(std::string_view sql);

    // exec runs one or more statements without results (DDL, BEGIN, COMMIT). Throws store_error.
    void exec(const char* sql);

    sqlite3* handle() { return db_; }

private:
    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// A fixed set of connections to one database, handed out one caller at a time.
class connection_pool {
public:
    // Opens `size` (>= 1) connections to `path`. Throws store_error.
    connection_pool(const std::string& path, int size, int busy_timeout_ms);

    // A connection borrowed until this object is destroyed.
    class lease {
    public:
        lease(connection_pool& pool, std::unique_ptr<connection> conn)
            : pool_(&pool), conn_(std::move(conn)) {}
        lease(lease&&) = default;
        lease& operator=(lease&&) = delete;
        lease(const lease&) = delete;
        ~lease();
        connection& operator*() { return *conn_; }
        connection* operator->() { return conn_.get(); }

    private:
        connection_pool* pool_;
        std::unique_ptr<connection> conn_;
    };

    // acquire waits until a connection is free and lends it. Thread-safe.
    lease acquire();

    // each_idle calls `f(connection&)` on every connection not lent out; meant for setup, before
    // any is acquired. Thread-safe.
    template <class F>
    void each_idle(F f) {
        std::lock_guard lock(mutex_);
        for (auto& conn : idle_) {
            f(*conn);
        }
    }

    // write_mutex serializes write_txn transactions of this process on this database.
    std::mutex& write_mutex() { return write_mutex_; }

private:
    void give_back(std::unique_ptr<connection> conn);

    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<connection>> idle_;  // guarded by mutex_
    std::mutex write_mutex_;
};

// A write transaction: takes the pool's write mutex, then BEGIN IMMEDIATE (the database write
// lock up front, so two writers never deadlock upgrading a read lock). Rolled back on
// destruction unless commit() ran.
class write_txn {
public:
    write_txn(connection& conn, std::mutex& write_mutex);
    write_txn(const write_txn&) = delete;
    write_txn& operator=(const write_txn&) = delete;
    ~write_txn();
    void commit();

private:
    std::unique_lock<std::mutex> lock_;
    connection& conn_;
    bool open_ = false;
};

// A read transaction: one consistent snapshot for several SELECTs. Ends on destruction.
class read_txn {
public:
    explicit read_txn(connection& conn);
    read_txn(const read_txn&) = delete;
    read_txn& operator=(const read_txn&) = delete;
    ~read_txn();

private:
    connection& conn_;
};

}  // namespace boomer::store::sqlite
