// Group commit for the SQLite engine. With synchronous=FULL every commit waits for the disk
// (fsync), which caps one-transaction-per-write at the disk's flush rate. Here, writers that
// arrive while a commit is flushing queue up; the next one to run becomes the leader and runs
// everyone's writes in one transaction, each inside a savepoint of its own, then commits once.
// A write still returns only after the commit that holds it is durable.
//
// A write that throws is rolled back alone (its savepoint) and its caller gets the exception;
// the others in the batch still commit. When the transaction as a whole fails (busy, I/O error,
// full disk, or a failed COMMIT) every write in the batch gets that error.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "store/sqlite_db.hpp"

namespace boomer::store::sqlite {

class commit_queue {
public:
    // A write: statements to run inside the shared transaction, on the connection given. It must
    // not begin, commit or roll back transactions itself.
    using write_fn = std::function<void(connection&)>;

    // run executes `write` in a committed transaction and returns once that commit is durable.
    // `conn` is the caller's own connection, used if the caller leads the batch. Errors: what
    // `write` threw, or store_error from BEGIN/COMMIT. Thread-safe.
    void run(connection& conn, const write_fn& write);

    // waiting returns how many writes are queued behind the batch in flight. Thread-safe.
    std::size_t waiting();

private:
    struct pending {
        const write_fn* write;
        std::exception_ptr error;
        bool done = false;
    };

    void execute(connection& conn, std::vector<pending*>& batch);

    std::mutex mutex_;
    std::condition_variable finished_;
    std::vector<pending*> queue_;  // guarded by mutex_
    bool leading_ = false;         // guarded by mutex_: a batch is in flight
};

}  // namespace boomer::store::sqlite
