// Backoff bounds, retry-after handling and the retry budget, on a manual clock.
#include "resilience/retry.hpp"

#include <catch2/catch.hpp>

using namespace boomer;
using namespace boomer::resilience;
using std::chrono::milliseconds;

TEST_CASE("backoff: full jitter stays within the doubling ceiling and the cap", "[resilience]") {
    backoff_policy p;
    p.base = milliseconds(100);
    p.cap = milliseconds(1000);
    CHECK(full_jitter_delay(p, 1, 0.0) == milliseconds(0));
    CHECK(full_jitter_delay(p, 1, 0.5) == milliseconds(50));
    CHECK(full_jitter_delay(p, 2, 0.5) == milliseconds(100));
    CHECK(full_jitter_delay(p, 3, 0.999) == milliseconds(399));
    CHECK(full_jitter_delay(p, 4, 0.5) == milliseconds(400));
    CHECK(full_jitter_delay(p, 5, 0.5) == milliseconds(500));   // 1600 capped at 1000
    CHECK(full_jitter_delay(p, 60, 0.5) == milliseconds(500));  // no overflow far out
    for (int retry = 1; retry <= 10; ++retry) {
        for (double draw : {0.0, 0.25, 0.75, 0.999999}) {
            auto d = full_jitter_delay(p, retry, draw);
            CHECK(d >= milliseconds(0));
            CHECK(d < p.cap);
        }
    }
}

TEST_CASE("backoff: retry-after is waited exactly, never less, within the bound", "[resilience]") {
    backoff_policy p;
    p.max_retry_after = milliseconds(5000);
    unit_random low = [] { return 0.0; };
    auto d = next_retry(p, 1, milliseconds(1200), low);
    CHECK(d.retry);
    CHECK(d.wait == milliseconds(1200));
    CHECK(next_retry(p, 3, milliseconds(5000), low).wait == milliseconds(5000));

    auto too_long = next_retry(p, 1, milliseconds(5001), low);
    CHECK_FALSE(too_long.retry);
    CHECK(too_long.retry_after_too_long);

    // Zero or absent falls back to jittered backoff.
    unit_random half = [] { return 0.5; };
    CHECK(next_retry(p, 2, milliseconds(0), half).wait == milliseconds(500));
    CHECK(next_retry(p, 2, std::nullopt, half).wait == milliseconds(500));
}

TEST_CASE("retry budget: retries are limited to the ratio of requests", "[resilience]") {
    manual_clock time;
    retry_budget budget({.ratio = 0.1, .max_balance = 10.0, .floor_per_second = 0.0}, time);
    CHECK_FALSE(budget.try_spend());
    for (int i = 0; i < 100; ++i) {
        budget.on_request();
    }
    int granted = 0;
    while (budget.try_spend()) {
        ++granted;
    }
    CHECK(granted == 10);
    // Nine more requests are not yet a whole token; the tenth is.
    for (int i = 0; i < 9; ++i) {
        budget.on_request();
    }
    CHECK_FALSE(budget.try_spend());
    budget.on_request();
    CHECK(budget.try_spend());
}

TEST_CASE("retry budget: the balance is capped so quiet traffic banks no storm", "[resilience]") {
    manual_clock time;
    retry_budget budget({.ratio = 0.5, .max_balance = 3.0, .floor_per_second = 0.0}, time);
    for (int i = 0; i < 1000; ++i) {
        budget.on_request();
    }
    int granted = 0;
    while (budget.try_spend()) {
        ++granted;
    }
    CHECK(granted == 3);
}

TEST_CASE("retry budget: the floor allows a few retries per second without traffic",
          "[resilience]") {
    manual_clock time;
    retry_budget budget({.ratio = 0.1, .max_balance = 10.0, .floor_per_second = 2.0}, time);
    CHECK(budget.try_spend());
    CHECK(budget.try_spend());
    CHECK_FALSE(budget.try_spend());
    time.advance_ms(499);
    CHECK_FALSE(budget.try_spend());
    time.advance_ms(1);
    CHECK(budget.try_spend());
    CHECK_FALSE(budget.try_spend());
    time.advance_ms(60'000);  // a long pause refills one second's worth only
    CHECK(budget.balance() == Approx(2.0));
}
