// Deadlines on a manual clock, and `within` racing real work against a short timer.
#include "resilience/deadline.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "resilience/sleeper.hpp"
#include "tests/resilience/support.hpp"

using namespace boomer;
using namespace boomer::resilience;
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

asio::awaitable<int> slow_answer(milliseconds delay, int value) {
    co_await timer_sleeper::instance().sleep_for(delay);
    co_return value;
}

asio::awaitable<result<int>> answer_within(milliseconds delay, milliseconds timeout) {
    auto work = slow_answer(delay, 42);
    co_return co_await within(work, timeout, "vision_timeout");
}

}  // namespace

TEST_CASE("deadline: remaining time and attempt timeouts follow the clock", "[resilience]") {
    manual_clock time;
    auto d = deadline::after(time, milliseconds(1000));
    CHECK(d.remaining() == milliseconds(1000));
    CHECK(d.attempt_timeout(milliseconds(300)) == milliseconds(300));
    time.advance_ms(800);
    CHECK(d.attempt_timeout(milliseconds(300)) == milliseconds(200));
    CHECK_FALSE(d.expired());
    time.advance_ms(200);
    CHECK(d.expired());
    CHECK(d.remaining() == milliseconds(0));
    CHECK_FALSE(deadline::never(time).expired());
}

TEST_CASE("within: work that finishes first returns its value", "[resilience]") {
    asio::io_context io;
    auto r = test::run_coro(io, answer_within(milliseconds(1), milliseconds(2000)));
    REQUIRE(r);
    CHECK(*r == 42);
}

TEST_CASE("within: work that outlasts the timeout is cancelled and fails retryably",
          "[resilience]") {
    asio::io_context io;
    auto start = std::chrono::steady_clock::now();
    auto r = test::run_coro(io, answer_within(milliseconds(5000), milliseconds(20)));
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(2000));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "vision_timeout");
    CHECK(r.error().retryable);
    CHECK(r.error().message == "The operation did not finish within 20 ms.");
}
