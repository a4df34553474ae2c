// The first-answer gate: one scout until an answer, then everyone; the scout's role handed on
// when its pass is dropped; a cancelled caller leaves the line.
#include "resilience/first_answer_gate.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <vector>

using namespace boomer::resilience;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> enter_into(first_answer_gate& gate, std::optional<gate_pass>* out) {
    out->emplace(co_await gate.enter());
}

// Starts `n` callers and runs them as far as they go.
std::vector<std::optional<gate_pass>> enter(asio::io_context& io, first_answer_gate& gate, int n) {
    std::vector<std::optional<gate_pass>> passes(static_cast<std::size_t>(n));
    for (auto& p : passes) {
        asio::co_spawn(io, enter_into(gate, &p), asio::detached);
    }
    io.restart();
    io.poll();
    return passes;
}

int count_in(const std::vector<std::optional<gate_pass>>& passes) {
    int n = 0;
    for (const auto& p : passes) {
        n += p.has_value() ? 1 : 0;
    }
    return n;
}

void run(asio::io_context& io) {
    io.restart();
    io.poll();
}

}  // namespace

TEST_CASE("first answer gate: one scout goes, the rest wait for its answer", "[resilience]") {
    asio::io_context io;
    first_answer_gate gate;
    auto passes = enter(io, gate, 4);
    REQUIRE(count_in(passes) == 1);
    REQUIRE(passes[0].has_value());
    CHECK(passes[0]->scout());
    CHECK_FALSE(gate.open());

    passes[0]->answered();
    run(io);
    CHECK(gate.open());
    CHECK(count_in(passes) == 4);
    for (std::size_t i = 1; i < passes.size(); ++i) {
        CHECK_FALSE(passes[i]->scout());
    }
    // Open for good: later callers go at once, and nothing they do closes it.
    auto later = enter(io, gate, 2);
    CHECK(count_in(later) == 2);
    later.clear();
    passes.clear();
    CHECK(gate.open());
}

TEST_CASE("first answer gate: a scout without an answer hands its role to the next in line",
          "[resilience]") {
    asio::io_context io;
    first_answer_gate gate;
    auto passes = enter(io, gate, 3);
    REQUIRE(count_in(passes) == 1);

    passes[0].reset();  // no answer: refused, cut off, no connection
    run(io);
    REQUIRE(count_in(passes) == 1);
    REQUIRE(passes[1].has_value());
    CHECK(passes[1]->scout());  // the next in line, alone
    CHECK_FALSE(passes[2].has_value());

    passes[1]->answered();
    run(io);
    REQUIRE(passes[2].has_value());
    CHECK_FALSE(passes[2]->scout());
}

TEST_CASE("first answer gate: with nobody in line the next caller scouts", "[resilience]") {
    asio::io_context io;
    first_answer_gate gate;
    auto first = enter(io, gate, 1);
    REQUIRE(first[0].has_value());
    first[0].reset();
    auto second = enter(io, gate, 2);
    REQUIRE(count_in(second) == 1);
    CHECK(second[0]->scout());
    CHECK_FALSE(gate.open());
}

TEST_CASE("first answer gate: a cancelled caller leaves the line and takes no role",
          "[resilience]") {
    asio::io_context io;
    first_answer_gate gate;
    auto scout = enter(io, gate, 1);
    REQUIRE(scout[0].has_value());

    std::optional<gate_pass> waiting;
    asio::cancellation_signal cancel;
    bool aborted = false;
    asio::co_spawn(io, enter_into(gate, &waiting),
                   asio::bind_cancellation_slot(cancel.slot(), [&aborted](std::exception_ptr e) {
                       aborted = e != nullptr;
                   }));
    io.restart();
    io.run_one();
    cancel.emit(asio::cancellation_type::terminal);
    run(io);
    CHECK(aborted);

    scout[0].reset();  // the role has nobody to go to
    run(io);
    CHECK_FALSE(waiting.has_value());
    auto next = enter(io, gate, 1);
    REQUIRE(next[0].has_value());
    CHECK(next[0]->scout());
}
