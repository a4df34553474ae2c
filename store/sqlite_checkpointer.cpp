// The background checkpointer: a WAL hook on every store connection, and one thread that runs
// PASSIVE checkpoints when the log has grown past the threshold.
#include "store/sqlite_checkpointer.hpp"

#include <sqlite3.h>

namespace boomer::store::sqlite {

checkpointer::checkpointer(const std::string& path, int threshold_pages, int busy_timeout_ms)
    : conn_(path, busy_timeout_ms),
      threshold_pages_(threshold_pages < 1 ? 1 : threshold_pages),
      thread_([this] { loop(); }) {
    // The checkpointer's own connection never commits, but must not checkpoint on close of a
    // transaction either.
    sqlite3_wal_autocheckpoint(conn_.handle(), 0);
}

checkpointer::~checkpointer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void checkpointer::attach(connection& conn) {
    // Replaces SQLite's own hook, which is what runs the automatic checkpoint.
    sqlite3_wal_hook(conn.handle(), &checkpointer::on_commit, this);
}

int checkpointer::on_commit(void* self, sqlite3* db, const char* name, int pages) {
    auto* me = static_cast<checkpointer*>(self);
    if (pages >= me->threshold_pages_ * inline_factor) {
        // The thread has fallen far behind (the log restarts only once a checkpoint has caught
        // up with every commit): this commit checkpoints, as SQLite would on its own.
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        me->inline_runs_.fetch_add(1);
    } else if (pages >= me->threshold_pages_) {
        me->request();
    }
    return SQLITE_OK;
}

void checkpointer::request() {
    {
        std::lock_guard lock(mutex_);
        requested_ = true;
    }
    wake_.notify_one();
}

void checkpointer::loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return requested_ || stopping_; });
        if (stopping_) {
            return;
        }
        requested_ = false;
        lock.unlock();
        // Copies what it can without waiting for anyone; a commit arriving meanwhile asks for
        // the next round.
        int rc = sqlite3_wal_checkpoint_v2(conn_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           nullptr, nullptr);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            failed_.fetch_add(1);
        }
        completed_.fetch_add(1);
        lock.lock();
    }
}

}  // namespace boomer::store::sqlite
