// The Marketplace Insights source against the fake eBay: sold comps with sale dates, its own
// token scope, the category it needs, an application without approval, and the quota.
#include "clients/ebay_insights.hpp"

#include <catch2/catch.hpp>

#include "clients/ebay_browse.hpp"
#include "tests/clients/ebay_support.hpp"
#include "tests/clients/support.hpp"

using namespace boomer;
namespace asio = boost::asio;
using fakes::ebay_endpoint;
using market::comp;
using market::market_query;

namespace {

using comps_result = result<std::vector<comp>>;

asio::awaitable<comps_result> find(market::comp_source& source, const market_query& query) {
    co_return co_await source.search(query);
}

market_query sold_query() {
    market_query q;
    q.keywords = "canon ae-1 program";
    q.category_id = "15230";
    return q;
}

clients::ebay_insights_options enabled() {
    clients::ebay_insights_options o;
    o.enabled = true;
    return o;
}

}  // namespace

TEST_CASE("ebay insights: sales become sold comps with their dates", "[clients]") {
    test::ebay_rig rig;
    rig.fake->add_sold("canon ae-1 program", test::listing("1", "Canon AE-1 Program 50mm", "189.50",
                                                           "9.99", "3000", "2026-05-30"));
    rig.fake->add_sold("canon ae-1 program", test::listing("2", "Canon AE-1 Program body", "120.00",
                                                           std::nullopt, "3000", "2026-06-02"));
    auto ctx = rig.context();
    clients::ebay_insights_source source(ctx, enabled());
    auto q = sold_query();
    auto r = test::run_coro(rig.io, find(source, q));
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].sold);
    CHECK((*r)[0].sold_on == "2026-05-30");
    CHECK((*r)[0].price_minor == 18950);  // ItemSales carry no shipping
    CHECK((*r)[0].source == "ebay_insights");
    CHECK((*r)[0].url == "https://www.ebay.com/itm/1");
    CHECK((*r)[0].listing_id == "1");  // the number in itemId "v1|1|0"
    CHECK((*r)[1].sold_on == "2026-06-02");
    CHECK(rig.fake->tokens_issued(std::string(clients::ebay_insights_scope)) == 1);
    CHECK(rig.fake->tokens_issued(std::string(clients::ebay_public_scope)) == 0);
    auto target = rig.fake->log().back().target;
    CHECK(target.find("category_ids=15230") != std::string::npos);
    CHECK(target.find("lastSoldDate%3A%5B2026-03-11T00%3A00%3A00Z..2026-06-09T23%3A59%3A59Z%5D") !=
          std::string::npos);
}

TEST_CASE("ebay insights: without a category it learns one from Browse, then asks with it",
          "[clients]") {
    test::ebay_rig rig;
    auto camera = test::listing("11", "Canon AE-1 Program body", "180.00", "5.00");
    camera.category_id = "15230";
    camera.category_name = "Film Cameras";
    rig.fake->add_active("canon ae-1 program", camera);
    auto sold_camera =
        test::listing("21", "Canon AE-1 Program", "150.00", std::nullopt, "3000", "2026-06-01");
    sold_camera.category_id = "15230";
    auto sold_lens = test::listing("22", "Canon AE-1 Program lens cap", "9.00", std::nullopt,
                                   "3000", "2026-06-02");
    sold_lens.category_id = "3323";
    rig.fake->add_sold("canon ae-1 program", sold_camera);
    rig.fake->add_sold("canon ae-1 program", sold_lens);
    auto ctx = rig.context();
    clients::ebay_insights_source source(ctx, enabled());
    auto q = sold_query();
    q.category_id.clear();

    auto r = test::run_coro(rig.io, find(source, q));
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 1);  // only the sale in the learned category
    CHECK((*r)[0].category_id == "15230");
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 1);
    auto target = rig.fake->log().back().target;
    CHECK(target.find("/item_sales/search?") != std::string::npos);
    CHECK(target.find("category_ids=15230") != std::string::npos);

    // The category is remembered: the next search asks Insights alone.
    auto again = test::run_coro(rig.io, find(source, q));
    REQUIRE(again.has_value());
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 1);
    CHECK(rig.fake->requests(ebay_endpoint::insights) == 2);
}

TEST_CASE("ebay insights: with nothing on eBay to learn a category from, Insights is not asked",
          "[clients]") {
    test::ebay_rig rig;
    auto ctx = rig.context();
    clients::ebay_insights_source source(ctx, enabled());
    auto q = sold_query();
    q.category_id.clear();
    auto r = test::run_coro(rig.io, find(source, q));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_error");
    CHECK(r.error().message.find("category hint") != std::string::npos);
    CHECK(rig.fake->requests(ebay_endpoint::insights) == 0);
}

TEST_CASE("ebay insights: an application without approval is unauthorized", "[clients]") {
    fakes::fake_ebay_options o;
    o.granted_scopes = {std::string(clients::ebay_public_scope)};
    test::ebay_rig rig(o);
    auto ctx = rig.context();
    clients::ebay_insights_source source(ctx, enabled());
    auto q = sold_query();
    auto r = test::run_coro(rig.io, find(source, q));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_unauthorized");
    CHECK_FALSE(r.error().retryable);
    CHECK(rig.fake->requests(ebay_endpoint::insights) == 0);
}

TEST_CASE("ebay insights: quota 429 is source_limited", "[clients]") {
    test::ebay_rig rig;
    rig.fake->set_quota(ebay_endpoint::insights, 1);
    auto ctx = rig.context();
    clients::ebay_insights_source source(ctx, enabled());
    auto q = sold_query();
    REQUIRE(test::run_coro(rig.io, find(source, q)).has_value());
    auto r = test::run_coro(rig.io, find(source, q));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_limited");
    CHECK(source.limited_until().has_value());
}

TEST_CASE("ebay insights: a category look-up waits out Browse's quota 429 without calling it",
          "[clients]") {
    test::ebay_rig rig;
    rig.fake->set_quota(ebay_endpoint::browse, 1);
    auto ctx = rig.context();
    clients::ebay_browse_source browse(ctx, {});
    clients::ebay_insights_source insights(ctx, enabled());
    auto q = sold_query();
    REQUIRE(test::run_coro(rig.io, find(browse, q)).has_value());
    auto limited = test::run_coro(rig.io, find(browse, q));
    REQUIRE_FALSE(limited.has_value());
    CHECK(limited.error().code == "source_limited");
    const auto asked = rig.fake->requests(ebay_endpoint::browse);

    // Insights without a category would ask Browse for one: the same quota, paused.
    q.category_id.clear();
    auto r = test::run_coro(rig.io, find(insights, q));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_limited");
    CHECK(rig.fake->requests(ebay_endpoint::browse) == asked);
    CHECK(rig.fake->requests(ebay_endpoint::insights) == 0);
}

TEST_CASE("ebay insights: disabled by default", "[clients]") {
    test::ebay_rig rig;
    CHECK(clients::make_ebay_insights_source(rig.context(), {}) == nullptr);
    CHECK(clients::make_ebay_insights_source(rig.context(), enabled()) != nullptr);
}
