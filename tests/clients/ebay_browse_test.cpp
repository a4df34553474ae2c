// The Browse source against the fake eBay: exact comps from fixtures (shipping included,
// currency checked), the request it sends (q cut to 100 characters at a word, filters,
// marketplace header), pagination within the budget, the shared token under concurrency, a 401
// renewing the token once, the daily quota turning the source limited, timeouts and metrics.
#include "clients/ebay_browse.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>

#include "tests/clients/ebay_support.hpp"
#include "tests/clients/support.hpp"

using namespace boomer;
namespace asio = boost::asio;
using fakes::ebay_endpoint;
using market::comp;
using market::market_query;

namespace {

using comps_result = result<std::vector<comp>>;

asio::awaitable<comps_result> find(clients::ebay_browse_source& source, const market_query& query) {
    co_return co_await source.search(query);
}

asio::awaitable<void> find_into(clients::ebay_browse_source* source, const market_query* query,
                                std::optional<comps_result>* out) {
    auto r = co_await source->search(*query);
    out->emplace(std::move(r));
}

market_query query_for(std::string keywords) {
    market_query q;
    q.keywords = std::move(keywords);
    return q;
}

// A rig with three Nintendo listings (one in GBP) and a Browse source.
struct browse_rig : test::ebay_rig {
    std::shared_ptr<clients::ebay_context> ctx;
    std::unique_ptr<clients::ebay_browse_source> source;

    explicit browse_rig(clients::ebay_browse_options browse = {},
                        fakes::fake_ebay_options fake_options = {})
        : test::ebay_rig(fake_options) {
        fake->add_active(
            "nintendo switch oled",
            test::listing("287379458210", "Nintendo Switch OLED White", "229.99", "12.50"));
        fake->add_active(
            "nintendo switch oled",
            test::listing("334691749565", "Switch OLED Neon new", "289.00", "0.00", "1000"));
        auto gbp = test::listing("401", "Nintendo Switch OLED UK", "199.00", "5.00");
        gbp.currency = "GBP";
        fake->add_active("nintendo switch oled", gbp);
        ctx = context();
        source = std::make_unique<clients::ebay_browse_source>(ctx, browse);
    }

    comps_result run(const market_query& q) { return test::run_coro(io, find(*source, q)); }
};

}  // namespace

TEST_CASE("ebay browse: listings become active comps with shipping included", "[clients]") {
    browse_rig rig;
    auto q = query_for("Nintendo Switch OLED");
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 2);  // the GBP listing is dropped
    const auto& a = (*r)[0];
    CHECK(a.title == "Nintendo Switch OLED White");
    CHECK(a.item_price_minor == 22999);
    CHECK(a.shipping_minor == 1250);
    CHECK(a.price_minor == 24249);
    CHECK(a.currency == "USD");
    CHECK_FALSE(a.sold);
    CHECK(a.source == "ebay_browse");
    CHECK(a.condition_id == "3000");
    CHECK(a.url == "https://www.ebay.com/itm/287379458210");
    CHECK(a.listing_id == "287379458210");
    CHECK(a.sold_on == "2026-06-09");
    CHECK(a.match == "title");
    CHECK(a.score == Approx(1.0));
    CHECK((*r)[1].price_minor == 28900);
    CHECK((*r)[1].condition_id == "1000");
    CHECK(rig.counter("boomer_market_source_requests_total", {"ebay_browse", "ok"}) == 1);
    auto exposition = rig.registry.render();
    CHECK(exposition.find("boomer_market_source_seconds_count{source=\"ebay_browse\"} 1") !=
          std::string::npos);
    CHECK(exposition.find("boomer_market_token_refreshes_total{scope=\"public\"} 1") !=
          std::string::npos);
}

TEST_CASE("ebay browse: q is cut to 100 characters at a word boundary", "[clients]") {
    browse_rig rig;
    std::string words;
    for (int i = 0; words.size() < 150; ++i) {
        words += "word" + std::to_string(i) + " ";
    }
    auto q = query_for(words + "*");
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    auto sent = rig.fake->log().back().q;
    CHECK(sent.size() <= 100);
    CHECK(sent.size() > 90);
    CHECK(words.rfind(sent + " ", 0) == 0);  // a prefix of the words ending at a word
    CHECK(sent.find('*') == std::string::npos);
}

TEST_CASE("ebay browse: condition and price filters and the marketplace go along", "[clients]") {
    clients::ebay_browse_options browse;
    browse_rig rig(browse);
    rig.options.marketplace_id = "EBAY_GB";
    auto ctx = rig.context();
    clients::ebay_browse_source gb(ctx, browse);
    auto q = query_for("nintendo switch oled");
    q.condition = "used";
    q.min_price_minor = 10000;
    q.max_price_minor = 25000;
    q.category_id = "139971";
    auto r = test::run_coro(rig.io, find(gb, q));
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 1);  // the new one fails the condition filter
    CHECK((*r)[0].title == "Nintendo Switch OLED White");
    auto seen = rig.fake->log().back();
    CHECK(seen.marketplace == "EBAY_GB");
    CHECK(seen.target.find("category_ids=139971") != std::string::npos);
    CHECK(seen.target.find("priceCurrency%3AUSD") != std::string::npos);
    CHECK(seen.target.find("price%3A%5B100.00..250.00%5D") != std::string::npos);
}

TEST_CASE("ebay browse: pages are fetched within the page budget", "[clients]") {
    clients::ebay_browse_options browse;
    browse.page_limit = 50;
    browse.max_pages = 2;
    browse_rig rig(browse);
    for (int i = 0; i < 120; ++i) {
        rig.fake->add_active("lamp", test::listing(std::to_string(1000 + i), "Lamp", "10.00"));
    }
    auto q = query_for("lamp");
    q.limit = 200;
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    CHECK(r->size() == 100);
    auto log = rig.fake->log();
    REQUIRE(rig.fake->requests(ebay_endpoint::browse) == 2);
    CHECK(log.back().target.find("limit=50&offset=50") != std::string::npos);

    q.limit = 30;
    auto small = rig.run(q);
    REQUIRE(small.has_value());
    CHECK(small->size() == 30);
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 3);
    CHECK(rig.fake->log().back().target.find("limit=30&offset=0") != std::string::npos);
}

TEST_CASE("ebay browse: 20 concurrent searches share one token", "[clients]") {
    browse_rig rig;
    rig.fake->set_latency(std::chrono::milliseconds(20));
    asio::thread_pool pool(4);
    auto ctx = clients::make_ebay_context(rig.options, pool.get_executor(), rig.registry);
    clients::ebay_browse_source source(ctx, {});
    auto q = query_for("nintendo switch oled");
    std::vector<std::optional<comps_result>> answers(20);
    for (auto& slot : answers) {
        asio::co_spawn(pool, find_into(&source, &q, &slot), asio::detached);
    }
    pool.join();
    for (const auto& a : answers) {
        REQUIRE(a.has_value());
        REQUIRE(a->has_value());
        CHECK((*a)->size() == 2);
    }
    CHECK(rig.fake->tokens_issued() == 1);
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 20);
}

TEST_CASE("ebay browse: a 401 renews the token once and retries once", "[clients]") {
    browse_rig rig;
    auto q = query_for("nintendo switch oled");
    REQUIRE(rig.run(q).has_value());
    rig.fake->revoke_tokens();
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    CHECK(r->size() == 2);
    CHECK(rig.fake->tokens_issued() == 2);
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 3);

    rig.fake->inject(ebay_endpoint::browse, 401);
    rig.fake->inject(ebay_endpoint::browse, 401);
    auto refused = rig.run(q);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == "source_unauthorized");
    CHECK(refused.error().message.find("1001") != std::string::npos);
    CHECK(rig.fake->tokens_issued() == 3);
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 5);
}

TEST_CASE("ebay browse: an expired token is renewed before the call", "[clients]") {
    browse_rig rig;
    auto q = query_for("nintendo switch oled");
    REQUIRE(rig.run(q).has_value());
    rig.time.advance_ms(7200 * 1000LL);
    REQUIRE(rig.run(q).has_value());
    CHECK(rig.fake->tokens_issued() == 2);
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 2);  // no 401 round trip
}

TEST_CASE("ebay browse: the daily quota makes the source limited", "[clients]") {
    browse_rig rig;
    rig.options.limited_backoff = std::chrono::seconds(600);
    auto ctx = rig.context();
    clients::ebay_browse_source source(ctx, {});
    rig.fake->set_quota(ebay_endpoint::browse, 1);
    auto q = query_for("nintendo switch oled");
    REQUIRE(test::run_coro(rig.io, find(source, q)).has_value());

    auto limited = test::run_coro(rig.io, find(source, q));
    REQUIRE_FALSE(limited.has_value());
    CHECK(limited.error().code == "source_limited");
    CHECK(limited.error().retryable);
    CHECK(limited.error().message.find("2001") != std::string::npos);
    REQUIRE(source.limited_until().has_value());
    CHECK(*source.limited_until() == rig.time.now_ms() + 600'000);

    // While limited, the source answers without calling eBay.
    auto quiet = test::run_coro(rig.io, find(source, q));
    CHECK_FALSE(quiet.has_value());
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 2);

    // After the backoff it asks again; a second 429 doubles the wait.
    rig.time.advance_ms(600'001);
    CHECK_FALSE(test::run_coro(rig.io, find(source, q)).has_value());
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 3);
    CHECK(*source.limited_until() == rig.time.now_ms() + 1'200'000);
    CHECK(rig.counter("boomer_market_source_requests_total", {"ebay_browse", "source_limited"}) ==
          3);
}

TEST_CASE("ebay browse: a quota 429 with retry-after limits until the reset", "[clients]") {
    fakes::fake_ebay_options o;
    o.quota_retry_after = true;
    o.browse_daily_quota = 1;
    browse_rig rig({}, o);
    auto q = query_for("nintendo switch oled");
    REQUIRE(rig.run(q).has_value());
    REQUIRE_FALSE(rig.run(q).has_value());
    // The fake resets at 07:00Z; the rig's clock is 2026-06-09T10:13:20Z.
    auto reset = 1'781'074'800'000LL;  // 2026-06-10T07:00:00Z
    REQUIRE(rig.source->limited_until().has_value());
    CHECK(*rig.source->limited_until() == reset);
}

TEST_CASE("ebay browse: a slow answer is source_timeout", "[clients]") {
    clients::ebay_browse_options browse;
    browse.timeout = std::chrono::milliseconds(150);
    browse_rig rig(browse);
    auto q = query_for("nintendo switch oled");
    REQUIRE(rig.run(q).has_value());  // token cached first
    rig.fake->set_latency(std::chrono::milliseconds(500));
    auto started = std::chrono::steady_clock::now();
    auto r = rig.run(q);
    auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_timeout");
    CHECK(r.error().retryable);
    CHECK(took < std::chrono::milliseconds(450));
}

TEST_CASE("ebay browse: 5xx is a retryable source_error, no text and no code is refused",
          "[clients]") {
    browse_rig rig;
    rig.fake->inject(ebay_endpoint::browse, 500);
    auto q = query_for("nintendo switch oled");
    auto r = rig.run(q);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_error");
    CHECK(r.error().retryable);

    market_query empty;
    auto none = rig.run(empty);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().code == "source_error");
    CHECK_FALSE(none.error().retryable);
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 1);
}

TEST_CASE("ebay browse: a barcode without text searches by gtin", "[clients]") {
    browse_rig rig;
    rig.fake->add_active("gtin:0045496882648",
                         test::listing("77", "Switch OLED", "250.00", "0.00"));
    market_query q;
    q.barcodes = {"0045496882648"};
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].match == "barcode");
    CHECK((*r)[0].score == 1.0);
    CHECK(rig.fake->log().back().target.find("gtin=0045496882648") != std::string::npos);
}

TEST_CASE("ebay browse: the factory honours enabled", "[clients]") {
    browse_rig rig;
    clients::ebay_browse_options off;
    off.enabled = false;
    CHECK(clients::make_ebay_browse_source(rig.ctx, off) == nullptr);
    auto on = clients::make_ebay_browse_source(rig.ctx, {});
    REQUIRE(on != nullptr);
    CHECK(on->name() == "ebay_browse");
}

namespace {

fakes::fake_listing in_category(std::string id, std::string title, std::string price,
                                std::string category, std::string category_name) {
    auto l = test::listing(std::move(id), std::move(title), std::move(price), "5.00");
    l.category_id = std::move(category);
    l.category_name = std::move(category_name);
    return l;
}

// Two film cameras and a lens: the cameras' category dominates.
void add_camera_listings(fakes::fake_ebay& fake) {
    fake.add_active("canon ae-1",
                    in_category("11", "Canon AE-1 body", "150.00", "15230", "Film Cameras"));
    fake.add_active("canon ae-1",
                    in_category("12", "Canon AE-1 Program", "180.00", "15230", "Film Cameras"));
    fake.add_active("canon ae-1",
                    in_category("13", "FD 50mm lens for Canon AE-1", "60.00", "3323", "Lenses"));
}

}  // namespace

TEST_CASE("ebay browse: the category refinement is asked for and the leaf categories kept",
          "[clients]") {
    browse_rig rig;
    add_camera_listings(*rig.fake);
    auto r = rig.run(query_for("Canon AE-1"));
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 3);
    CHECK((*r)[0].category_id == "15230");
    CHECK((*r)[2].category_id == "3323");
    auto target = rig.fake->log().back().target;
    CHECK(target.find("fieldgroups=MATCHING_ITEMS%2CCATEGORY_REFINEMENTS") != std::string::npos);

    // What it learned is remembered for the search's text.
    auto key = clients::category_memo::key(query_for("canon   AE-1"));
    auto learned = rig.ctx->categories.get(key, rig.time.now_ms());
    REQUIRE(learned);
    CHECK(*learned == "15230");
}

TEST_CASE("ebay browse: the learned category is published on the search's board", "[clients]") {
    browse_rig rig;
    add_camera_listings(*rig.fake);
    auto q = query_for("Canon AE-1");
    q.board = std::make_shared<market::category_board>("", 1);
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    CHECK(q.board->id() == "15230");
    CHECK(q.board->source() == "ebay_browse");
    CHECK(rig.source->learns_category());
}

TEST_CASE("ebay browse: a category hint narrows the search and asks for no refinement",
          "[clients]") {
    browse_rig rig;
    add_camera_listings(*rig.fake);
    auto q = query_for("Canon AE-1");
    q.category_id = "3323";
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].category_id == "3323");
    auto target = rig.fake->log().back().target;
    CHECK(target.find("category_ids=3323") != std::string::npos);
    CHECK(target.find("fieldgroups") == std::string::npos);
}

TEST_CASE("ebay browse: find_category asks one small page, then answers from memory", "[clients]") {
    browse_rig rig;
    add_camera_listings(*rig.fake);
    clients::source_limiter limiter;
    auto q = query_for("Canon AE-1");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto first = test::run_coro(rig.io, clients::find_category(*rig.ctx, q, deadline, limiter));
    REQUIRE(first.has_value());
    CHECK(*first == "15230");
    auto target = rig.fake->log().back().target;
    CHECK(target.find("limit=20") != std::string::npos);
    CHECK(target.find("CATEGORY_REFINEMENTS") != std::string::npos);
    auto second = test::run_coro(rig.io, clients::find_category(*rig.ctx, q, deadline, limiter));
    REQUIRE(second.has_value());
    CHECK(*second == "15230");
    CHECK(rig.fake->requests(ebay_endpoint::browse) == 1);
}
