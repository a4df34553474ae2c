// The comps cache as the service wires it: the fan-out's memory level in front of the store's
// shared cache table (store_comp_cache on a real SQLite file), so that a second instance on the
// same database reuses an answer; its time to live by kind of answer; failures and empty
// answers kept at neither level.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "pipeline/market/fan_out.hpp"
#include "pipeline/store_comp_cache.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// A market source with a canned answer after a short delay; counts its calls.
class counting_source final : public market::comp_source {
public:
    counting_source(std::string name, result<std::vector<market::comp>> answer)
        : name_(std::move(name)), answer_(std::move(answer)) {}
    std::string name() const override { return name_; }
    asio::awaitable<result<std::vector<market::comp>>> search(
        const market::market_query&) override {
        ++calls;
        asio::steady_timer t(co_await asio::this_coro::executor, 2ms);
        co_await t.async_wait(asio::use_awaitable);
        co_return answer_;
    }
    int calls = 0;

private:
    std::string name_;
    result<std::vector<market::comp>> answer_;
};

market::comp teapot(std::int64_t price, bool sold) {
    market::comp c;
    c.title = "Brown Betty Teapot 6 Cup Cauldon England";
    c.price_minor = c.item_price_minor = price;
    c.currency = "USD";
    c.sold_on = "2026-11-20";
    c.match = "title";
    c.score = 0.9;
    c.source = "ebay_browse";
    c.sold = sold;
    c.condition_id = "3000";
    c.url = "https://www.ebay.com/itm/1234";
    c.category_id = "46390";
    return c;
}

market::market_query teapot_query() {
    market::market_query q;
    q.keywords = "brown betty teapot";
    q.condition = "used";
    return q;
}

// One service instance's comps searching: its own database connection and memory cache.
struct instance {
    instance(const std::string& db_path, const boomer::clock& time,
             std::vector<std::shared_ptr<market::comp_source>> sources)
        : db(store::open_sqlite_store(db_path)),
          comps(std::move(sources), {}, time,
                std::make_shared<pipeline::store_comp_cache>(*db, store_pool), &registry) {}

    market::fan_out_result search(const market::market_query& q) {
        std::optional<market::fan_out_result> out;
        asio::co_spawn(io, comps.search(q), [&](std::exception_ptr e, market::fan_out_result r) {
            if (e) {
                std::rethrow_exception(e);
            }
            out = std::move(r);
        });
        io.run();
        io.restart();
        REQUIRE(out);
        return *out;
    }

    // The pool's threads post back to `io`'s strands: `io` is destroyed after the pool's join.
    asio::io_context io;
    asio::thread_pool store_pool{2};
    std::unique_ptr<store::store> db;
    metrics::registry registry;
    market::fan_out comps;
};

const market::source_outcome& outcome_of(const market::fan_out_result& r, const std::string& name) {
    for (const auto& o : r.outcomes) {
        if (o.source == name) {
            return o;
        }
    }
    FAIL("no outcome for " << name);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("comps cache: a second instance on the same database answers from the store",
          "[pipeline]") {
    test::temp_dir dir;
    auto path = (dir.path() / "boomer.db").string();
    manual_clock time;
    auto browse = std::make_shared<counting_source>(
        "ebay_browse", std::vector{teapot(3000, false), teapot(3400, false)});
    auto insights = std::make_shared<counting_source>(
        "ebay_insights", std::vector{teapot(2800, true), teapot(3100, true)});
    auto q = teapot_query();

    instance first(path, time, {browse, insights});
    auto r1 = first.search(q);
    CHECK(browse->calls == 1);
    CHECK(insights->calls == 1);
    CHECK(outcome_of(r1, "ebay_browse").cache.empty());

    instance second(path, time, {browse, insights});  // cold memory, same database
    auto r2 = second.search(q);
    CHECK(browse->calls == 1);
    CHECK(insights->calls == 1);
    CHECK(outcome_of(r2, "ebay_browse").cache == "store");
    CHECK(outcome_of(r2, "ebay_insights").cache == "store");
    REQUIRE(r2.comps.size() == 4);
    CHECK(r2.comps[0].price_minor == 3000);
    CHECK_FALSE(r2.comps[0].sold);
    CHECK(r2.comps[0].url == "https://www.ebay.com/itm/1234");
    CHECK(r2.comps[0].category_id == "46390");
    CHECK(r2.comps[2].sold);
    auto metrics = second.registry.render();
    CHECK(metrics.find(R"(boomer_cache_lookups_total{cache="comps_store",outcome="hit"} 2)") !=
          std::string::npos);
    CHECK(metrics.find(R"(boomer_cache_entries{cache="comps"} 2)") != std::string::npos);

    // Answers with active listings live 15 minutes, sold-only ones 6 hours, at both levels.
    time.advance_ms(16 * 60'000);
    instance third(path, time, {browse, insights});
    auto r3 = third.search(q);
    CHECK(browse->calls == 2);
    CHECK(insights->calls == 1);
    CHECK(outcome_of(r3, "ebay_browse").cache.empty());
    CHECK(outcome_of(r3, "ebay_insights").cache == "store");
    time.advance_ms(6 * 3'600'000);
    second.search(q);  // its memory copies expired too
    CHECK(browse->calls == 3);
    CHECK(insights->calls == 2);
}

TEST_CASE("comps cache: failures and empty answers are kept at neither level", "[pipeline]") {
    test::temp_dir dir;
    auto path = (dir.path() / "boomer.db").string();
    manual_clock time;
    auto failing = std::make_shared<counting_source>(
        "ebay_browse", fail("source_limited", "eBay's daily call limit is used up", true));
    auto empty = std::make_shared<counting_source>("ebay_insights", std::vector<market::comp>{});
    auto q = teapot_query();

    instance first(path, time, {failing, empty});
    first.search(q);
    auto again = first.search(q);  // not in memory
    CHECK(failing->calls == 2);
    CHECK(empty->calls == 2);
    CHECK(outcome_of(again, "ebay_browse").outcome == "source_limited");
    CHECK(outcome_of(again, "ebay_insights").outcome == "ok");
    CHECK(outcome_of(again, "ebay_insights").cache.empty());
    CHECK(first.comps.memory_cache().entries() == 0);

    instance second(path, time, {failing, empty});  // not in the store either
    auto r = second.search(q);
    CHECK(failing->calls == 3);
    CHECK(empty->calls == 3);
    CHECK(outcome_of(r, "ebay_browse").cache.empty());
    CHECK(outcome_of(r, "ebay_insights").cache.empty());
    auto metrics = second.registry.render();
    CHECK(metrics.find(R"(boomer_cache_lookups_total{cache="comps_store",outcome="miss"} 2)") !=
          std::string::npos);
}
