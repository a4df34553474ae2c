// The byte budget: a mutex-guarded count and a queue of waiters, each woken through a channel
// of its own on its own executor.
#include "pipeline/byte_budget.hpp"

#include <algorithm>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace boomer::pipeline {

namespace asio = boost::asio;
using wake_channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

struct byte_budget::waiter {
    waiter(asio::any_io_executor ex, std::int64_t n) : bytes(n), wake(ex, 1) {}
    std::int64_t bytes;
    bool granted = false;  // guarded by the budget's mutex
    wake_channel wake;
};

byte_budget::byte_budget(std::int64_t capacity) : capacity_(capacity) {}

byte_budget::hold::hold(hold&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

byte_budget::hold& byte_budget::hold::operator=(hold&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

void byte_budget::hold::release() {
    if (owner_ != nullptr) {
        owner_->give_back(bytes_);
        owner_ = nullptr;
        bytes_ = 0;
    }
}

asio::awaitable<byte_budget::hold> byte_budget::acquire(std::int64_t bytes) {
    bytes = std::max<std::int64_t>(bytes, 0);
    if (capacity_ <= 0) {
        co_return hold(this, 0);
    }
    auto me = std::make_shared<waiter>(co_await asio::this_coro::executor, bytes);
    {
        std::lock_guard lock(mutex_);
        if (waiters_.empty() && (held_ + bytes <= capacity_ || held_ == 0)) {
            held_ += bytes;
            me.reset();
        } else {
            waiters_.push_back(me);
        }
    }
    if (!me) {
        co_return hold(this, bytes);
    }
    try {
        co_await me->wake.async_receive(asio::use_awaitable);
    } catch (...) {
        // Cancelled: give back what was granted meanwhile, or leave the queue.
        std::lock_guard lock(mutex_);
        if (me->granted) {
            held_ -= me->bytes;
        } else {
            std::erase(waiters_, me);
        }
        grant_locked();
        throw;
    }
    co_return hold(this, bytes);
}

void byte_budget::give_back(std::int64_t bytes) {
    std::lock_guard lock(mutex_);
    held_ -= bytes;
    grant_locked();
}

void byte_budget::grant_locked() {
    while (!waiters_.empty()) {
        auto& next = waiters_.front();
        if (held_ + next->bytes > capacity_ && held_ != 0) {
            return;
        }
        held_ += next->bytes;
        next->granted = true;
        next->wake.try_send(boost::system::error_code{});
        waiters_.pop_front();
    }
}

std::int64_t byte_budget::held() const {
    std::lock_guard lock(mutex_);
    return held_;
}

std::size_t byte_budget::waiting() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
}

}  // namespace boomer::pipeline
