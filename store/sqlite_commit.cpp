// Group commit: leader election over a queue of writes, and one transaction per batch with a
// savepoint per write.
#include "store/sqlite_commit.hpp"

#include <sqlite3.h>

namespace boomer::store::sqlite {
namespace {

// fail_rest gives `error` to every write in `batch` that has none yet.
template <class Batch>
void fail_rest(Batch& batch, const std::exception_ptr& error) {
    for (auto* p : batch) {
        if (!p->error) {
            p->error = error;
        }
    }
}

// rollback_quietly ends the transaction if one is still open.
void rollback_quietly(connection& conn) {
    if (sqlite3_get_autocommit(conn.handle()) == 0) {
        sqlite3_exec(conn.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

}  // namespace

void commit_queue::run(connection& conn, const write_fn& write) {
    pending mine{&write, nullptr, false};
    std::unique_lock lock(mutex_);
    queue_.push_back(&mine);
    while (!mine.done) {
        if (leading_) {
            finished_.wait(lock);
            continue;
        }
        // Lead: take everything queued so far, including writes of waiting callers.
        leading_ = true;
        std::vector<pending*> batch;
        batch.swap(queue_);
        lock.unlock();
        execute(conn, batch);
        lock.lock();
        leading_ = false;
        for (auto* p : batch) {
            p->done = true;
        }
        finished_.notify_all();
    }
    if (mine.error) {
        std::rethrow_exception(mine.error);
    }
}

std::size_t commit_queue::waiting() {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void commit_queue::execute(connection& conn, std::vector<pending*>& batch) {
    try {
        conn.exec("BEGIN IMMEDIATE");
    } catch (...) {
        fail_rest(batch, std::current_exception());
        return;
    }

    // A lone write needs no savepoint: if it fails, the whole transaction is rolled back.
    bool alone = batch.size() == 1;
    bool any_ok = false;
    for (auto* p : batch) {
        try {
            if (!alone) {
                conn.exec("SAVEPOINT write");
            }
            (*p->write)(conn);
            if (!alone) {
                conn.exec("RELEASE write");
            }
            any_ok = true;
        } catch (...) {
            p->error = std::current_exception();
            if (alone || sqlite3_get_autocommit(conn.handle()) != 0) {
                // SQLite already ended the transaction (I/O error, full disk...) or nothing
                // else is in it: the batch is lost as a whole.
                rollback_quietly(conn);
                fail_rest(batch, p->error);
                return;
            }
            try {
                conn.exec("ROLLBACK TO write; RELEASE write");
            } catch (...) {
                rollback_quietly(conn);
                fail_rest(batch, std::current_exception());
                return;
            }
        }
    }

    try {
        conn.exec(any_ok ? "COMMIT" : "ROLLBACK");
    } catch (...) {
        rollback_quietly(conn);
        fail_rest(batch, std::current_exception());
    }
}

}  // namespace boomer::store::sqlite
