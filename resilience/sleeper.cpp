// Timer-based and manual sleeping.
#include "resilience/sleeper.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace boomer::resilience {

namespace asio = boost::asio;

asio::awaitable<void> timer_sleeper::sleep_for(std::chrono::milliseconds delay) {
    if (delay.count() <= 0) {
        co_return;
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
}

timer_sleeper& timer_sleeper::instance() {
    static timer_sleeper s;
    return s;
}

asio::awaitable<void> manual_sleeper::sleep_for(std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    delays_.push_back(delay);
    if (delay.count() > 0) {
        time_.advance_ms(delay.count());
    }
    co_return;
}

std::vector<std::chrono::milliseconds> manual_sleeper::delays() const {
    std::lock_guard lock(mutex_);
    return delays_;
}

}  // namespace boomer::resilience
