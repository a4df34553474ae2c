// AIMD limit arithmetic and slot hand-over.
#include "resilience/adaptive_concurrency.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace boomer::resilience {

namespace asio = boost::asio;

concurrency_permit::concurrency_permit(concurrency_permit&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), epoch_(other.epoch_) {}

concurrency_permit& concurrency_permit::operator=(concurrency_permit&& other) noexcept {
    if (this != &other) {
        report(call_signal::neutral);
        owner_ = std::exchange(other.owner_, nullptr);
        epoch_ = other.epoch_;
    }
    return *this;
}

concurrency_permit::~concurrency_permit() {
    report(call_signal::neutral);
}

void concurrency_permit::report(call_signal signal) {
    if (auto* owner = std::exchange(owner_, nullptr)) {
        owner->release(epoch_, signal);
    }
}

adaptive_concurrency::adaptive_concurrency(concurrency_options options)
    : options_(options), limit_(options.initial) {
    if (!(options.min >= 1.0 && options.min <= options.initial && options.initial <= options.max &&
          options.decrease > 0.0 && options.decrease < 1.0 && options.increase >= 0.0)) {
        throw std::invalid_argument(
            "adaptive_concurrency: need 1 <= min <= initial <= max, 0 < decrease < 1 and "
            "increase >= 0");
    }
}

bool adaptive_concurrency::has_room_locked() const {
    return in_flight_ < static_cast<int>(std::floor(limit_));
}

asio::awaitable<concurrency_permit> adaptive_concurrency::acquire() {
    // Takes the slot under the lock, either now or when a release hands it over.
    auto take_now = [this] {
        if (waiters_.size() == 0 && has_room_locked()) {
            ++in_flight_;
            return true;
        }
        return false;
    };
    co_await waiters_.wait(take_now);
    std::uint64_t epoch = 0;
    {
        std::lock_guard lock(mutex_);
        epoch = epoch_;
    }
    co_return concurrency_permit(this, epoch);
}

void adaptive_concurrency::release(std::uint64_t epoch, call_signal signal) {
    std::lock_guard lock(mutex_);
    if (signal == call_signal::success) {
        limit_ = std::min(options_.max, limit_ + options_.increase / limit_);
    } else if (signal == call_signal::overload && epoch == epoch_) {
        limit_ = std::max(options_.min, limit_ * options_.decrease);
        ++epoch_;
    }
    --in_flight_;
    // Hand free slots to waiters in order; each keeps the slot it is given.
    while (has_room_locked() && waiters_.grant_one()) {
        ++in_flight_;
    }
}

double adaptive_concurrency::limit() const {
    std::lock_guard lock(mutex_);
    return limit_;
}

int adaptive_concurrency::in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_;
}

std::size_t adaptive_concurrency::waiting() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
}

}  // namespace boomer::resilience
