// Adaptive concurrency: an asynchronous semaphore whose number of slots follows the upstream.
// Each success adds `increase / limit` (about `increase` per full window of calls); an overload
// signal (429, 529, a timeout) multiplies the limit by `decrease`, at most once per window: calls
// that started before the last decrease cannot decrease it again, so a burst of 429s from one
// window halves the limit once, not once per call. The limit stays within [min, max].
//
// Thread-safety: every member may be called from any thread (a mutex guards the state); permits
// may be released on any thread. The limiter must outlive its permits and waiters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <mutex>

#include "resilience/wait_list.hpp"

namespace boomer::resilience {

struct concurrency_options {
    double initial = 4.0;
    double min = 1.0;
    double max = 64.0;
    double increase = 1.0;  // added per window of successes
    double decrease = 0.5;  // factor on overload, in (0, 1)
};

// How a call that held a permit ended.
enum class call_signal { success, overload, neutral };

class adaptive_concurrency;

// One slot of an adaptive_concurrency; move-only. Destroying it without report() releases the
// slot as neutral (a cancelled call says nothing about the upstream).
class concurrency_permit {
public:
    concurrency_permit() = default;
    concurrency_permit(concurrency_permit&& other) noexcept;
    concurrency_permit& operator=(concurrency_permit&& other) noexcept;
    ~concurrency_permit();

    // report releases the slot and adjusts the limit by `signal`. Later calls do nothing.
    void report(call_signal signal);
    bool held() const { return owner_ != nullptr; }

private:
    friend class adaptive_concurrency;
    concurrency_permit(adaptive_concurrency* owner, std::uint64_t epoch)
        : owner_(owner), epoch_(epoch) {}

    adaptive_concurrency* owner_ = nullptr;
    std::uint64_t epoch_ = 0;
};

class adaptive_concurrency {
public:
    // Preconditions (std::invalid_argument otherwise): 1 <= min <= initial <= max,
    // 0 < decrease < 1, increase >= 0.
    explicit adaptive_concurrency(concurrency_options options);
    adaptive_concurrency(const adaptive_concurrency&) = delete;
    adaptive_concurrency& operator=(const adaptive_concurrency&) = delete;

    // acquire returns a permit once fewer than floor(limit) calls hold one; waiters are served
    // in order. Cancellation while waiting throws boost::system::system_error
    // (operation_aborted) and takes no slot.
    boost::asio::awaitable<concurrency_permit> acquire();

    double limit() const;
    int in_flight() const;
    std::size_t waiting() const;

private:
    friend class concurrency_permit;
    void release(std::uint64_t epoch, call_signal signal);
    bool has_room_locked() const;

    concurrency_options options_;
    mutable std::mutex mutex_;
    double limit_;               // guarded by mutex_
    int in_flight_ = 0;          // guarded by mutex_
    std::uint64_t epoch_ = 0;    // guarded by mutex_; raised by every decrease
    wait_list waiters_{mutex_};  // guarded by mutex_
};

}  // namespace boomer::resilience
