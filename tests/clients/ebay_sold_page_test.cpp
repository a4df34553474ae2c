// The sold-listings page source: both card markups served by the fake parse to the same comps,
// a redesigned page is layout_changed (not zero comps), an honest "0 results" page is zero
// comps, a bot check is source_limited; the parser on the reference's s-card skeleton, on cards
// whose selectors moved, and on awkward markup.
#include "clients/ebay_sold_page.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>

#include "tests/clients/ebay_support.hpp"
#include "tests/clients/support.hpp"

using namespace boomer;
namespace asio = boost::asio;
using fakes::ebay_endpoint;
using fakes::sold_markup;
using market::comp;
using market::market_query;

namespace {

using comps_result = result<std::vector<comp>>;

asio::awaitable<comps_result> find(clients::ebay_sold_page_source& source,
                                   const market_query& query) {
    co_return co_await source.search(query);
}

market_query oled() {
    market_query q;
    q.keywords = "nintendo switch oled";
    return q;
}

struct page_rig : test::ebay_rig {
    clients::ebay_sold_page_options page_options;

    page_rig() {
        fake->add_sold("nintendo switch oled",
                       test::listing("287379458210", "Nintendo Switch OLED White Console", "229.99",
                                     "12.50", "3000", "2026-06-01"));
        fake->add_sold("nintendo switch oled",
                       test::listing("287379458211", "Switch OLED & Dock \"mint\"", "245.00",
                                     "0.00", "1000", "2026-05-28"));
        fake->add_sold("nintendo switch oled",
                       test::listing("287379458212", "Switch OLED Neon", "199.00", std::nullopt,
                                     "1500", "2026-05-20"));
        page_options.enabled = true;
        page_options.base_url = fake->base_url();
        page_options.time = &time;
    }

    comps_result run(const market_query& q) {
        clients::ebay_sold_page_source source(page_options, io.get_executor(), registry);
        return test::run_coro(io, find(source, q));
    }
};

void check_same(const std::vector<comp>& a, const std::vector<comp>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].title == b[i].title);
        CHECK(a[i].price_minor == b[i].price_minor);
        CHECK(a[i].shipping_minor == b[i].shipping_minor);
        CHECK(a[i].sold_on == b[i].sold_on);
        CHECK(a[i].condition_id == b[i].condition_id);
        CHECK(a[i].url == b[i].url);
        CHECK(a[i].listing_id == b[i].listing_id);
    }
}

}  // namespace

TEST_CASE("ebay sold page: both card markups give the same exact comps", "[clients]") {
    page_rig rig;
    auto q = oled();
    auto cards = rig.run(q);
    rig.fake->set_markup(sold_markup::s_item);
    auto items = rig.run(q);
    REQUIRE(cards.has_value());
    REQUIRE(items.has_value());
    REQUIRE(cards->size() == 3);  // the "Shop on eBay" placeholder is skipped
    check_same(*cards, *items);

    const auto& first = (*cards)[0];
    CHECK(first.title == "Nintendo Switch OLED White Console");
    CHECK(first.item_price_minor == 22999);
    CHECK(first.shipping_minor == 1250);
    CHECK(first.price_minor == 24249);
    CHECK(first.sold_on == "2026-06-01");
    CHECK(first.sold);
    CHECK(first.condition_id == "3000");
    CHECK(first.url == "https://www.ebay.com/itm/287379458210");
    CHECK(first.listing_id == "287379458210");
    CHECK(first.source == "ebay_sold_page");
    CHECK((*cards)[1].title == "Switch OLED & Dock \"mint\"");
    CHECK((*cards)[1].shipping_minor == 0);
    CHECK((*cards)[1].condition_id == "1000");
    CHECK((*cards)[2].condition_id == "1500");
    auto target = rig.fake->log().back().target;
    CHECK(target.find("_nkw=nintendo+switch+oled") != std::string::npos);
    CHECK(target.find("LH_Sold=1&LH_Complete=1") != std::string::npos);
}

TEST_CASE("ebay sold page: a changed layout is layout_changed, not zero comps", "[clients]") {
    page_rig rig;
    rig.fake->set_markup(sold_markup::changed);
    auto q = oled();
    auto r = rig.run(q);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "layout_changed");
    CHECK_FALSE(r.error().retryable);
    CHECK(rig.counter("boomer_market_source_requests_total",
                      {"ebay_sold_page", "layout_changed"}) == 1);
}

TEST_CASE("ebay sold page: an honest no-results page is zero comps", "[clients]") {
    page_rig rig;
    market_query q;
    q.keywords = "zzzz nothing matches";
    for (auto markup : {sold_markup::s_card, sold_markup::s_item, sold_markup::changed}) {
        rig.fake->set_markup(markup);
        auto r = rig.run(q);
        REQUIRE(r.has_value());
        CHECK(r->empty());
    }
}

TEST_CASE("ebay sold page: a bot check is source_limited", "[clients]") {
    page_rig rig;
    rig.fake->set_markup(sold_markup::challenge);
    auto q = oled();
    auto r = rig.run(q);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_limited");
    CHECK(r.error().retryable);
}

TEST_CASE("ebay sold page: pages follow the next link within the budget", "[clients]") {
    page_rig rig;
    for (int i = 0; i < 5; ++i) {
        rig.fake->add_sold("tripod",
                           test::listing(std::to_string(500 + i), "Tripod", "20.00", "5.00", "3000",
                                         "2026-06-0" + std::to_string(i + 1)));
    }
    rig.page_options.items_per_page = 2;
    rig.page_options.max_pages = 2;
    market_query q;
    q.keywords = "tripod";
    auto r = rig.run(q);
    REQUIRE(r.has_value());
    CHECK(r->size() == 4);
    CHECK(rig.fake->requests(ebay_endpoint::sold_page) == 2);
    CHECK(rig.fake->log().back().target.find("_ipg=2&_pgn=2") != std::string::npos);
}

TEST_CASE("ebay sold page: a slow page is source_timeout", "[clients]") {
    page_rig rig;
    rig.page_options.timeout = std::chrono::milliseconds(100);
    rig.fake->set_latency(std::chrono::milliseconds(400));
    auto q = oled();
    auto r = rig.run(q);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "source_timeout");
}

TEST_CASE("ebay sold page: the reference's s-card skeleton parses", "[clients]") {
    // The minimal s-card page of the market-data reference (section 4.6), minified the way
    // eBay serves it, with one placeholder card and one sold card.
    std::string html =
        R"(<main class="srp-river-main clearfix"><h1 class="srp-controls__count-heading">)"
        R"(<span class="BOLD">2</span> results for nintendo switch oled</h1>)"
        R"(<ul class="srp-results srp-list clearfix"><li class="s-card s-card--horizontal" )"
        R"(data-listingid="123456"><div class="su-card-container"><a class="s-card__link" )"
        R"(href="https://www.ebay.com/itm/123456"><div class="s-card__title"><span )"
        R"(class="su-styled-text primary default">Shop on eBay</span></div></a><span )"
        R"(class="su-styled-text positive bold large-1 s-card__price">$20.00</span></div></li>)"
        R"(<li class="s-card s-card--horizontal" data-listingid="287379458210"><div )"
        R"(class="su-card-container__content"><div class="s-card__caption"><span )"
        R"(class="su-styled-text positive default" aria-label="Sold Item">Sold  Jun 11, 2026)"
        R"(</span></div><a class="s-card__link" href="https://www.ebay.com/itm/287379458210?)"
        R"(_skw=x&amp;hash=item42e92688a2"><div role="heading" aria-level="3" )"
        R"(class="s-card__title"><span class="su-styled-text primary default">Nintendo Switch )"
        R"(OLED White Console</span><span class="clipped">Opens in a new window or tab</span>)"
        R"(</div></a><div class="s-card__subtitle-row"><div class="s-card__subtitle"><span )"
        R"(class="su-styled-text secondary default">Pre-Owned</span></div></div><div )"
        R"(class="s-card__attribute-row"><span class="su-styled-text positive bold large-1 )"
        R"(s-card__price">$229.99</span></div><div class="s-card__attribute-row"><span )"
        R"(class="su-styled-text secondary large">+$12.50 delivery</span></div></div></li>)"
        R"(</ul></main>)";
    auto page = clients::parse_sold_page(html, oled(), "2026-06-20");
    REQUIRE(page.has_value());
    CHECK(page->layout == "s-card");
    REQUIRE(page->comps.size() == 1);
    CHECK(page->comps[0].title == "Nintendo Switch OLED White Console");
    CHECK(page->comps[0].price_minor == 24249);
    CHECK(page->comps[0].sold_on == "2026-06-11");
    CHECK(page->comps[0].url == "https://www.ebay.com/itm/287379458210");
    CHECK(page->comps[0].listing_id == "287379458210");
}

TEST_CASE("ebay sold page: cards whose price moved are layout_changed", "[clients]") {
    std::string html =
        R"(<ul class="srp-results"><li class="s-card"><div class="s-card__title">Lamp</div>)"
        R"(<span class="s-card__amount">$5.00</span></li></ul>)";
    auto page = clients::parse_sold_page(html, oled(), "2026-06-20");
    REQUIRE_FALSE(page.has_value());
    CHECK(page.error().code == "layout_changed");
}

TEST_CASE("ebay sold page: unsold, struck and ranged cards are dropped", "[clients]") {
    std::string html =
        R"(<ul><li class=s-item><div class=s-item__caption><span class=s-item__ended-date>)"
        R"(Ended  Jul 4, 2026</span></div><div class=s-item__title>Lamp A</div><span )"
        R"(class=s-item__price>$5.00</span><li class=s-item><span class=s-item__caption--signal>)"
        R"(Sold  Today</span><div class=s-item__title>Lamp B</div><span class=s-item__price>)"
        R"(<span class=STRIKETHROUGH>$9.00</span></span><li class=s-item><span )"
        R"(class=s-item__caption--signal>Sold Yesterday</span><div class=s-item__title>Lamp C)"
        R"(</div><span class=s-item__price>$2.35 to $6.51</span><li class=s-item><span )"
        R"(class=s-item__caption--signal>Sold Yesterday</span><div class=s-item__title>Lamp )"
        R"(&amp; shade</div><span class=s-item__price>$7.00</span></ul>)";
    auto page = clients::parse_sold_page(html, oled(), "2026-06-20");
    REQUIRE(page.has_value());
    CHECK(page->layout == "s-item");
    CHECK(page->dropped == 3);
    REQUIRE(page->comps.size() == 1);
    CHECK(page->comps[0].title == "Lamp & shade");
    CHECK(page->comps[0].sold_on == "2026-06-19");
    CHECK(page->comps[0].price_minor == 700);
}

TEST_CASE("ebay sold page: the search URL carries sold, condition and paging", "[clients]") {
    auto q = oled();
    q.condition = "for parts";
    auto target = clients::sold_page_target(q, 120, 3);
    CHECK(target ==
          "/sch/i.html?_nkw=nintendo+switch+oled&_sacat=0&LH_Sold=1&LH_Complete=1"
          "&LH_ItemCondition=7000&_ipg=120&_pgn=3");
    market_query empty;
    CHECK(clients::sold_page_target(empty, 60, 1).empty());
}

TEST_CASE("ebay sold page: UK dates and pounds read with a GBP query", "[clients]") {
    std::string html =
        "<ul><li class=\"s-card\" data-listingid=\"9\"><div class=\"s-card__caption\"><span "
        "aria-label=\"Sold item\">Sold  6 Sep 2026</span></div><a class=\"s-card__link\" "
        "href=\"https://www.ebay.co.uk/itm/9?x=1\"><div class=\"s-card__title\"><span>Record "
        "player</span></div></a><span class=\"s-card__price\">\xC2\xA3"
        "45.00</span><div class=\"s-card__attribute-row\"><span>+\xC2\xA3"
        "3.20 delivery</span></div></li></ul>";
    market_query q;
    q.keywords = "record player";
    q.currency = "GBP";
    auto page = clients::parse_sold_page(html, q, "2026-09-10");
    REQUIRE(page.has_value());
    REQUIRE(page->comps.size() == 1);
    CHECK(page->comps[0].sold_on == "2026-09-06");
    CHECK(page->comps[0].price_minor == 4820);
    CHECK(page->comps[0].currency == "GBP");
    CHECK(page->comps[0].url == "https://www.ebay.co.uk/itm/9");
    // The same card read for a USD query is dropped, not mispriced.
    auto usd = clients::parse_sold_page(html, oled(), "2026-09-10");
    REQUIRE(usd.has_value());
    CHECK(usd->comps.empty());
    CHECK(usd->dropped == 1);
}

TEST_CASE("ebay sold page: every truncation of a page parses without harm", "[clients]") {
    page_rig rig;
    auto q = oled();
    REQUIRE(rig.run(q).has_value());
    httplib::Client http(rig.fake->base_url());
    http.set_url_encode(false);
    auto res = http.Get("/sch/i.html?_nkw=nintendo+switch+oled&LH_Sold=1&LH_Complete=1");
    REQUIRE(res);
    const std::string& html = res->body;
    REQUIRE(html.size() > 1000);
    std::size_t pages_with_comps = 0;
    for (std::size_t cut = 0; cut <= html.size(); cut += 7) {
        auto page =
            clients::parse_sold_page(std::string_view(html).substr(0, cut), q, "2026-06-20");
        if (page) {
            CHECK(page->comps.size() <= 3);
            pages_with_comps += page->comps.empty() ? 0 : 1;
        } else {
            CHECK(page.error().code == "layout_changed");
        }
    }
    CHECK(pages_with_comps > 0);
}
