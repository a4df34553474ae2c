// Adaptive concurrency: slots handed over in order, AIMD under a burst of 429s, slow start and
// recovery, the Little's-law ceiling, bounds, and cancellation of a waiter.
#include "resilience/adaptive_concurrency.hpp"

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "resilience/sleeper.hpp"
#include "tests/resilience/support.hpp"

using namespace boomer;
using namespace boomer::resilience;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> take(adaptive_concurrency& c, std::optional<concurrency_permit>* out) {
    out->emplace(co_await c.acquire());
}

// Starts `n` acquisitions and runs them as far as they go (poll: waiters keep the context busy).
std::vector<std::optional<concurrency_permit>> start(asio::io_context& io, adaptive_concurrency& c,
                                                     int n) {
    std::vector<std::optional<concurrency_permit>> permits(static_cast<std::size_t>(n));
    for (auto& p : permits) {
        asio::co_spawn(io, take(c, &p), asio::detached);
    }
    io.restart();
    io.poll();
    return permits;
}

int count_held(const std::vector<std::optional<concurrency_permit>>& permits) {
    int n = 0;
    for (const auto& p : permits) {
        n += p.has_value() ? 1 : 0;
    }
    return n;
}

// Takes one permit that must be free now.
std::optional<concurrency_permit> take_one(asio::io_context& io, adaptive_concurrency& c) {
    auto one = start(io, c, 1);
    REQUIRE(one[0].has_value());
    return std::move(one[0]);
}

// A steady crowd of callers: `n` acquisitions started at once (more than the limit, so some
// wait); finish() ends the oldest held calls, and the waiters take the freed slots.
class crowd {
public:
    crowd(asio::io_context& io, adaptive_concurrency& c, int n)
        : io_(io), permits_(static_cast<std::size_t>(n)) {
        for (auto& p : permits_) {
            asio::co_spawn(io_, take(c, &p), asio::detached);
        }
        io_.restart();
        io_.poll();
    }

    // finish reports `k` held calls, oldest first, then lets waiters take the freed slots.
    // Returns how many it could finish.
    int finish(int k, call_signal signal, std::chrono::milliseconds latency) {
        int done = 0;
        for (; next_ < permits_.size() && done < k && permits_[next_]; ++next_, ++done) {
            permits_[next_]->report(signal, latency);
        }
        io_.restart();
        io_.poll();
        return done;
    }

    ~crowd() {
        for (auto& p : permits_) {
            if (p) {
                p->report(call_signal::neutral);
            }
        }
        io_.restart();
        io_.poll();
    }

private:
    asio::io_context& io_;
    std::vector<std::optional<concurrency_permit>> permits_;  // never resized: stable addresses
    std::size_t next_ = 0;
};

}  // namespace

TEST_CASE("adaptive concurrency: waiters get freed slots in order", "[resilience]") {
    asio::io_context io;
    adaptive_concurrency c({.initial = 2, .min = 1, .max = 8});
    std::vector<std::optional<concurrency_permit>> permits(4);
    for (auto& p : permits) {
        asio::co_spawn(io, take(c, &p), asio::detached);
    }
    io.poll();
    CHECK(count_held(permits) == 2);
    CHECK(c.in_flight() == 2);
    CHECK(c.waiting() == 2);
    REQUIRE(permits[0]);
    permits[0]->report(call_signal::neutral);
    io.restart();
    io.poll();
    CHECK(permits[2].has_value());
    CHECK_FALSE(permits[3].has_value());
    CHECK(c.in_flight() == 2);
}

TEST_CASE("adaptive concurrency: a burst of 429s from one window halves the limit once",
          "[resilience]") {
    asio::io_context io;
    adaptive_concurrency c({.initial = 20, .min = 2, .max = 40});
    auto permits = start(io, c, 20);
    REQUIRE(count_held(permits) == 20);
    for (auto& p : permits) {
        p->report(call_signal::overload);
    }
    CHECK(c.limit() == Approx(10.0));
    CHECK(c.in_flight() == 0);

    // A call started after the decrease may decrease again; the floor holds.
    for (double expected : {5.0, 2.5, 2.0, 2.0}) {
        auto again = start(io, c, 1);
        again[0]->report(call_signal::overload);
        CHECK(c.limit() == Approx(expected));
    }
}

TEST_CASE("adaptive concurrency: successes add about one slot per window, up to the max",
          "[resilience]") {
    asio::io_context io;
    adaptive_concurrency c({.initial = 4, .min = 1, .max = 5, .increase = 1.0});
    // Four calls in flight; each success is replaced by a new call, so the slots stay in use.
    auto permits = start(io, c, 4);
    REQUIRE(count_held(permits) == 4);
    for (int i = 0; i < 4; ++i) {
        permits[static_cast<std::size_t>(i)]->report(call_signal::success);
        permits[static_cast<std::size_t>(i)] = take_one(io, c);
    }
    CHECK(c.limit() == Approx(4.0 + 1.0 / 4 + 1.0 / 4.25 + 1.0 / (4.25 + 1.0 / 4.25) +
                              1.0 / (4.25 + 1.0 / 4.25 + 1.0 / (4.25 + 1.0 / 4.25)))
                           .epsilon(1e-9));
    CHECK(c.limit() > 4.9);
    for (int i = 0; i < 20; ++i) {
        auto& p = permits[static_cast<std::size_t>(i % 4)];
        p->report(call_signal::success);
        p = take_one(io, c);
    }
    for (auto& p : permits) {
        p->report(call_signal::neutral);
    }
    CHECK(c.limit() == Approx(5.0));
    // Five slots now: five permits at once, the sixth waits.
    auto many = start(io, c, 6);
    CHECK(count_held(many) == 5);
}

TEST_CASE("adaptive concurrency: successes while most slots are idle do not raise the limit",
          "[resilience]") {
    asio::io_context io;
    adaptive_concurrency c({.initial = 8, .min = 1, .max = 100, .slow_start = true});
    for (int i = 0; i < 50; ++i) {
        auto p = start(io, c, 1);
        p[0]->report(call_signal::success, std::chrono::milliseconds(100));
    }
    CHECK(c.limit() == Approx(8.0));
}

TEST_CASE("adaptive concurrency: slow start doubles the limit per window of busy calls",
          "[resilience]") {
    using std::chrono::milliseconds;
    asio::io_context io;
    adaptive_concurrency c({.initial = 4, .min = 1, .max = 1000, .slow_start = true});
    crowd calls(io, c, 400);
    CHECK(c.in_flight() == 4);
    for (double expected : {8.0, 16.0, 32.0, 64.0}) {
        int window = static_cast<int>(c.limit());
        REQUIRE(calls.finish(window, call_signal::success, milliseconds(5000)) == window);
        CHECK(c.limit() == Approx(expected));
        CHECK(c.in_flight() == static_cast<int>(expected));
        CHECK(c.in_slow_start());
    }
}

TEST_CASE(
    "adaptive concurrency: after an overload slow start recovers to near the old peak, "
    "then growth is additive",
    "[resilience]") {
    using std::chrono::milliseconds;
    asio::io_context io;
    adaptive_concurrency c(
        {.initial = 40, .min = 1, .max = 1000, .slow_start = true, .recover = 0.9});
    crowd calls(io, c, 400);
    REQUIRE(c.in_flight() == 40);
    calls.finish(1, call_signal::overload, milliseconds(0));
    CHECK(c.limit() == Approx(20.0));
    CHECK(c.in_slow_start());
    // One slot per success up to 36 (0.9 x 40): 16 successes.
    calls.finish(16, call_signal::success, milliseconds(100));
    CHECK(c.limit() == Approx(36.0));
    CHECK_FALSE(c.in_slow_start());
    // Then about one slot per window of 36.
    calls.finish(36, call_signal::success, milliseconds(100));
    CHECK(c.limit() > 36.9);
    CHECK(c.limit() < 37.1);
}

TEST_CASE("adaptive concurrency: the limit stops at rate x latency x headroom (Little's law)",
          "[resilience]") {
    using std::chrono::milliseconds;
    asio::io_context io;
    adaptive_concurrency c(
        {.initial = 4, .min = 1, .max = 1000, .slow_start = true, .headroom = 1.5});
    c.set_rate(600);                       // ten calls a second
    CHECK(c.ceiling() == Approx(1000.0));  // no latency seen yet
    crowd calls(io, c, 300);
    for (int window = 0; window < 8; ++window) {
        calls.finish(static_cast<int>(c.limit()), call_signal::success, milliseconds(2000));
    }
    // 10/s x 2 s = 20 in flight needed; x 1.5 headroom, + 1.
    CHECK(c.latency_ms() == Approx(2000.0));
    CHECK(c.ceiling() == Approx(31.0));
    CHECK(c.limit() == Approx(31.0));
    CHECK(c.in_flight() == 31);

    // A lower allowed rate lowers the limit at once; a longer latency raises the ceiling.
    c.set_rate(300);
    CHECK(c.limit() == Approx(16.0));
    c.set_rate(600);
    calls.finish(16, call_signal::success, milliseconds(4000));
    CHECK(c.latency_ms() > 2000.0);
    CHECK(c.ceiling() > 31.0);
    CHECK(c.limit() > 16.0);
}

TEST_CASE(
    "adaptive concurrency: before any overload, slow start goes at once to what the rate needs",
    "[resilience]") {
    using std::chrono::milliseconds;
    asio::io_context io;
    adaptive_concurrency c(
        {.initial = 4, .min = 1, .max = 1000, .slow_start = true, .headroom = 1.5});
    crowd calls(io, c, 300);
    // No rate known: one slot per success.
    calls.finish(1, call_signal::success, milliseconds(2000));
    CHECK(c.limit() == Approx(5.0));
    // 600 calls a minute for 2 s calls need 20 in flight: the next success goes there.
    c.set_rate(600);
    calls.finish(1, call_signal::success, milliseconds(2000));
    CHECK(c.limit() == Approx(20.0));
    CHECK(c.in_flight() == 20);
    CHECK(c.in_slow_start());
    // Above it, toward the ceiling (31), one slot per success again.
    calls.finish(2, call_signal::success, milliseconds(2000));
    CHECK(c.limit() == Approx(22.0));

    // After an overload, recovery is slow start by single slots, however far below the need.
    calls.finish(1, call_signal::overload, milliseconds(0));
    CHECK(c.limit() == Approx(11.0));
    calls.finish(1, call_signal::success, milliseconds(2000));
    CHECK(c.limit() == Approx(12.0));
}

TEST_CASE("adaptive concurrency: latency is a weighted mean of successes only", "[resilience]") {
    using std::chrono::milliseconds;
    asio::io_context io;
    adaptive_concurrency c({.initial = 2, .min = 1, .max = 10, .latency_weight = 0.5});
    take_one(io, c)->report(call_signal::success, milliseconds(1000));
    CHECK(c.latency_ms() == Approx(1000.0));
    take_one(io, c)->report(call_signal::success, milliseconds(3000));
    CHECK(c.latency_ms() == Approx(2000.0));
    take_one(io, c)->report(call_signal::overload, milliseconds(10));
    take_one(io, c)->report(call_signal::neutral, milliseconds(10));
    CHECK(c.latency_ms() == Approx(2000.0));
}

TEST_CASE("adaptive concurrency: a cancelled waiter leaves the queue and takes no slot",
          "[resilience]") {
    asio::io_context io;
    adaptive_concurrency c({.initial = 1, .min = 1, .max = 1});
    auto first = start(io, c, 1);
    REQUIRE(first[0]);

    std::optional<concurrency_permit> second;
    asio::cancellation_signal cancel;
    bool aborted = false;
    asio::co_spawn(io, take(c, &second),
                   asio::bind_cancellation_slot(cancel.slot(), [&aborted](std::exception_ptr e) {
                       aborted = e != nullptr;
                   }));
    io.restart();
    io.run_one();
    CHECK(c.waiting() == 1);
    cancel.emit(asio::cancellation_type::terminal);
    io.restart();
    io.poll();
    CHECK(aborted);
    CHECK(c.waiting() == 0);
    first[0]->report(call_signal::success);
    CHECK(c.in_flight() == 0);
    CHECK_FALSE(second.has_value());
}

TEST_CASE("adaptive concurrency: bad bounds are refused", "[resilience]") {
    CHECK_THROWS_AS(adaptive_concurrency({.initial = 0.5, .min = 0.5, .max = 2}),
                    std::invalid_argument);
    CHECK_THROWS_AS(adaptive_concurrency({.initial = 3, .min = 1, .max = 2}),
                    std::invalid_argument);
    CHECK_THROWS_AS(adaptive_concurrency({.initial = 2, .min = 1, .max = 2, .decrease = 1.0}),
                    std::invalid_argument);
    CHECK_THROWS_AS(adaptive_concurrency({.initial = 2, .min = 1, .max = 2, .headroom = 0.5}),
                    std::invalid_argument);
    CHECK_THROWS_AS(adaptive_concurrency({.initial = 2, .min = 1, .max = 2, .recover = 0.0}),
                    std::invalid_argument);
}

namespace {

struct occupancy {
    std::atomic<int> now{0};
    std::atomic<int> peak{0};
    std::atomic<int> done{0};
};

asio::awaitable<void> hold_briefly(adaptive_concurrency& c, occupancy& o) {
    auto permit = co_await c.acquire();
    int inside = ++o.now;
    int peak = o.peak.load();
    while (inside > peak && !o.peak.compare_exchange_weak(peak, inside)) {
    }
    co_await timer_sleeper::instance().sleep_for(std::chrono::milliseconds(1));
    --o.now;
    permit.report(call_signal::success);
    ++o.done;
}

}  // namespace

TEST_CASE("adaptive concurrency: four threads never hold more slots than the limit",
          "[resilience]") {
    asio::io_context io;
    adaptive_concurrency c({.initial = 3, .min = 1, .max = 3});
    occupancy o;
    for (int i = 0; i < 200; ++i) {
        asio::co_spawn(io, hold_briefly(c, o), asio::detached);
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&io] { io.run(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(o.done == 200);
    CHECK(o.peak <= 3);
    CHECK(o.peak >= 2);
    CHECK(c.in_flight() == 0);
    CHECK(c.waiting() == 0);
}
