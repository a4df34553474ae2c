// Deadlines and timeouts for coroutines: a deadline is a point in time on an injected clock that
// travels with the work (a stage's budget); `within` bounds one awaited operation by a timeout
// and cancels it when the time is up.
#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace boomer::resilience {

namespace asio = boost::asio;

// A point in time by which work must be done. Cheap to copy; reads its clock, which must outlive
// it. Thread-safe as far as the clock is.
class deadline {
public:
    // never returns a deadline that does not expire.
    static deadline never(const clock& time) {
        return deadline(time, std::numeric_limits<std::int64_t>::max());
    }
    // after returns the deadline `budget` from now.
    static deadline after(const clock& time, std::chrono::milliseconds budget) {
        return deadline(time, time.now_ms() + budget.count());
    }

    std::int64_t at_ms() const { return at_ms_; }
    bool expired() const { return time_->now_ms() >= at_ms_; }

    // remaining returns the time left, zero once expired.
    std::chrono::milliseconds remaining() const {
        return std::chrono::milliseconds(std::max<std::int64_t>(0, at_ms_ - time_->now_ms()));
    }

    // attempt_timeout returns the timeout of one attempt inside this deadline: `per_attempt`, or
    // what is left when that is shorter.
    std::chrono::milliseconds attempt_timeout(std::chrono::milliseconds per_attempt) const {
        return std::min(per_attempt, remaining());
    }

private:
    deadline(const clock& time, std::int64_t at_ms) : time_(&time), at_ms_(at_ms) {}

    const clock* time_;
    std::int64_t at_ms_;
};

// within awaits `work` for at most `timeout`. When the time is up first, `work` is cancelled
// (terminal cancellation reaches the operation it awaits) and the result is the failure
// {timeout_code, "... did not finish within N ms.", retryable}. Exceptions of `work` other than
// its cancellation are rethrown. `work` is moved from; pass a named awaitable
// (`auto call = f(); auto r = co_await within(call, 500ms);`). Runs on the caller's executor.
template <class T>
asio::awaitable<result<T>> within(asio::awaitable<T>& work, std::chrono::milliseconds timeout,
                                  std::string_view timeout_code = "timeout") {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    auto timed = timer.async_wait(asio::use_awaitable);
    auto race = std::move(work) || std::move(timed);
    auto raced = co_await std::move(race);
    if (raced.index() == 1) {
        co_return fail(
            std::string(timeout_code),
            "The operation did not finish within " + std::to_string(timeout.count()) + " ms.",
            true);
    }
    co_return std::move(std::get<0>(raced));
}

}  // namespace boomer::resilience
