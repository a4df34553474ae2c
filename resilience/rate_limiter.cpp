// Token buckets per resource with reservations in order, settlement and header corrections.
#include "resilience/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

namespace boomer::resilience {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr double minute_ms = 60'000.0;

std::array<std::int64_t, 3> amounts(const rate_cost& c) {
    return {c.requests, c.input_tokens, c.output_tokens};
}

}  // namespace

rate_limiter::rate_limiter(rate_limits_per_minute limits, const clock& time, sleeper& sleep)
    : time_(time),
      sleep_(sleep),
      transit_(std::max(std::chrono::milliseconds(0), limits.transit)),
      refilled_at_(time.now_ms()) {
    std::array<std::int64_t, 3> per_minute = {limits.requests, limits.input_tokens,
                                              limits.output_tokens};
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        buckets_[i].per_minute = std::max<std::int64_t>(0, per_minute[i]);
        buckets_[i].level = ceiling(buckets_[i]);
    }
}

double rate_limiter::ceiling(const bucket& b) const {
    auto size = static_cast<double>(b.per_minute);
    auto allowance = std::floor(size * static_cast<double>(transit_.count()) / minute_ms);
    return std::max(0.0, size - allowance);
}

void rate_limiter::refill_locked(std::int64_t now) const {
    if (now <= refilled_at_) {
        return;
    }
    auto elapsed = static_cast<double>(now - refilled_at_);
    for (auto& b : buckets_) {
        auto size = static_cast<double>(b.per_minute);
        b.level = std::min(ceiling(b), b.level + elapsed * size / minute_ms);
    }
    refilled_at_ = now;
}

// Takes (sign 1) or gives back (sign -1) `cost`; returns how long until every bucket that was
// charged is out of debt.
milliseconds rate_limiter::reserve_locked(const rate_cost& cost, double sign) {
    auto wanted = amounts(cost);
    double wait_ms = 0.0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        auto& b = buckets_[i];
        if (b.per_minute == 0) {
            continue;
        }
        auto size = static_cast<double>(b.per_minute);
        b.level -= sign * std::min(static_cast<double>(wanted[i]), size);
        b.level = std::min(b.level, ceiling(b));
        if (b.level < 0.0) {
            wait_ms = std::max(wait_ms, -b.level * minute_ms / size);
        }
    }
    return milliseconds(static_cast<std::int64_t>(std::ceil(wait_ms)));
}

asio::awaitable<milliseconds> rate_limiter::acquire(rate_cost cost) {
    auto waited = co_await acquire_within(cost, milliseconds::max());
    co_return *waited;
}

milliseconds rate_limiter::would_wait(const rate_cost& cost) {
    std::lock_guard lock(mutex_);
    refill_locked(time_.now_ms());
    auto wait = reserve_locked(cost, 1.0);
    reserve_locked(cost, -1.0);
    return wait;
}

asio::awaitable<std::optional<milliseconds>> rate_limiter::acquire_within(rate_cost cost,
                                                                          milliseconds max_wait) {
    milliseconds wait{0};
    {
        std::lock_guard lock(mutex_);
        refill_locked(time_.now_ms());
        wait = reserve_locked(cost, 1.0);
        if (wait > max_wait) {
            reserve_locked(cost, -1.0);  // too long to wait: as if never asked
            co_return std::nullopt;
        }
    }
    if (wait.count() == 0) {
        co_return wait;
    }
    std::exception_ptr error;
    try {
        co_await sleep_.sleep_for(wait);
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        {
            std::lock_guard lock(mutex_);
            reserve_locked(cost, -1.0);
        }
        std::rethrow_exception(error);
    }
    co_return wait;
}

void rate_limiter::settle(const rate_cost& reserved, const rate_cost& used) {
    std::lock_guard lock(mutex_);
    refill_locked(time_.now_ms());
    reserve_locked(reserved, -1.0);
    reserve_locked(used, 1.0);
}

void rate_limiter::observe(rate_resource resource, const rate_observation& seen) {
    std::lock_guard lock(mutex_);
    refill_locked(time_.now_ms());
    auto& b = buckets_[static_cast<std::size_t>(resource)];
    if (seen.limit && *seen.limit > 0 && *seen.limit != b.per_minute) {
        // A first limit starts the bucket at what the answer says is left (or full).
        if (b.per_minute == 0) {
            b.level = static_cast<double>(*seen.limit);
        }
        b.per_minute = *seen.limit;
        b.level = std::min(b.level, ceiling(b));
    }
    if (seen.remaining && b.per_minute > 0) {
        auto allowance = static_cast<double>(b.per_minute) - ceiling(b);
        auto left = static_cast<double>(std::max<std::int64_t>(0, *seen.remaining));
        b.level = std::min(b.level, left - allowance);
    }
}

std::optional<double> rate_limiter::available(rate_resource resource) const {
    std::lock_guard lock(mutex_);
    refill_locked(time_.now_ms());
    const auto& b = buckets_[static_cast<std::size_t>(resource)];
    if (b.per_minute == 0) {
        return std::nullopt;
    }
    return b.level;
}

std::int64_t rate_limiter::limit(rate_resource resource) const {
    std::lock_guard lock(mutex_);
    return buckets_[static_cast<std::size_t>(resource)].per_minute;
}

}  // namespace boomer::resilience
