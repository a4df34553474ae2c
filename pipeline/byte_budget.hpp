// A budget of bytes shared by concurrent jobs: a job asks for the bytes it is about to hold and
// waits, first come first served, until they fit; they return when its hold is dropped. One
// request larger than the whole budget is let through alone (when nothing else is held), so no
// job waits forever. The scheduler bounds with it the photo bytes of the items waiting on the
// vision model, which the count of items in flight alone does not (photos differ in size).
//
// Thread-safety: acquire() may be awaited from any thread; a hold may be dropped on any thread.
// The budget must outlive its holds and waiters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace boomer::pipeline {

class byte_budget {
public:
    // capacity <= 0: unbounded (acquire never waits).
    explicit byte_budget(std::int64_t capacity);
    byte_budget(const byte_budget&) = delete;
    byte_budget& operator=(const byte_budget&) = delete;

    // Held bytes, returned when the hold is destroyed or released.
    class hold {
    public:
        hold() = default;
        hold(hold&& other) noexcept;
        hold& operator=(hold&& other) noexcept;
        ~hold() { release(); }
        void release();
        std::int64_t bytes() const { return bytes_; }

    private:
        friend class byte_budget;
        hold(byte_budget* owner, std::int64_t bytes) : owner_(owner), bytes_(bytes) {}
        byte_budget* owner_ = nullptr;
        std::int64_t bytes_ = 0;
    };

    // acquire waits until `bytes` fit (negative counts as 0). Cancellation of the awaiting
    // coroutine ends the wait with an exception and takes nothing.
    boost::asio::awaitable<hold> acquire(std::int64_t bytes);

    std::int64_t capacity() const { return capacity_; }
    std::int64_t held() const;    // bytes held now
    std::size_t waiting() const;  // acquirers waiting now

private:
    struct waiter;
    void give_back(std::int64_t bytes);
    void grant_locked();  // grants waiters from the front while they fit; mutex_ held

    const std::int64_t capacity_;
    mutable std::mutex mutex_;
    std::int64_t held_ = 0;                        // guarded by mutex_
    std::deque<std::shared_ptr<waiter>> waiters_;  // guarded by mutex_; first come first
};

}  // namespace boomer::pipeline
