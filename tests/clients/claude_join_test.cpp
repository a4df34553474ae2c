// A call that finds an identical call of another item in flight waits for it no longer than its
// own deadline: held here is a bulk call in a batch (its collection window does not end until
// the test says so), which no stage deadline bounds. The waiting call fails with vision_deadline
// (or, in an escalation, leaves the cheap answer standing) while the bulk call goes on, is paid
// once and keeps its answer for later calls.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <optional>

#include "clients/claude_vision.hpp"
#include "core/hash.hpp"
#include "tests/clients/claude_support.hpp"
#include "tests/clients/support.hpp"
#include "tests/fakes/fake_anthropic.hpp"

using namespace boomer;
namespace asio = boost::asio;
using clients::claude_vision;
using std::chrono::milliseconds;
using test::has_line;
using test::tiny_jpeg;
using identified = result<pipeline::identification>;

namespace {

// Sleeps (batch windows and polls) are held while `open` is false, polled on a real timer (10 s
// at most, so that a call that never gives up ends the case instead of hanging it), then move
// the manual clock as usual.
struct gate {
    bool open = false;
    int holding = 0;  // sleeps held now
};

asio::awaitable<void> gated_sleep(gate* g, test::sleep_log* log, milliseconds d) {
    ++g->holding;
    asio::steady_timer tick(co_await asio::this_coro::executor);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!g->open && std::chrono::steady_clock::now() < give_up) {
        tick.expires_after(milliseconds(2));
        co_await tick.async_wait(asio::use_awaitable);
    }
    --g->holding;
    co_await test::clock_sleep(log, d);
}

asio::awaitable<void> identify_into(claude_vision* vision, pipeline::identify_request r,
                                    std::optional<identified>* out) {
    auto got = co_await vision->identify(std::move(r));
    out->emplace(std::move(got));
}

pipeline::identify_request bulk(std::string item_id) {
    auto r = test::tiny_request(std::move(item_id));
    r.bulk = true;
    return r;
}

// The shared harness with batches on, an answer store, gated sleeps and a 300 ms stage deadline
// for synchronous calls.
struct harness : test::claude_harness {
    std::shared_ptr<test::memory_answers> answers = std::make_shared<test::memory_answers>();
    gate held;

    harness() {
        options.answers = answers;
        options.batch.enabled = true;
        options.stage_deadline = milliseconds(300);
        auto* g = &held;
        auto* l = &log;
        options.sleep = [g, l](milliseconds d) { return gated_sleep(g, l, d); };
    }

    // lead starts the bulk call of `item_id` and runs until it is held in its batch's window.
    void lead(claude_vision& vision, std::string item_id, std::optional<identified>* out) {
        asio::co_spawn(io, identify_into(&vision, bulk(std::move(item_id)), out), asio::detached);
        io.restart();  // run_coro leaves the context stopped
        while (held.holding == 0 && io.run_one() > 0) {
        }
    }

    // join runs the synchronous call of `item_id` to its end while the bulk call is held.
    void join(claude_vision& vision, std::string item_id, std::optional<identified>* out) {
        asio::co_spawn(io, identify_into(&vision, test::tiny_request(std::move(item_id)), out),
                       asio::detached);
        while (!*out && io.run_one() > 0) {
        }
    }

    // release lets the held bulk call go on and runs it to its end.
    void release(const std::optional<identified>& leader) {
        held.open = true;
        while (!leader && io.run_one() > 0) {
        }
    }
};

}  // namespace

TEST_CASE("claude join: a call waiting for an identical bulk call ends at its own deadline",
          "[clients]") {
    harness h;
    h.fake.add_fixture(sha256_hex(tiny_jpeg()), "claude-haiku-4-5",
                       test::identification_record("Bulk camera answer", 0.9));
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::optional<identified> leader, joiner;
    h.lead(vision, "itm_bulk", &leader);
    h.join(vision, "itm_sync", &joiner);

    REQUIRE(joiner);
    REQUIRE_FALSE(*joiner);
    CHECK(joiner->error().code == "vision_deadline");
    CHECK(joiner->error().retryable);
    CHECK(joiner->error().message.find("300 ms deadline") != std::string::npos);
    CHECK_FALSE(leader);  // still held in its batch

    // The bulk call goes on, pays once at the batch price and keeps its answer.
    h.release(leader);
    REQUIRE(leader);
    REQUIRE(*leader);
    CHECK((*leader)->title == "Bulk camera answer");
    CHECK((*leader)->calls.at(0).outcome == "ok");
    CHECK((*leader)->calls.at(0).usage.service_tier == "batch");
    CHECK(h.fake.batch_billed().size() == 1);
    CHECK(h.fake.received() == 0);

    // The retried synchronous call finds it, free.
    auto again = test::run_coro(h.io, vision.identify(test::tiny_request("itm_sync")));
    REQUIRE(again);
    CHECK(again->title == "Bulk camera answer");
    CHECK(again->calls.at(0).outcome == "cached");
    CHECK(again->cost_micros == 0);
    CHECK(h.fake.batch_billed().size() == 1);
    CHECK(h.fake.received() == 0);
}

TEST_CASE("claude join: an escalation waiting for an identical bulk call keeps the cheap answer",
          "[clients]") {
    harness h;
    h.options.strong_model = "claude-sonnet-4-5";
    h.fake.add_fixture(sha256_hex(tiny_jpeg()), "claude-haiku-4-5",
                       test::identification_record("Cheap camera answer", 0.4));
    h.fake.add_fixture(sha256_hex(tiny_jpeg()), "claude-sonnet-4-5",
                       test::identification_record("Strong camera answer", 0.9));
    // The unsure cheap answer is paid and kept first, by a process that never escalates.
    {
        auto cheap_only = h.options;
        cheap_only.strong_model = "";
        claude_vision first(cheap_only, h.io.get_executor(), h.registry);
        REQUIRE(test::run_coro(h.io, first.identify(test::tiny_request("itm_first"))));
    }
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::optional<identified> leader, joiner;
    h.lead(vision, "itm_bulk", &leader);  // escalates through a batch, held
    h.join(vision, "itm_sync", &joiner);  // escalates and waits for the bulk strong call

    REQUIRE(joiner);
    REQUIRE(*joiner);
    CHECK((*joiner)->title == "Cheap camera answer");
    CHECK((*joiner)->escalation_outcome == "fallback");
    CHECK((*joiner)->escalation_reason == "vision_deadline");
    REQUIRE((*joiner)->calls.size() == 2);
    CHECK((*joiner)->calls[0].outcome == "cached");
    CHECK((*joiner)->calls[1].outcome == "vision_deadline");
    CHECK((*joiner)->calls[1].attempts == 0);
    CHECK((*joiner)->cost_micros == 0);
    CHECK_FALSE(leader);
    CHECK(has_line(h.registry.render(), R"(boomer_vision_escalation_outcomes_total{)"
                                        R"(outcome="fallback",reason="vision_deadline"} 1)"));

    h.release(leader);
    REQUIRE(leader);
    REQUIRE(*leader);
    CHECK((*leader)->title == "Strong camera answer");
    CHECK((*leader)->escalation_outcome == "strong");
    auto billed = h.fake.batch_billed();
    REQUIRE(billed.size() == 1);
    CHECK(billed[0].model == "claude-sonnet-4-5");
    CHECK(h.fake.received("claude-sonnet-4-5") == 0);
    CHECK(h.fake.paid("claude-haiku-4-5") == 1);

    // Later, the strong answer is found too: nothing is paid again.
    auto again = test::run_coro(h.io, vision.identify(test::tiny_request("itm_sync")));
    REQUIRE(again);
    CHECK(again->title == "Strong camera answer");
    CHECK(again->cost_micros == 0);
    CHECK(h.fake.batch_billed().size() == 1);
    CHECK(h.fake.received() == 1);
}
