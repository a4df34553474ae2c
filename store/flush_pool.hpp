// A few threads that run blocking flushes (fsync) side by side. Each fsync waits for its own
// writes and a flush of the disk's cache; on a file system without a journal nothing merges
// one caller's successive fsyncs, so n of them cost n round trips to the disk. Handed to this
// pool together, they are in flight at once and cost about one.
//
// Thread-safety: run_all may be called from several threads at once. The destructor waits for
// the tasks already taken, drops none that a run_all still waits for (run_all cannot be running
// then), and joins the threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace boomer::store {

class flush_pool {
public:
    // Starts `threads` (>= 1) threads.
    explicit flush_pool(int threads);
    flush_pool(const flush_pool&) = delete;
    flush_pool& operator=(const flush_pool&) = delete;
    ~flush_pool();

    // run_all runs every task of `tasks` and returns once all have finished: the first on the
    // calling thread, the others on the pool's threads (queued when they are all busy). When
    // tasks throw, the exception of the first of them in `tasks` order is rethrown, after all
    // have finished. `tasks` must stay alive until run_all returns.
    void run_all(const std::vector<std::function<void()>>& tasks);

private:
    void work();

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> queue_;  // guarded by mutex_
    bool stopping_ = false;                    // guarded by mutex_
    std::vector<std::thread> threads_;
};

}  // namespace boomer::store
