// The circuit breakers of a process, one per (upstream, model), created on first use and
// exported as the gauge boomer_breaker_state{upstream,model} (0 closed, 1 open, 2 half-open),
// read at every scrape.
//
// Thread-safety: get() may be called from any thread (a mutex guards the map); breakers are never
// removed, so a reference stays valid while the board lives. The clock and the registry must
// outlive the board. Two boards on one registry share the gauge's children: the last one built
// for an (upstream, model) is the one reported, and a board clears its children when destroyed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "resilience/circuit_breaker.hpp"

namespace boomer::resilience {

class breaker_board {
public:
    // `registry` may be null (no gauge).
    breaker_board(breaker_options options, const clock& time, metrics::registry* registry);
    ~breaker_board();
    breaker_board(const breaker_board&) = delete;
    breaker_board& operator=(const breaker_board&) = delete;

    // get returns the breaker of (upstream, model), creating it closed on first use.
    circuit_breaker& get(const std::string& upstream, const std::string& model);

private:
    breaker_options options_;
    const clock& time_;
    metrics::family<metrics::callback_gauge>* gauge_ = nullptr;
    std::mutex mutex_;
    // guarded by mutex_
    std::map<std::pair<std::string, std::string>, std::unique_ptr<circuit_breaker>> breakers_;
    std::vector<metrics::callback_gauge*> installed_;  // guarded by mutex_
};

}  // namespace boomer::resilience
