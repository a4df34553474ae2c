// A circuit breaker for one (upstream, model): closed lets calls through and counts consecutive
// failures; at the threshold it opens and refuses calls for `open_for`; then it is half-open and
// lets at most `half_open_probes` probe calls through at a time. A probe's success closes it, a
// probe's failure opens it again. Probes that never report back cannot keep it half-open: a
// probe dropped without a report frees its place, and `half_open_max_wait` after the first probe
// went out without a success the breaker opens again, whatever probes are still out (their late
// reports are ignored). Time comes from an injected clock; transitions that are due
// happen when the breaker is next asked.
//
// Thread-safety: every member may be called from any thread (a mutex guards the state). The
// clock must outlive the breaker, and the breaker its tickets.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace boomer::resilience {

enum class breaker_state { closed = 0, open = 1, half_open = 2 };

// breaker_state_name returns "closed", "open" or "half_open".
std::string breaker_state_name(breaker_state s);

struct breaker_options {
    int failure_threshold = 5;  // consecutive failures that open a closed breaker
    std::chrono::milliseconds open_for{30'000};
    int half_open_probes = 1;  // probes out at once while half-open
    std::chrono::milliseconds half_open_max_wait{10'000};
};

class circuit_breaker;

// Permission for one call. Move-only. Report success() or failure() once; destroying it without
// a report (the call was cancelled or lost) counts as neither and frees a probe's place.
class breaker_ticket {
public:
    breaker_ticket(breaker_ticket&& other) noexcept;
    breaker_ticket& operator=(breaker_ticket&&) = delete;
    breaker_ticket(const breaker_ticket&) = delete;
    ~breaker_ticket();

    void success();
    void failure();
    bool probe() const { return probe_; }

private:
    friend class circuit_breaker;
    breaker_ticket(circuit_breaker* owner, std::uint64_t generation, bool probe)
        : owner_(owner), generation_(generation), probe_(probe) {}
    enum class outcome { success, failure, dropped };
    void finish(outcome o);

    circuit_breaker* owner_;
    std::uint64_t generation_;
    bool probe_;
};

class circuit_breaker {
public:
    // Preconditions (std::invalid_argument otherwise): failure_threshold >= 1,
    // half_open_probes >= 1, open_for and half_open_max_wait >= 0.
    circuit_breaker(breaker_options options, const clock& time);
    circuit_breaker(const circuit_breaker&) = delete;
    circuit_breaker& operator=(const circuit_breaker&) = delete;

    // allow returns a ticket when a call may go ahead now, empty when the breaker refuses it
    // (open, or half-open with every probe place taken).
    std::optional<breaker_ticket> allow();

    // state returns the state now (due transitions applied).
    breaker_state state();

    // retry_in returns how long a refused caller should wait before asking again: until an open
    // breaker lets a probe through; half-open with every probe place taken, as long as the open
    // pause but no longer than the probes' wait (what they report is not known sooner); zero
    // when a call would be allowed now.
    std::chrono::milliseconds retry_in();

private:
    friend class breaker_ticket;
    void finish(std::uint64_t generation, bool probe, breaker_ticket::outcome o);
    void advance_locked(std::int64_t now);
    void move_to_locked(breaker_state s, std::int64_t now);

    breaker_options options_;
    const clock& time_;
    std::mutex mutex_;
    breaker_state state_ = breaker_state::closed;  // guarded by mutex_
    std::int64_t since_ = 0;                       // guarded by mutex_; when state_ began
    std::uint64_t generation_ = 0;                 // guarded by mutex_; raised on every move
    int failures_ = 0;                             // guarded by mutex_; consecutive, closed
    int probes_out_ = 0;                           // guarded by mutex_; half-open
    std::optional<std::int64_t> first_probe_at_;   // guarded by mutex_; half-open
};

}  // namespace boomer::resilience
