// A rate limiter for an upstream that counts requests, input tokens and output tokens per minute
// (Anthropic's three limits): one token bucket per resource, refilled continuously at limit/60 s,
// holding at most one minute's worth. A caller reserves its estimated cost and waits, without
// blocking a thread, until the buckets can pay for it; reservations are served in the order they
// were made (a bucket may go into debt, and later callers wait out that debt). After the answer,
// settle() replaces the estimates with what was really used, and observe() corrects the buckets
// with what the upstream's headers say is left.
//
// The upstream counts a call when it arrives, we count it when it leaves; while the upstream's
// bucket is full it forgets what it would have refilled for calls still on their way, and ends
// short by up to the calls in transit. Each bucket therefore keeps a transit allowance (the
// calls of `transit`, whole ones) out of reach: it fills to its limit less that, and a remaining
// count from the headers is read less that too.
//
// The `*-reset` timestamps are not read: the bucket refills continuously, so the time it will be
// full follows from the limit and what remains, which the headers already give.
//
// Thread-safety: every member may be called from any thread (a mutex guards the buckets). The
// clock and sleeper must outlive the limiter.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "core/clock.hpp"
#include "resilience/sleeper.hpp"

namespace boomer::resilience {

enum class rate_resource { requests = 0, input_tokens = 1, output_tokens = 2 };

// Limits per minute; 0 means not limited until a header gives the limit.
struct rate_limits_per_minute {
    std::int64_t requests = 0;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    // The longest a call is expected to take to reach the upstream; see the transit allowance.
    std::chrono::milliseconds transit{0};
};

// What one call is expected to cost (or did cost).
struct rate_cost {
    std::int64_t requests = 1;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
};

// What an answer's headers said about one resource; absent values stay empty.
struct rate_observation {
    std::optional<std::int64_t> limit;
    std::optional<std::int64_t> remaining;
};

class rate_limiter {
public:
    rate_limiter(rate_limits_per_minute limits, const clock& time, sleeper& sleep);

    // acquire reserves `cost` and returns once the buckets could pay it; the returned wait is
    // how long the caller was held (zero when there was room). A cost above a bucket's whole
    // minute is reserved as one full minute. Cancellation while waiting gives the reservation
    // back and rethrows.
    boost::asio::awaitable<std::chrono::milliseconds> acquire(rate_cost cost);

    // acquire_within is acquire() for a caller with `max_wait` left: when the buckets could not
    // pay `cost` within it, it returns empty at once, having reserved nothing and waited not at
    // all. Cancellation as for acquire().
    boost::asio::awaitable<std::optional<std::chrono::milliseconds>> acquire_within(
        rate_cost cost, std::chrono::milliseconds max_wait);

    // would_wait returns how long acquire(cost) would hold a caller now, reserving nothing.
    std::chrono::milliseconds would_wait(const rate_cost& cost);

    // settle corrects a reservation: `used` replaces `reserved` (the difference is returned to,
    // or taken from, the buckets).
    void settle(const rate_cost& reserved, const rate_cost& used);

    // observe takes what an answer said about `resource`: a limit sets the bucket's size and
    // refill rate; a remaining count lowers the bucket to it when it holds more (it never raises
    // it: our own reservations made after that answer left are not in the upstream's count).
    void observe(rate_resource resource, const rate_observation& seen);

    // available returns what `resource`'s bucket holds now (negative: debt); empty when the
    // resource is not limited.
    std::optional<double> available(rate_resource resource) const;

    // limit returns the per-minute limit in force for `resource` (0: none).
    std::int64_t limit(rate_resource resource) const;

private:
    struct bucket {
        std::int64_t per_minute = 0;
        double level = 0.0;
    };

    void refill_locked(std::int64_t now) const;
    // ceiling returns how full bucket `b` may get: its limit less the transit allowance.
    double ceiling(const bucket& b) const;
    std::chrono::milliseconds reserve_locked(const rate_cost& cost, double sign);

    const clock& time_;
    sleeper& sleep_;
    std::chrono::milliseconds transit_;
    mutable std::mutex mutex_;
    mutable std::array<bucket, 3> buckets_;  // guarded by mutex_, by rate_resource
    mutable std::int64_t refilled_at_;       // guarded by mutex_
};

}  // namespace boomer::resilience
