// The flush pool: a queue of tasks, its threads, and run_all's wait for a group of tasks.
#include "store/flush_pool.hpp"

#include <algorithm>
#include <exception>

namespace boomer::store {
namespace {

// What run_all waits on: how many of its tasks are still running, and what each threw.
struct group {
    std::mutex mutex;
    std::condition_variable done;
    std::size_t left = 0;
    std::vector<std::exception_ptr> errors;
};

void run_into(group& g, std::size_t index, const std::function<void()>& task) {
    std::exception_ptr error;
    try {
        task();
    } catch (...) {
        error = std::current_exception();
    }
    std::lock_guard lock(g.mutex);
    g.errors[index] = error;
    if (--g.left == 0) {
        g.done.notify_one();
    }
}

}  // namespace

flush_pool::flush_pool(int threads) {
    for (int i = 0; i < std::max(threads, 1); ++i) {
        threads_.emplace_back([this] { work(); });
    }
}

flush_pool::~flush_pool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) {
        t.join();
    }
}

void flush_pool::work() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
            return;  // stopping, and nothing left that a run_all waits for
        }
        auto task = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        task();
        lock.lock();
    }
}

void flush_pool::run_all(const std::vector<std::function<void()>>& tasks) {
    if (tasks.empty()) {
        return;
    }
    group g;
    g.left = tasks.size();
    g.errors.resize(tasks.size());
    {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 1; i < tasks.size(); ++i) {
            queue_.emplace_back([&g, i, &tasks] { run_into(g, i, tasks[i]); });
        }
    }
    ready_.notify_all();
    run_into(g, 0, tasks[0]);

    std::unique_lock lock(g.mutex);
    g.done.wait(lock, [&g] { return g.left == 0; });
    for (const auto& error : g.errors) {
        if (error) {
            std::rethrow_exception(error);
        }
    }
}

}  // namespace boomer::store
