// The circuit breaker on a manual clock: opening, probing, and probes that never come back.
#include "resilience/circuit_breaker.hpp"

#include <catch2/catch.hpp>
#include <sstream>
#include <vector>

#include "resilience/breaker_board.hpp"

using namespace boomer;
using namespace boomer::resilience;
using std::chrono::milliseconds;

namespace {

breaker_options small_options() {
    return {.failure_threshold = 3,
            .open_for = milliseconds(1000),
            .half_open_probes = 2,
            .half_open_max_wait = milliseconds(500)};
}

void fail_times(circuit_breaker& b, int n) {
    for (int i = 0; i < n; ++i) {
        auto t = b.allow();
        REQUIRE(t);
        t->failure();
    }
}

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (l == line) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("circuit breaker: consecutive failures open it; a success resets the count",
          "[resilience]") {
    manual_clock time;
    circuit_breaker b(small_options(), time);
    fail_times(b, 2);
    b.allow()->success();
    fail_times(b, 2);
    CHECK(b.state() == breaker_state::closed);
    fail_times(b, 1);
    CHECK(b.state() == breaker_state::open);
    CHECK_FALSE(b.allow());
    CHECK(b.retry_in() == milliseconds(1000));
    time.advance_ms(999);
    CHECK_FALSE(b.allow());
    CHECK(b.retry_in() == milliseconds(1));
}

TEST_CASE("circuit breaker: half-open lets a bounded number of probes through", "[resilience]") {
    manual_clock time;
    circuit_breaker b(small_options(), time);
    fail_times(b, 3);
    time.advance_ms(1000);
    CHECK(b.state() == breaker_state::half_open);
    auto p1 = b.allow();
    auto p2 = b.allow();
    REQUIRE(p1);
    REQUIRE(p2);
    CHECK(p1->probe());
    CHECK_FALSE(b.allow());

    SECTION("a probe's success closes it") {
        p1->success();
        CHECK(b.state() == breaker_state::closed);
        p2->failure();  // a report from the earlier state counts for nothing
        CHECK(b.state() == breaker_state::closed);
        CHECK(b.allow());
    }
    SECTION("a probe's failure opens it again for the full time") {
        p2->failure();
        CHECK(b.state() == breaker_state::open);
        CHECK(b.retry_in() == milliseconds(1000));
    }
}

TEST_CASE("circuit breaker: a refusal while the probes are out asks for a wait", "[resilience]") {
    manual_clock time;
    circuit_breaker b(small_options(), time);
    fail_times(b, 3);
    time.advance_ms(1000);
    auto p1 = b.allow();
    auto p2 = b.allow();
    REQUIRE(p1);
    REQUIRE(p2);
    CHECK(b.retry_in() == milliseconds(500));  // the probes' wait is shorter than the pause
    time.advance_ms(300);
    CHECK_FALSE(b.allow());
    CHECK(b.retry_in() == milliseconds(200));
    p1.reset();  // a place is free again: a call may go now
    CHECK(b.retry_in() == milliseconds(0));
}

TEST_CASE(
    "circuit breaker: all half-open probes cancelled, it leaves half-open within its "
    "maximum wait",
    "[resilience]") {
    manual_clock time;
    circuit_breaker b(small_options(), time);
    fail_times(b, 3);
    time.advance_ms(1000);
    {
        auto p1 = b.allow();
        auto p2 = b.allow();
        REQUIRE(p1);
        REQUIRE(p2);
        time.advance_ms(100);
    }  // both dropped without a report: cancelled
    CHECK(b.state() == breaker_state::half_open);
    time.advance_ms(399);
    CHECK(b.state() == breaker_state::half_open);
    time.advance_ms(1);  // 500 ms after the first probe went out
    CHECK(b.state() == breaker_state::open);
    CHECK(b.retry_in() == milliseconds(1000));
}

TEST_CASE("circuit breaker: probes that are lost cannot keep it half-open", "[resilience]") {
    manual_clock time;
    circuit_breaker b(small_options(), time);
    fail_times(b, 3);
    time.advance_ms(1000);
    auto lost1 = b.allow();
    auto lost2 = b.allow();
    REQUIRE(lost1);
    REQUIRE(lost2);
    time.advance_ms(500);
    CHECK(b.state() == breaker_state::open);
    // A late success from the old probe is ignored: the breaker stays open.
    lost1->success();
    CHECK(b.state() == breaker_state::open);
    time.advance_ms(1000);
    CHECK(b.state() == breaker_state::half_open);
    auto fresh = b.allow();
    REQUIRE(fresh);
    fresh->success();
    CHECK(b.state() == breaker_state::closed);
}

TEST_CASE("circuit breaker: a half-open state nobody probes waits for a probe", "[resilience]") {
    manual_clock time;
    circuit_breaker b(small_options(), time);
    fail_times(b, 3);
    time.advance_ms(60'000);
    CHECK(b.state() == breaker_state::half_open);
    auto probe = b.allow();
    REQUIRE(probe);
    probe->success();
    CHECK(b.state() == breaker_state::closed);
}

TEST_CASE("breaker board: one breaker per upstream and model, exported as a gauge",
          "[resilience]") {
    manual_clock time;
    metrics::registry registry;
    breaker_board board(small_options(), time, &registry);
    auto& haiku = board.get("anthropic", "claude-haiku-4-5");
    CHECK(&board.get("anthropic", "claude-haiku-4-5") == &haiku);
    auto& sonnet = board.get("anthropic", "claude-sonnet-4-5");
    CHECK(&sonnet != &haiku);
    fail_times(haiku, 3);
    auto text = registry.render();
    CHECK(
        has_line(text, R"(boomer_breaker_state{upstream="anthropic",model="claude-haiku-4-5"} 1)"));
    CHECK(has_line(text,
                   R"(boomer_breaker_state{upstream="anthropic",model="claude-sonnet-4-5"} 0)"));
    time.advance_ms(1000);
    CHECK(has_line(registry.render(),
                   R"(boomer_breaker_state{upstream="anthropic",model="claude-haiku-4-5"} 2)"));
}
