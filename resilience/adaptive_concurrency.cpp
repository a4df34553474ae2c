// Slow start, AIMD and the Little's-law ceiling; slot hand-over.
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
        owner->release(epoch_, signal, 0.0);
    }
}

void concurrency_permit::report(call_signal signal, std::chrono::milliseconds latency) {
    if (auto* owner = std::exchange(owner_, nullptr)) {
        owner->release(epoch_, signal, static_cast<double>(latency.count()));
    }
}

namespace {

bool valid(const concurrency_options& o) {
    return o.min >= 1.0 && o.min <= o.initial && o.initial <= o.max && o.decrease > 0.0 &&
           o.decrease < 1.0 && o.increase >= 0.0 && o.recover > 0.0 && o.recover <= 1.0 &&
           o.headroom >= 1.0 && o.latency_weight > 0.0 && o.latency_weight <= 1.0;
}

}  // namespace

adaptive_concurrency::adaptive_concurrency(concurrency_options options)
    : options_(options),
      limit_(options.initial),
      slow_start_until_(options.slow_start ? options.max : 0.0) {
    if (!valid(options)) {
        throw std::invalid_argument(
            "adaptive_concurrency: need 1 <= min <= initial <= max, 0 < decrease < 1, "
            "increase >= 0, 0 < recover <= 1, headroom >= 1 and 0 < latency_weight <= 1");
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

double adaptive_concurrency::ceiling_locked() const {
    if (rate_per_minute_ <= 0.0 || latency_ms_ <= 0.0) {
        return options_.max;
    }
    double needed = std::ceil(rate_per_minute_ / 60'000.0 * latency_ms_ * options_.headroom) + 1.0;
    return std::clamp(needed, options_.min, options_.max);
}

void adaptive_concurrency::apply_ceiling_locked() {
    limit_ = std::max(options_.min, std::min(limit_, ceiling_locked()));
}

double adaptive_concurrency::needed_locked() const {
    return rate_per_minute_ / 60'000.0 * latency_ms_;
}

// One slot per success in slow start (doubling per window), `increase` per window after. Until
// the first overload, slow start goes at once to what the allowed rate needs when rate and
// latency are known: probing below that would only leave the allowance unspent.
void adaptive_concurrency::grow_locked() {
    if (limit_ < slow_start_until_) {
        limit_ += 1.0;
        if (!overload_seen_) {
            limit_ = std::max(limit_, std::ceil(needed_locked()));
        }
    } else {
        limit_ += options_.increase / limit_;
    }
    limit_ = std::min(options_.max, limit_);
}

void adaptive_concurrency::release(std::uint64_t epoch, call_signal signal, double latency_ms) {
    std::lock_guard lock(mutex_);
    // Growth needs evidence: at least half the slots in use, this call included.
    const bool busy = 2.0 * in_flight_ >= limit_;
    if (signal == call_signal::success) {
        if (latency_ms > 0.0) {
            latency_ms_ = latency_ms_ <= 0.0
                              ? latency_ms
                              : latency_ms_ + options_.latency_weight * (latency_ms - latency_ms_);
        }
        if (busy) {
            grow_locked();
        }
    } else if (signal == call_signal::overload && epoch == epoch_) {
        overload_seen_ = true;
        slow_start_until_ = options_.slow_start ? limit_ * options_.recover : 0.0;
        limit_ = std::max(options_.min, limit_ * options_.decrease);
        ++epoch_;
    }
    apply_ceiling_locked();
    --in_flight_;
    // Hand free slots to waiters in order; each keeps the slot it is given.
    while (has_room_locked() && waiters_.grant_one()) {
        ++in_flight_;
    }
}

void adaptive_concurrency::set_rate(double calls_per_minute) {
    std::lock_guard lock(mutex_);
    rate_per_minute_ = std::max(0.0, calls_per_minute);
    apply_ceiling_locked();
}

double adaptive_concurrency::limit() const {
    std::lock_guard lock(mutex_);
    return limit_;
}

double adaptive_concurrency::ceiling() const {
    std::lock_guard lock(mutex_);
    return ceiling_locked();
}

double adaptive_concurrency::latency_ms() const {
    std::lock_guard lock(mutex_);
    return latency_ms_;
}

bool adaptive_concurrency::in_slow_start() const {
    std::lock_guard lock(mutex_);
    return limit_ < slow_start_until_;
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
