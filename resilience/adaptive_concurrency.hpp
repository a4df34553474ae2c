// Adaptive concurrency: an asynchronous semaphore whose number of slots follows the upstream.
//
// Growth: in slow start each success adds one slot (the limit doubles per window of calls) while
// the slots are in use. Before the first overload signal, once the upstream's allowed rate
// (set_rate) and latency are known, a success in slow start raises the limit straight to
// rate x latency, the calls in flight that rate needs: the rate limiter still paces the calls,
// and a ramp by doubling would leave the allowance unused for several windows (half a minute
// at 5 s calls). After the first overload signal growth is additive, `increase` per window,
// until the limit passes back through the recovery threshold. An overload signal (429, 529, a
// timeout) multiplies the limit by `decrease`, at most once per window: calls that started
// before the last decrease cannot decrease it again, so a burst of 429s from one window lowers
// the limit once, not once per call. After a decrease, slow start resumes up to `recover` times
// the limit the overload was seen at, then growth is additive again.
//
// Ceiling (Little's law): when the upstream's allowed rate is known (set_rate) and calls report
// their latency, the limit never exceeds rate x mean latency x `headroom` (plus one): more calls
// in flight than that could only wait for the rate limiter. The limit always stays within
// [min, max].
//
// Growth counts only while at least half the slots are in use, so an idle upstream does not
// inflate the limit.
//
// Thread-safety: every member may be called from any thread (a mutex guards the state); permits
// may be released on any thread. The limiter must outlive its permits and waiters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>

#include "resilience/wait_list.hpp"

namespace boomer::resilience {

struct concurrency_options {
    double initial = 4.0;
    double min = 1.0;
    double max = 64.0;
    double increase = 1.0;        // added per window of successes once out of slow start
    double decrease = 0.5;        // factor on overload, in (0, 1)
    bool slow_start = false;      // double per window until the first overload or the ceiling
    double recover = 0.9;         // after an overload, slow start back to this share of the peak
    double headroom = 1.5;        // the Little's-law ceiling's margin over rate x latency, >= 1
    double latency_weight = 0.1;  // weight of a new latency sample in the mean, in (0, 1]
};

// How a call that held a permit ended.
enum class call_signal { success, overload, neutral };

class adaptive_concurrency;

// One slot of an adaptive_concurrency; move-only. Destroying it without report() releases the
// slot as neutral (a cancelled call says nothing about the upstream).
class concurrency_permit {
public:
    concurrency_permit() = default;
    concurrency_permit(concurrency_permit&& other) noexcept;
    concurrency_permit& operator=(concurrency_permit&& other) noexcept;
    ~concurrency_permit();

    // report releases the slot and adjusts the limit by `signal`. Later calls do nothing.
    void report(call_signal signal);
    // report also feeds the upstream's latency for this call (a success's) into the mean that
    // the Little's-law ceiling uses.
    void report(call_signal signal, std::chrono::milliseconds latency);
    bool held() const { return owner_ != nullptr; }

private:
    friend class adaptive_concurrency;
    concurrency_permit(adaptive_concurrency* owner, std::uint64_t epoch)
        : owner_(owner), epoch_(epoch) {}

    adaptive_concurrency* owner_ = nullptr;
    std::uint64_t epoch_ = 0;
};

class adaptive_concurrency {
public:
    // Preconditions (std::invalid_argument otherwise): 1 <= min <= initial <= max,
    // 0 < decrease < 1, increase >= 0, 0 < recover <= 1, headroom >= 1,
    // 0 < latency_weight <= 1.
    explicit adaptive_concurrency(concurrency_options options);
    adaptive_concurrency(const adaptive_concurrency&) = delete;
    adaptive_concurrency& operator=(const adaptive_concurrency&) = delete;

    // acquire returns a permit once fewer than floor(limit) calls hold one; waiters are served
    // in order. Cancellation while waiting throws boost::system::system_error
    // (operation_aborted) and takes no slot.
    boost::asio::awaitable<concurrency_permit> acquire();

    // set_rate gives the calls per minute the upstream allows (0: unknown, no ceiling).
    void set_rate(double calls_per_minute);

    double limit() const;
    // ceiling returns the Little's-law bound in force (max when rate or latency is unknown).
    double ceiling() const;
    // latency_ms returns the mean latency of successful calls (0 before the first).
    double latency_ms() const;
    bool in_slow_start() const;
    int in_flight() const;
    std::size_t waiting() const;

private:
    friend class concurrency_permit;
    void release(std::uint64_t epoch, call_signal signal, double latency_ms);
    void grow_locked();
    void apply_ceiling_locked();
    double ceiling_locked() const;
    double needed_locked() const;
    bool has_room_locked() const;

    concurrency_options options_;
    mutable std::mutex mutex_;
    double limit_;                  // guarded by mutex_
    double slow_start_until_;       // guarded by mutex_; slow start while limit_ is below it
    double rate_per_minute_ = 0.0;  // guarded by mutex_
    double latency_ms_ = 0.0;       // guarded by mutex_; mean of successes, 0: none yet
    int in_flight_ = 0;             // guarded by mutex_
    std::uint64_t epoch_ = 0;       // guarded by mutex_; raised by every decrease
    bool overload_seen_ = false;    // guarded by mutex_
    wait_list waiters_{mutex_};     // guarded by mutex_
};

}  // namespace boomer::resilience
