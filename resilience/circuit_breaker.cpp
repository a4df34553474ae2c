// Breaker state machine and tickets.
#include "resilience/circuit_breaker.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace boomer::resilience {

std::string breaker_state_name(breaker_state s) {
    switch (s) {
        case breaker_state::closed:
            return "closed";
        case breaker_state::open:
            return "open";
        case breaker_state::half_open:
            return "half_open";
    }
    return "unknown";
}

breaker_ticket::breaker_ticket(breaker_ticket&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      generation_(other.generation_),
      probe_(other.probe_) {}

breaker_ticket::~breaker_ticket() {
    finish(outcome::dropped);
}

void breaker_ticket::success() {
    finish(outcome::success);
}

void breaker_ticket::failure() {
    finish(outcome::failure);
}

void breaker_ticket::finish(outcome o) {
    if (auto* owner = std::exchange(owner_, nullptr)) {
        owner->finish(generation_, probe_, o);
    }
}

circuit_breaker::circuit_breaker(breaker_options options, const clock& time)
    : options_(options), time_(time), since_(time.now_ms()) {
    if (options.failure_threshold < 1 || options.half_open_probes < 1 ||
        options.open_for.count() < 0 || options.half_open_max_wait.count() < 0) {
        throw std::invalid_argument(
            "circuit_breaker: need failure_threshold >= 1, half_open_probes >= 1 and "
            "non-negative durations");
    }
}

void circuit_breaker::move_to_locked(breaker_state s, std::int64_t now) {
    state_ = s;
    since_ = now;
    ++generation_;
    failures_ = 0;
    probes_out_ = 0;
    first_probe_at_.reset();
}

void circuit_breaker::advance_locked(std::int64_t now) {
    if (state_ == breaker_state::open && now >= since_ + options_.open_for.count()) {
        move_to_locked(breaker_state::half_open, since_ + options_.open_for.count());
    }
    if (state_ == breaker_state::half_open && first_probe_at_) {
        auto give_up_at = *first_probe_at_ + options_.half_open_max_wait.count();
        if (now >= give_up_at) {
            // No probe succeeded in time (failed silently, cancelled or lost): open again.
            move_to_locked(breaker_state::open, give_up_at);
        }
    }
}

std::optional<breaker_ticket> circuit_breaker::allow() {
    std::lock_guard lock(mutex_);
    advance_locked(time_.now_ms());
    switch (state_) {
        case breaker_state::closed:
            return breaker_ticket(this, generation_, false);
        case breaker_state::open:
            return std::nullopt;
        case breaker_state::half_open:
            if (probes_out_ >= options_.half_open_probes) {
                return std::nullopt;
            }
            ++probes_out_;
            if (!first_probe_at_) {
                first_probe_at_ = time_.now_ms();
            }
            return breaker_ticket(this, generation_, true);
    }
    return std::nullopt;
}

void circuit_breaker::finish(std::uint64_t generation, bool probe, breaker_ticket::outcome o) {
    std::lock_guard lock(mutex_);
    auto now = time_.now_ms();
    advance_locked(now);
    if (generation != generation_) {
        return;  // a report from an earlier state: stale
    }
    using outcome = breaker_ticket::outcome;
    if (state_ == breaker_state::closed) {
        if (o == outcome::failure && ++failures_ >= options_.failure_threshold) {
            move_to_locked(breaker_state::open, now);
        } else if (o == outcome::success) {
            failures_ = 0;
        }
        return;
    }
    if (state_ == breaker_state::half_open && probe) {
        --probes_out_;
        if (o == outcome::success) {
            move_to_locked(breaker_state::closed, now);
        } else if (o == outcome::failure) {
            move_to_locked(breaker_state::open, now);
        }
    }
}

breaker_state circuit_breaker::state() {
    std::lock_guard lock(mutex_);
    advance_locked(time_.now_ms());
    return state_;
}

std::chrono::milliseconds circuit_breaker::retry_in() {
    std::lock_guard lock(mutex_);
    auto now = time_.now_ms();
    advance_locked(now);
    if (state_ == breaker_state::open) {
        return std::chrono::milliseconds(since_ + options_.open_for.count() - now);
    }
    if (state_ == breaker_state::half_open && probes_out_ >= options_.half_open_probes &&
        first_probe_at_) {
        // The probes decide: a pause as long as the open one, but not past their wait.
        const auto give_up_at = *first_probe_at_ + options_.half_open_max_wait.count();
        return std::chrono::milliseconds(
            std::max<std::int64_t>(1, std::min(options_.open_for.count(), give_up_at - now)));
    }
    return std::chrono::milliseconds(0);
}

}  // namespace boomer::resilience
