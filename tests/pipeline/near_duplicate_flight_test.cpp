// The near-duplicate single flight: which items join a flight (the reuse rules of
// decide_reuse, per tenant, never a batched leader for an item that is not batched), and that
// waiters wake, without a thread blocked, when the leader's ticket is released or destroyed.
#include "pipeline/near_duplicate_flight.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

using namespace boomer;
namespace pl = boomer::pipeline;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

constexpr std::uint64_t front = 0x8f3c1e0077aa5501ULL;
constexpr std::uint64_t back = 0x13579bdf2468ace0ULL;
constexpr std::uint64_t other = 0xfff0000ff0f0f0f0ULL;

std::uint64_t flip(std::uint64_t h, std::initializer_list<int> bits) {
    for (int b : bits) {
        h ^= std::uint64_t{1} << b;
    }
    return h;
}

pl::near_duplicate_options at(int distance) {
    pl::near_duplicate_options o;
    o.max_distance = distance;
    return o;
}

json::value barcodes(const std::string& text) {
    json::array codes;
    if (!text.empty()) {
        codes.emplace_back(json::object{{"symbology", "EAN-13"}, {"text", text}});
    }
    return codes;
}

pl::near_duplicate_flights::subject_item item(const std::string& id,
                                              std::vector<std::uint64_t> hashes,
                                              const std::string& hint = "",
                                              const std::string& barcode = "",
                                              const std::string& context = "ctx-1") {
    pl::near_duplicate_flights::subject_item out;
    out.tenant_id = "t1";
    out.item_id = id;
    out.subject.phashes = std::move(hashes);
    out.subject.title_hint = hint;
    out.subject.context = context;
    if (!barcode.empty()) {
        out.subject.barcodes.push_back(barcode);
    }
    out.barcodes = barcodes(barcode);
    return out;
}

}  // namespace

TEST_CASE("near duplicate flight: a copy joins the flight of the item it would reuse",
          "[pipeline]") {
    pl::near_duplicate_flights flights;
    auto first = flights.enter(item("a", {front, back}, "Camera", "4006381333931"), at(5), true);
    REQUIRE(first.lead.held());
    CHECK(first.joined == nullptr);

    auto copy = flights.enter(
        item("b", {flip(front, {1, 9}), flip(back, {40})}, "Camera", "4006381333931"), at(5), true);
    CHECK_FALSE(copy.lead.held());
    REQUIRE(copy.joined != nullptr);
    CHECK(copy.joined->candidate.item_id == "a");
    CHECK(flights.in_flight() == 1);

    // A copy asked to lead does not join, and its flight counts.
    auto leading = flights.enter(item("c", {front, back}, "", "4006381333931"), at(5), false);
    CHECK(leading.lead.held());
    CHECK(flights.in_flight() == 2);
}

TEST_CASE("near duplicate flight: what the stored lookup would not reuse leads its own flight",
          "[pipeline]") {
    pl::near_duplicate_flights flights;
    auto first = flights.enter(item("a", {front, back}, "Camera", "4006381333931"), at(4), true);
    REQUIRE(first.lead.held());

    auto expect_lead = [&flights](pl::near_duplicate_flights::subject_item subject) {
        auto e = flights.enter(std::move(subject), at(4), true);
        CHECK(e.lead.held());
        CHECK(e.joined == nullptr);
    };
    expect_lead(item("far", {flip(front, {1, 2, 3, 4, 5}), back}, "Camera", "4006381333931"));
    expect_lead(item("partial", {front, other}, "Camera", "4006381333931"));
    expect_lead(item("hint", {front, back}, "Lens", "4006381333931"));
    expect_lead(item("no hint", {front, back}, "", "4006381333931"));
    expect_lead(item("barcode", {front, back}, "Camera", "5012345678900"));
    expect_lead(item("no barcode", {front, back}, "Camera", ""));
    expect_lead(item("context", {front, back}, "Camera", "4006381333931", "ctx-2"));
    auto tenant = item("tenant", {front, back}, "Camera", "4006381333931");
    tenant.tenant_id = "t2";
    expect_lead(std::move(tenant));
    // Reuse off: nothing joins.
    auto off = flights.enter(item("off", {front, back}, "Camera", "4006381333931"), at(0), true);
    CHECK(off.lead.held());
}

TEST_CASE("near duplicate flight: an item that is not batched never waits for a batched one",
          "[pipeline]") {
    pl::near_duplicate_flights flights;
    auto batched = item("a", {front});
    batched.deferred = true;
    auto first = flights.enter(std::move(batched), at(4), true);
    REQUIRE(first.lead.held());

    auto interactive = flights.enter(item("b", {front}), at(4), true);
    CHECK(interactive.lead.held());
    auto bulk = item("c", {front});
    bulk.deferred = true;
    auto joined = flights.enter(std::move(bulk), at(4), true);
    REQUIRE(joined.joined != nullptr);
    // The oldest of the two flights as close: the batched one.
    CHECK(joined.joined->candidate.item_id == "a");
}

TEST_CASE("near duplicate flight: waiters wake when the leader releases, from any thread",
          "[pipeline]") {
    pl::near_duplicate_flights flights;
    asio::io_context io;
    constexpr int copies = 100;
    std::atomic<int> woke{0};
    auto first = flights.enter(item("leader", {front, back}), at(5), true);
    REQUIRE(first.lead.held());

    auto waiter =
        [&flights,
         &woke](std::shared_ptr<pl::near_duplicate_flights::flight> f) -> asio::awaitable<void> {
        co_await flights.wait(f);
        ++woke;
    };
    for (int i = 0; i < copies; ++i) {
        auto e = flights.enter(item("copy" + std::to_string(i), {front, flip(back, {i % 64})}),
                               at(5), true);
        REQUIRE(e.joined != nullptr);
        asio::co_spawn(io, waiter(e.joined), asio::detached);
    }
    io.poll();  // every waiter suspends; the thread is free
    CHECK(woke == 0);

    std::thread releaser([&first] { first.lead.release(); });
    releaser.join();
    CHECK(flights.in_flight() == 0);
    io.restart();
    io.run();
    CHECK(woke == copies);

    // A flight that ended is not joined: the next copy leads.
    auto late = flights.enter(item("late", {front, back}), at(5), true);
    CHECK(late.lead.held());
}

TEST_CASE("near duplicate flight: a leader's ticket destroyed unreleased wakes its waiters",
          "[pipeline]") {
    pl::near_duplicate_flights flights;
    asio::io_context io;
    bool woke = false;
    std::shared_ptr<pl::near_duplicate_flights::flight> joined;
    auto waiter = [&flights, &woke, &joined]() -> asio::awaitable<void> {
        co_await flights.wait(joined);
        woke = true;
    };
    {
        auto first = flights.enter(item("leader", {front}), at(5), true);
        auto copy = flights.enter(item("copy", {front}), at(5), true);
        REQUIRE(copy.joined != nullptr);
        joined = copy.joined;
        asio::co_spawn(io, waiter(), asio::detached);
        io.poll();
        CHECK_FALSE(woke);
        // A moved ticket hands its flight over; the moved-from one holds nothing.
        auto moved = std::move(first.lead);
        CHECK_FALSE(first.lead.held());
        CHECK(moved.held());
    }
    io.restart();
    io.run();
    CHECK(woke);
    CHECK(flights.in_flight() == 0);
}
