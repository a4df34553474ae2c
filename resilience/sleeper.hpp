// Waiting for time to pass, as an interface: production code sleeps on Asio timers; tests move a
// manual clock instead, so that backoff, rate limits and breakers are tested without sleeps.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/clock.hpp"

namespace boomer::resilience {

// Something that suspends the awaiting coroutine for a while. Implementations are thread-safe.
class sleeper {
public:
    virtual ~sleeper() = default;
    // sleep_for resumes the caller after `delay` (at once when it is zero or negative).
    // Cancellation of the awaiting coroutine ends the wait with boost::system::system_error
    // (operation_aborted) for implementations that really wait.
    virtual boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) = 0;
};

// Sleeps on a steady_timer of the awaiting coroutine's executor. Stateless and thread-safe.
class timer_sleeper final : public sleeper {
public:
    boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) override;
    // The process-wide instance.
    static timer_sleeper& instance();
};

// For tests: a sleep moves a manual clock forward by the delay and returns at once, and every
// delay is recorded. Thread-safe.
class manual_sleeper final : public sleeper {
public:
    explicit manual_sleeper(manual_clock& time) : time_(time) {}
    boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) override;
    // delays returns every delay asked for so far, in order.
    std::vector<std::chrono::milliseconds> delays() const;

private:
    manual_clock& time_;
    mutable std::mutex mutex_;
    std::vector<std::chrono::milliseconds> delays_;  // guarded by mutex_
};

}  // namespace boomer::resilience
