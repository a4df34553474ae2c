// The rate limiter on a manual clock: waits in order, corrections from headers, settlement.
#include "resilience/rate_limiter.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "tests/resilience/support.hpp"

using namespace boomer;
using namespace boomer::resilience;
using std::chrono::milliseconds;

namespace {

struct limiter_harness {
    boost::asio::io_context io;
    manual_clock time;
    manual_sleeper sleep{time};
    rate_limiter limiter;

    explicit limiter_harness(rate_limits_per_minute limits) : limiter(limits, time, sleep) {}

    milliseconds acquire(rate_cost cost = {}) { return test::run_coro(io, limiter.acquire(cost)); }
};

// Records sleeps without moving any clock.
struct recording_sleeper final : sleeper {
    std::vector<milliseconds> delays;
    boost::asio::awaitable<void> sleep_for(milliseconds delay) override {
        delays.push_back(delay);
        co_return;
    }
};

}  // namespace

TEST_CASE("rate limiter: a full minute goes at once, then one request per interval",
          "[resilience]") {
    limiter_harness h({.requests = 60});
    for (int i = 0; i < 60; ++i) {
        REQUIRE(h.acquire() == milliseconds(0));
    }
    CHECK(h.acquire() == milliseconds(1000));
    CHECK(h.acquire() == milliseconds(1000));
    CHECK(h.sleep.delays() == std::vector<milliseconds>{milliseconds(1000), milliseconds(1000)});
}

TEST_CASE("rate limiter: reservations queue in order behind the debt", "[resilience]") {
    boost::asio::io_context io;
    manual_clock time;
    recording_sleeper sleep;  // time stands still: every caller reserves at the same instant
    rate_limiter limiter({.requests = 60}, time, sleep);
    for (int i = 0; i < 60; ++i) {
        REQUIRE(test::run_coro(io, limiter.acquire({})) == milliseconds(0));
    }
    // Each caller waits one interval longer than the one before it.
    CHECK(test::run_coro(io, limiter.acquire({})) == milliseconds(1000));
    CHECK(test::run_coro(io, limiter.acquire({})) == milliseconds(2000));
    CHECK(test::run_coro(io, limiter.acquire({})) == milliseconds(3000));
    time.advance_ms(3000);
    CHECK(*limiter.available(rate_resource::requests) == Approx(0.0));
}

TEST_CASE("rate limiter: headers give the limit and lower what is left", "[resilience]") {
    limiter_harness h({});
    CHECK_FALSE(h.limiter.available(rate_resource::requests));
    h.limiter.observe(rate_resource::requests, {.limit = 50, .remaining = 49});
    CHECK(h.limiter.limit(rate_resource::requests) == 50);
    CHECK(*h.limiter.available(rate_resource::requests) == Approx(49.0));
    for (int i = 0; i < 49; ++i) {
        REQUIRE(h.acquire() == milliseconds(0));
    }
    CHECK(h.acquire() == milliseconds(1200));  // 60 s / 50

    // A higher remaining never raises the bucket: our later reservations are not in it.
    h.limiter.observe(rate_resource::requests, {.limit = 50, .remaining = 40});
    CHECK(*h.limiter.available(rate_resource::requests) == Approx(0.0));
}

TEST_CASE("rate limiter: input tokens wait for what the header says is left", "[resilience]") {
    limiter_harness h({.requests = 1000, .input_tokens = 30'000, .output_tokens = 8'000});
    CHECK(h.acquire({.requests = 1, .input_tokens = 20'000, .output_tokens = 1'000}) ==
          milliseconds(0));
    // The upstream counted more than we did (another replica, say): 5,000 left, not 10,000.
    h.limiter.observe(rate_resource::input_tokens, {.limit = 30'000, .remaining = 5'000});
    CHECK(h.acquire({.requests = 1, .input_tokens = 10'000, .output_tokens = 1'000}) ==
          milliseconds(10'000));  // 5,000 tokens of debt at 500 per second
}

TEST_CASE("rate limiter: settling gives back what an estimate took too much", "[resilience]") {
    limiter_harness h({.requests = 100, .output_tokens = 6'000});
    rate_cost estimate{.requests = 1, .input_tokens = 0, .output_tokens = 6'000};
    CHECK(h.acquire(estimate) == milliseconds(0));
    CHECK(*h.limiter.available(rate_resource::output_tokens) == Approx(0.0));
    h.limiter.settle(estimate, {.requests = 1, .input_tokens = 0, .output_tokens = 1'000});
    CHECK(*h.limiter.available(rate_resource::output_tokens) == Approx(5'000.0));
    CHECK(h.acquire({.requests = 1, .input_tokens = 0, .output_tokens = 5'000}) == milliseconds(0));
}

TEST_CASE("rate limiter: the bucket refills with the clock and holds one minute", "[resilience]") {
    limiter_harness h({.requests = 120});
    for (int i = 0; i < 120; ++i) {
        h.acquire();
    }
    h.time.advance_ms(10'000);
    CHECK(*h.limiter.available(rate_resource::requests) == Approx(20.0));
    h.time.advance_ms(3'600'000);
    CHECK(*h.limiter.available(rate_resource::requests) == Approx(120.0));
}

TEST_CASE(
    "rate limiter: with a transit allowance an upstream counting with the same bucket is never "
    "exceeded, however the calls are delayed on the way",
    "[resilience]") {
    // Callers come twice as fast as the limit allows; each admitted call reaches the upstream
    // after a random delay of up to 2 s, so calls arrive out of order and in clumps.
    limiter_harness h({.requests = 600, .transit = std::chrono::seconds(2)});  // ten a second
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> gap_ms(0, 100);
    std::uniform_int_distribution<int> transit_ms(0, 2'000);
    std::vector<std::int64_t> arrivals;
    for (int i = 0; i < 3'000; ++i) {
        h.time.advance_ms(gap_ms(rng));
        h.acquire();
        arrivals.push_back(h.time.now_ms() + transit_ms(rng));
    }
    std::sort(arrivals.begin(), arrivals.end());

    // The upstream's bucket: the same size and refill, full at the first arrival (ours held 20
    // calls less).
    double level = 600.0;
    double lowest = level;
    std::int64_t last = arrivals.front();
    for (auto at : arrivals) {
        level = std::min(600.0, level + static_cast<double>(at - last) * 600.0 / 60'000.0);
        last = at;
        lowest = std::min(lowest, level);
        level -= 1.0;
    }
    // Calls still in transit while the upstream's bucket is full are forgotten by it but not by
    // ours; the transit allowance (2 s of calls) keeps that shortfall out of our bucket, so the
    // upstream always had the call's request left when it arrived.
    CHECK(lowest >= 1.0);
    // And the limit was used: 3,000 calls in about 4 minutes (the first 1,200 in the first).
    auto span_s = static_cast<double>(arrivals.back() - arrivals.front()) / 1000.0;
    CHECK(span_s < 250.0);
}

TEST_CASE("rate limiter: a wait longer than the caller has left is refused, nothing reserved",
          "[resilience]") {
    limiter_harness h({.requests = 60});
    for (int i = 0; i < 60; ++i) {
        REQUIRE(h.acquire() == milliseconds(0));
    }
    // The next request would wait one interval (1000 ms).
    auto refused = test::run_coro(h.io, h.limiter.acquire_within({}, milliseconds(999)));
    CHECK_FALSE(refused);
    CHECK(h.sleep.delays().empty());
    // The refusal took nothing: the next caller waits the same single interval, not two.
    auto allowed = test::run_coro(h.io, h.limiter.acquire_within({}, milliseconds(1000)));
    REQUIRE(allowed);
    CHECK(*allowed == milliseconds(1000));
    CHECK(h.sleep.delays() == std::vector<milliseconds>{milliseconds(1000)});
}
