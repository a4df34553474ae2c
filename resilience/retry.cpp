// Backoff arithmetic and the retry budget's buckets.
#include "resilience/retry.hpp"

#include <algorithm>
#include <random>

namespace boomer::resilience {

using std::chrono::milliseconds;

double thread_random() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

milliseconds full_jitter_delay(const backoff_policy& policy, int retry, double draw) {
    int doublings = std::clamp(retry - 1, 0, 30);
    auto step = policy.base.count() * (std::int64_t{1} << doublings);
    auto ceiling = std::min<std::int64_t>(step, policy.cap.count());
    draw = std::clamp(draw, 0.0, 1.0);
    return milliseconds(static_cast<std::int64_t>(draw * static_cast<double>(ceiling)));
}

retry_decision next_retry(const backoff_policy& policy, int retry,
                          std::optional<milliseconds> retry_after, const unit_random& random) {
    retry_decision d;
    if (retry_after && retry_after->count() > 0) {
        if (*retry_after > policy.max_retry_after) {
            d.retry_after_too_long = true;
            return d;
        }
        d.retry = true;
        d.wait = *retry_after;
        return d;
    }
    d.retry = true;
    d.wait = full_jitter_delay(policy, retry, random ? random() : thread_random());
    return d;
}

retry_budget::retry_budget(retry_budget_options options, const clock& time)
    : options_(options),
      time_(time),
      floor_tokens_(options.floor_per_second),
      refilled_at_(time.now_ms()) {}

void retry_budget::refill_locked(std::int64_t now) const {
    if (now > refilled_at_) {
        double earned =
            static_cast<double>(now - refilled_at_) / 1000.0 * options_.floor_per_second;
        floor_tokens_ = std::min(options_.floor_per_second, floor_tokens_ + earned);
        refilled_at_ = now;
    }
}

void retry_budget::on_request() {
    std::lock_guard lock(mutex_);
    ratio_tokens_ = std::min(options_.max_balance, ratio_tokens_ + options_.ratio);
}

bool retry_budget::try_spend() {
    std::lock_guard lock(mutex_);
    refill_locked(time_.now_ms());
    // A small tolerance: ten deposits of 0.1 make one token despite rounding.
    constexpr double epsilon = 1e-9;
    if (ratio_tokens_ + epsilon >= 1.0) {
        ratio_tokens_ = std::max(0.0, ratio_tokens_ - 1.0);
        return true;
    }
    if (floor_tokens_ + epsilon >= 1.0) {
        floor_tokens_ = std::max(0.0, floor_tokens_ - 1.0);
        return true;
    }
    return false;
}

double retry_budget::balance() const {
    std::lock_guard lock(mutex_);
    refill_locked(time_.now_ms());
    return ratio_tokens_ + floor_tokens_;
}

}  // namespace boomer::resilience
