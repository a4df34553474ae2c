// One JSON shape for comps: what is written reads back whole, older entries without the later
// fields still read, and something that is not a comp reads as nothing.
#include "pipeline/market/comp_json.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace boomer::market;
namespace json = boost::json;

TEST_CASE("comp_json: every field reads back", "[market]") {
    comp c;
    c.title = "Canon AE-1, \"Program\"";
    c.price_minor = 15'999;
    c.item_price_minor = 14'999;
    c.shipping_minor = 1'000;
    c.currency = "USD";
    c.sold_on = "2026-11-30";
    c.match = "title";
    c.score = 0.75;
    c.source = "ebay_browse";
    c.sold = false;
    c.condition_id = "3000";
    c.url = "https://www.ebay.com/itm/1";
    c.category_id = "15230";
    c.listing_id = "1";
    c.seen_by = {"ebay_browse", "ebay_sold_page"};
    auto back = comp_from_json(json::parse(json::serialize(comp_to_json(c))));
    REQUIRE(back);
    CHECK(back->title == c.title);
    CHECK(back->price_minor == 15'999);
    CHECK(back->item_price_minor == 14'999);
    CHECK(back->shipping_minor == 1'000);
    CHECK(back->currency == "USD");
    CHECK(back->sold_on == "2026-11-30");
    CHECK(back->match == "title");
    CHECK(back->score == 0.75);
    CHECK(back->source == "ebay_browse");
    CHECK_FALSE(back->sold);
    CHECK(back->condition_id == "3000");
    CHECK(back->url == "https://www.ebay.com/itm/1");
    CHECK(back->category_id == "15230");
    CHECK(back->listing_id == "1");
    CHECK(back->seen_by == std::vector<std::string>{"ebay_browse", "ebay_sold_page"});
}

TEST_CASE("comp_json: an older entry reads with defaults, a broken one as nothing", "[market]") {
    auto older = json::parse(R"({"title":"Teapot","price_minor":2500,"item_price_minor":2500,
        "shipping_minor":0,"currency":"USD","sold_on":"2026-10-01","match":"title","score":0.5,
        "source":"own_sales"})");
    auto c = comp_from_json(older);
    REQUIRE(c);
    CHECK(c->sold);
    CHECK(c->condition_id.empty());
    CHECK(c->category_id.empty());
    CHECK(c->listing_id.empty());
    CHECK(c->seen_by.empty());

    older.as_object().erase("price_minor");
    CHECK_FALSE(comp_from_json(older));
    CHECK_FALSE(comp_from_json(json::value("not a comp")));
}
