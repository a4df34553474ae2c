// Single flight: concurrent callers asking for the same key share one load. The first caller
// (the leader) runs the loader; callers arriving while it runs wait, without blocking a thread,
// and receive a copy of its result, value or error. The flight ends with the load: a later
// caller starts a new one, so an error is never handed to anyone beyond that flight. If the
// leader is cancelled or its loader throws, the waiters are woken and the next of them leads a
// new load (the leader's exception goes to the leader only). A caller may bound its wait: when
// the time is up before the load ends, it stops waiting and the load goes on for the others.
//
// Thread-safety: run() may be called from any thread (a mutex guards the flights). The
// single_flight must outlive every run().
#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "resilience/deadline.hpp"
#include "resilience/wait_list.hpp"

namespace boomer::cache {

// The failure code of a caller that stopped waiting for a flight at its max_wait.
inline constexpr std::string_view flight_wait_expired = "flight_wait_expired";

template <class V>
class single_flight {
public:
    using loader = std::function<boost::asio::awaitable<result<V>>()>;

    // run returns the result of `load` for `key`, sharing a load already in flight. `key` and
    // `load` must stay alive until run() returns (pass named objects). Cancellation while
    // waiting throws boost::system::system_error (operation_aborted); the flight goes on.
    // With `max_wait`, a caller that finds a flight waits for it at most that long (a real
    // timer); then it returns the failure {flight_wait_expired, ..., retryable} and sets
    // `*expired` (when given), and the flight goes on. The caller that leads runs its load to
    // the end: `max_wait` does not bound it.
    boost::asio::awaitable<result<V>> run(const std::string& key, const loader& load,
                                          std::optional<std::chrono::milliseconds> max_wait = {},
                                          bool* expired = nullptr) {
        using steady = std::chrono::steady_clock;
        const auto give_up = max_wait ? steady::now() + *max_wait : steady::time_point::max();
        for (;;) {
            std::shared_ptr<flight> f;
            bool leader = false;
            {
                std::lock_guard lock(mutex_);
                auto it = flights_.find(key);
                if (it == flights_.end()) {
                    f = std::make_shared<flight>(mutex_);
                    flights_.emplace(key, f);
                    leader = true;
                } else {
                    f = it->second;
                }
            }
            if (leader) {
                co_return co_await lead(key, f, load);
            }
            if (!max_wait) {
                auto waiting = wait_landed(f);
                co_await std::move(waiting);
            } else if (!co_await wait_within(f, give_up - steady::now())) {
                if (expired != nullptr) {
                    *expired = true;
                }
                co_return fail(std::string(flight_wait_expired),
                               "Stopped waiting for an identical request in flight after " +
                                   std::to_string(max_wait->count()) + " ms.",
                               true);
            }
            if (f->outcome) {
                co_return *f->outcome;
            }
        }
    }

    // try_lead makes the caller the leader of a flight for `key` when none is in flight, without
    // a coroutine of its own: the caller loads the value itself and must end the flight with
    // land() or abandon() (callers that find the flight meanwhile wait as with run()). Returns
    // false when another caller leads one already (then use run() to wait for it). For a load
    // that waits long: the leader keeps no frame of the single flight while it loads.
    bool try_lead(const std::string& key) {
        std::lock_guard lock(mutex_);
        if (flights_.contains(key)) {
            return false;
        }
        flights_.emplace(key, std::make_shared<flight>(mutex_));
        return true;
    }

    // land ends the flight try_lead began for `key`, handing `outcome` to the callers waiting.
    void land(const std::string& key, const result<V>& outcome) { end(key, &outcome); }

    // abandon ends the flight try_lead began for `key` without an outcome: the next caller that
    // waits for it leads a new load (as when a leader of run() is cancelled).
    void abandon(const std::string& key) { end(key, nullptr); }

    // in_flight counts keys being loaded now.
    std::size_t in_flight() const {
        std::lock_guard lock(mutex_);
        return flights_.size();
    }

private:
    using steady_duration = std::chrono::steady_clock::duration;

    struct flight {
        explicit flight(std::mutex& m) : waiters(m) {}
        resilience::wait_list waiters;  // guarded by the single_flight's mutex_
        // Set once, under mutex_, before waiters are woken. Boxed: a flight lives as long as its
        // load, which may wait hours (a batch), and a value may be large.
        std::unique_ptr<const result<V>> outcome;
        bool abandoned = false;  // likewise
    };

    // wait_landed returns once `f` has an outcome or was abandoned.
    static boost::asio::awaitable<bool> wait_landed(std::shared_ptr<flight> f) {
        auto landed = [&f] { return f->outcome != nullptr || f->abandoned; };
        co_await f->waiters.wait(landed);
        co_return true;
    }

    // wait_within is wait_landed for at most `left`: false when the time ran out first (a
    // flight that landed just then still counts).
    boost::asio::awaitable<bool> wait_within(std::shared_ptr<flight> f, steady_duration left) {
        auto waiting = wait_landed(f);
        auto bound = std::chrono::duration_cast<std::chrono::milliseconds>(left);
        auto waited = co_await resilience::within(waiting, std::max(bound, bound.zero()));
        if (waited) {
            co_return true;
        }
        std::lock_guard lock(mutex_);
        co_return f->outcome != nullptr || f->abandoned;
    }

    boost::asio::awaitable<result<V>> lead(const std::string& key, const std::shared_ptr<flight>& f,
                                           const loader& load) {
        std::optional<result<V>> out;
        std::exception_ptr error;
        try {
            out.emplace(co_await load());
        } catch (...) {
            error = std::current_exception();
        }
        {
            std::lock_guard lock(mutex_);
            flights_.erase(key);
            if (error) {
                f->abandoned = true;
            } else {
                f->outcome = std::make_unique<const result<V>>(*out);
            }
            f->waiters.grant_all();
        }
        if (error) {
            std::rethrow_exception(error);
        }
        co_return std::move(*out);
    }

    void end(const std::string& key, const result<V>* outcome) {
        std::lock_guard lock(mutex_);
        auto it = flights_.find(key);
        if (it == flights_.end()) {
            return;
        }
        auto f = std::move(it->second);
        flights_.erase(it);
        if (outcome != nullptr) {
            f->outcome = std::make_unique<const result<V>>(*outcome);
        } else {
            f->abandoned = true;
        }
        f->waiters.grant_all();
    }

    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<flight>, std::less<>> flights_;  // guarded by mutex_
};

}  // namespace boomer::cache
