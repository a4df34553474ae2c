// WAL checkpoints for the SQLite engine, on a thread of their own. SQLite's automatic checkpoint
// runs inside the COMMIT that takes the log past its threshold: that commit copies the log's
// pages into the database file and flushes it before it returns, and with group commit every
// writer queued behind that batch waits too. Here the store's connections only report how long
// the log is after each commit; when it passes the threshold, the checkpointer's own connection
// runs a PASSIVE checkpoint (one that never blocks writers or readers) while commits go on.
//
// Should the log reach inline_factor times the threshold anyway (commits so frequent that the
// checkpoints never catch up, and a log restarts only after one has), the commit that finds it
// so long checkpoints itself, as SQLite's automatic checkpoint would have.
//
// Durability is unchanged: a commit is durable once its log frames are flushed
// (synchronous=FULL); a checkpoint only moves committed pages, flushing the database file
// before the log may be reused.
//
// Thread-safety: attach() before the connection is used by other threads; the rest is
// thread-safe. The destructor stops the thread; connections attached must not commit after it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite_db.hpp"

namespace boomer::store::sqlite {

class checkpointer {
public:
    // Opens its own connection to `path` and starts its thread; a checkpoint runs once a commit
    // leaves `threshold_pages` (>= 1) or more pages in the log. Throws store_error.
    checkpointer(const std::string& path, int threshold_pages, int busy_timeout_ms);
    checkpointer(const checkpointer&) = delete;
    checkpointer& operator=(const checkpointer&) = delete;
    ~checkpointer();

    // attach turns off `conn`'s automatic checkpoint and makes its commits report the log's
    // length here. `conn` must outlive this checkpointer's use of it (until destruction).
    void attach(connection& conn);

    // completed returns how many background checkpoints have run (including those that found
    // nothing to copy); failed, how many of them ended with an error other than busy;
    // inline_runs, how many commits checkpointed themselves.
    std::uint64_t completed() const { return completed_.load(); }
    std::uint64_t failed() const { return failed_.load(); }
    std::uint64_t inline_runs() const { return inline_runs_.load(); }

    static constexpr int inline_factor = 8;

private:
    static int on_commit(void* self, struct sqlite3* db, const char* name, int pages);
    void request();
    void loop();

    connection conn_;
    int threshold_pages_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool requested_ = false;  // guarded by mutex_
    bool stopping_ = false;   // guarded by mutex_
    std::atomic<std::uint64_t> completed_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::atomic<std::uint64_t> inline_runs_{0};
    std::thread thread_;  // last: starts once the members above exist
};

}  // namespace boomer::store::sqlite
