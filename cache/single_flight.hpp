// Single flight: concurrent callers asking for the same key share one load. The first caller
// (the leader) runs the loader; callers arriving while it runs wait, without blocking a thread,
// and receive a copy of its result, value or error. The flight ends with the load: a later
// caller starts a new one, so an error is never handed to anyone beyond that flight. If the
// leader is cancelled or its loader throws, the waiters are woken and the next of them leads a
// new load (the leader's exception goes to the leader only).
//
// Thread-safety: run() may be called from any thread (a mutex guards the flights). The
// single_flight must outlive every run().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "resilience/wait_list.hpp"

namespace boomer::cache {

template <class V>
class single_flight {
public:
    using loader = std::function<boost::asio::awaitable<result<V>>()>;

    // run returns the result of `load` for `key`, sharing a load already in flight. `key` and
    // `load` must stay alive until run() returns (pass named objects). Cancellation while
    // waiting throws boost::system::system_error (operation_aborted); the flight goes on.
    boost::asio::awaitable<result<V>> run(const std::string& key, const loader& load) {
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
            auto landed = [&f] { return f->outcome.has_value() || f->abandoned; };
            co_await f->waiters.wait(landed);
            if (f->outcome) {
                co_return *f->outcome;
            }
        }
    }

    // in_flight counts keys being loaded now.
    std::size_t in_flight() const {
        std::lock_guard lock(mutex_);
        return flights_.size();
    }

private:
    struct flight {
        explicit flight(std::mutex& m) : waiters(m) {}
        resilience::wait_list waiters;     // guarded by the single_flight's mutex_
        std::optional<result<V>> outcome;  // set once, under mutex_, before waiters are woken
        bool abandoned = false;            // likewise
    };

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
                f->outcome = *out;
            }
            f->waiters.grant_all();
        }
        if (error) {
            std::rethrow_exception(error);
        }
        co_return std::move(*out);
    }

    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<flight>, std::less<>> flights_;  // guarded by mutex_
};

}  // namespace boomer::cache
