// Adaptive concurrency: slots handed over in order, AIMD under a burst of 429s, bounds, and
// cancellation of a waiter.
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
    for (int i = 0; i < 4; ++i) {
        auto p = start(io, c, 1);
        p[0]->report(call_signal::success);
    }
    CHECK(c.limit() == Approx(4.0 + 1.0 / 4 + 1.0 / 4.25 + 1.0 / (4.25 + 1.0 / 4.25) +
                              1.0 / (4.25 + 1.0 / 4.25 + 1.0 / (4.25 + 1.0 / 4.25)))
                           .epsilon(1e-9));
    CHECK(c.limit() > 4.9);
    for (int i = 0; i < 20; ++i) {
        auto p = start(io, c, 1);
        p[0]->report(call_signal::success);
    }
    CHECK(c.limit() == Approx(5.0));
    // Five slots now: five permits at once, the sixth waits.
    auto many = start(io, c, 6);
    CHECK(count_held(many) == 5);
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
