// When to try again: full-jitter exponential backoff, the server's retry-after honoured within a
// bound, and a retry budget that keeps retries to a share of live requests so that an outage
// cannot turn them into a storm.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "core/clock.hpp"

namespace boomer::resilience {

// A source of uniform random numbers in [0, 1). Must be thread-safe when shared.
using unit_random = std::function<double()>;

// thread_random draws from a per-thread generator seeded from std::random_device. Thread-safe.
double thread_random();

struct backoff_policy {
    std::chrono::milliseconds base{500};   // the first step
    std::chrono::milliseconds cap{8'000};  // no step is longer
    // A retry-after above this is not waited for: the caller gives up (retryably) instead of
    // holding a worker.
    std::chrono::milliseconds max_retry_after{60'000};
};

// full_jitter_delay returns the wait before retry number `retry` (1 for the first retry):
// uniform in [0, min(cap, base * 2^(retry-1))), drawn as `draw` (a number in [0, 1)) times that
// ceiling. Preconditions: retry >= 1, 0 <= draw < 1. Pure.
std::chrono::milliseconds full_jitter_delay(const backoff_policy& policy, int retry, double draw);

// What to do after a failed attempt.
struct retry_decision {
    bool retry = false;
    std::chrono::milliseconds wait{0};
    bool retry_after_too_long = false;  // the server asked for more than max_retry_after
};

// next_retry decides the wait before retry number `retry`. A retry-after in (0, max_retry_after]
// is waited for exactly (never less); a longer one means no retry (retry_after_too_long); none,
// zero or negative falls back to full_jitter_delay with one draw of `random`. Thread-safe as far
// as `random` is.
retry_decision next_retry(const backoff_policy& policy, int retry,
                          std::optional<std::chrono::milliseconds> retry_after,
                          const unit_random& random);

struct retry_budget_options {
    // Each request adds this many retry tokens (0.1: retries at most 10% of requests).
    double ratio = 0.1;
    // Tokens the ratio bucket holds at most, so that a quiet hour does not bank a storm.
    double max_balance = 10.0;
    // Retries always allowed whatever the traffic, per second (a floor for low traffic); the
    // floor bucket holds one second's worth.
    double floor_per_second = 1.0;
};

// A retry budget: two token buckets. Every first attempt deposits `ratio` tokens into the first
// (capped at max_balance); the second refills at floor_per_second on the injected clock. A retry
// spends one whole token from the first bucket, else from the second, else it is refused.
//
// Thread-safety: every member may be called from any thread (a mutex guards the balances). The
// clock must outlive the budget.
class retry_budget {
public:
    retry_budget(retry_budget_options options, const clock& time);

    // on_request records a first attempt (not a retry).
    void on_request();
    // try_spend takes one retry token; false (and nothing taken) when the budget is spent.
    bool try_spend();
    // balance returns the tokens available now, both buckets together.
    double balance() const;

private:
    void refill_locked(std::int64_t now) const;

    retry_budget_options options_;
    const clock& time_;
    mutable std::mutex mutex_;
    double ratio_tokens_ = 0.0;          // guarded by mutex_
    mutable double floor_tokens_ = 0.0;  // guarded by mutex_
    mutable std::int64_t refilled_at_;   // guarded by mutex_
};

}  // namespace boomer::resilience
