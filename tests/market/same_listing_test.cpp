// One eBay listing reported by several sources: the item number read from each source's form,
// the listing counted once in the combined comps and the price (the sold-page + Insights double
// count a tester found), repeated sales of one listing kept, sold and active never merged, the
// more authoritative record kept, the seller's sales files one source, and the seller's own eBay
// sales known by their item number.
#include "pipeline/market/same_listing.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "core/clock.hpp"
#include "pipeline/market/fan_out.hpp"
#include "pipeline/market/pricing.hpp"

using namespace boomer;
using namespace boomer::market;
namespace asio = boost::asio;

namespace {

comp sold_comp(const std::string& source, std::int64_t price, const std::string& sold_on) {
    comp c;
    c.title = "Canon AE-1 Program 35mm SLR";
    c.price_minor = price;
    c.item_price_minor = price;
    c.currency = "USD";
    c.sold_on = sold_on;
    c.match = "title";
    c.score = 0.9;
    c.source = source;
    c.sold = true;
    return c;
}

// A sold comp as Marketplace Insights reads it: item id "v1|<number>|0" and a bare /itm/ URL.
comp insights_comp(const std::string& number, std::int64_t price, const std::string& sold_on) {
    auto c = sold_comp("ebay_insights", price, sold_on);
    c.listing_id = number;
    c.url = "https://www.ebay.com/itm/" + number;
    c.condition_id = "3000";
    c.category_id = "15230";
    return c;
}

// A sold comp as the sold-listings page reads it: shipping from the card, the card's URL.
comp page_comp(const std::string& number, std::int64_t price, const std::string& sold_on) {
    auto c = sold_comp("ebay_sold_page", price + 1250, sold_on);
    c.item_price_minor = price;
    c.shipping_minor = 1250;
    c.url = "https://www.ebay.com/itm/" + number;
    c.condition_id = "3000";
    return c;
}

comp browse_comp(const std::string& number, std::int64_t price) {
    auto c = sold_comp("ebay_browse", price, "2026-06-20");
    c.sold = false;
    c.listing_id = number;
    c.url = "https://www.ebay.com/itm/" + number + "?hash=item" + number;
    return c;
}

// Answers at once with its comps.
class fixed_source final : public comp_source {
public:
    fixed_source(std::string name, std::vector<comp> comps)
        : name_(std::move(name)), comps_(std::move(comps)) {}
    std::string name() const override { return name_; }
    asio::awaitable<result<std::vector<comp>>> search(const market_query&) override {
        co_return comps_;
    }

private:
    std::string name_;
    std::vector<comp> comps_;
};

fan_out_result search_all(std::vector<std::shared_ptr<comp_source>> sources) {
    asio::io_context io;
    manual_clock time{1'800'000'000'000};
    fan_out f(std::move(sources), {}, time);
    market_query q;
    q.keywords = "canon ae-1 program";
    std::optional<fan_out_result> out;
    asio::co_spawn(io, f.search(q), [&](std::exception_ptr e, fan_out_result r) {
        if (e) {
            std::rethrow_exception(e);
        }
        out = std::move(r);
    });
    io.run();
    REQUIRE(out);
    return *out;
}

int count_from(const std::vector<comp>& comps, const std::string& source) {
    return static_cast<int>(std::count_if(comps.begin(), comps.end(),
                                          [&](const comp& c) { return c.source == source; }));
}

}  // namespace

TEST_CASE("ebay_item_number: the number from an item id, a URL or a bare number", "[market]") {
    CHECK(ebay_item_number("200000000001") == "200000000001");
    CHECK(ebay_item_number("v1|200000000001|0") == "200000000001");
    CHECK(ebay_item_number("v1|334691749565|543843548440") == "334691749565");
    CHECK(ebay_item_number("https://www.ebay.com/itm/200000000001") == "200000000001");
    CHECK(ebay_item_number("https://www.ebay.com/itm/334691749565?hash=item4ded:g:XTEA&amdata=x") ==
          "334691749565");
    CHECK(ebay_item_number("https://www.ebay.co.uk/itm/Canon-AE-1-Program/200000000001?hash=1") ==
          "200000000001");
    CHECK(ebay_item_number("").empty());
    CHECK(ebay_item_number("v1|abc|0").empty());
    CHECK(ebay_item_number("https://www.etsy.com/listing/123456/teapot").empty());
    CHECK(ebay_item_number("https://www.ebay.com/itm/Canon?x=/5").empty());
}

TEST_CASE(
    "fan_out: a sold listing reported by Insights and the sold page counts once in the price "
    "and the sell-through",
    "[market]") {
    // The tester's case: four sold listings both sources report, two active ones.
    std::vector<comp> insights;
    std::vector<comp> page;
    const std::vector<std::string> numbers{"200000000001", "200000000002", "200000000003",
                                           "200000000004"};
    for (std::size_t i = 0; i < numbers.size(); ++i) {
        auto price = 15000 + static_cast<std::int64_t>(i) * 500;
        auto day = "2026-06-1" + std::to_string(i);
        insights.push_back(insights_comp(numbers[i], price, day));
        page.push_back(page_comp(numbers[i], price, day));
    }
    auto result = search_all({std::make_shared<fixed_source>(
                                  "ebay_browse", std::vector{browse_comp("300000000001", 19000),
                                                             browse_comp("300000000002", 20000)}),
                              std::make_shared<fixed_source>("ebay_insights", insights),
                              std::make_shared<fixed_source>("ebay_sold_page", page)});

    CHECK(result.comps.size() == 6);
    CHECK(count_from(result.comps, "ebay_insights") == 4);  // the API's records are kept
    CHECK(count_from(result.comps, "ebay_sold_page") == 0);
    for (const auto& c : result.comps) {
        if (c.sold) {
            CHECK(c.seen_by == std::vector<std::string>{"ebay_insights", "ebay_sold_page"});
        } else {
            CHECK(c.seen_by == std::vector<std::string>{"ebay_browse"});
        }
    }
    CHECK(result.outcomes[1].count == 4);  // each source's own count is what it gave
    CHECK(result.outcomes[2].count == 4);

    market_price_input in;
    in.comps = result.comps;
    in.today = "2026-06-20";
    auto priced = price_market(std::move(in));
    REQUIRE(priced.sold);
    CHECK(priced.sold->count == 4);
    REQUIRE(priced.sell_through_rate);
    CHECK(priced.sell_through_rate->sold == 4);
    CHECK(priced.sell_through_rate->active == 2);
    CHECK(priced.sell_through_rate->rate == Approx(4.0 / 6.0));
}

TEST_CASE("merge_same_listings: an active and a sold listing with one number stay apart",
          "[market]") {
    // A multi-quantity listing still on sale that has also sold: both facts count.
    auto merged = merge_same_listings(
        {{"ebay_browse", {browse_comp("200000000001", 19000)}},
         {"ebay_insights", {insights_comp("200000000001", 15000, "2026-06-10")}},
         {"ebay_sold_page", {page_comp("200000000001", 15000, "2026-06-10")}}});
    REQUIRE(merged.size() == 2);
    CHECK_FALSE(merged[0].sold);
    CHECK(merged[0].seen_by == std::vector<std::string>{"ebay_browse"});
    CHECK(merged[1].sold);
    CHECK(merged[1].source == "ebay_insights");
}

TEST_CASE("merge_same_listings: one source's repeated sales of a listing all count", "[market]") {
    // Three order lines of one multi-quantity listing in the seller's exports (two files, one
    // source); Insights reports the listing once (its last sale), the sold page four sales.
    std::vector<comp> own;
    for (const auto* file : {"jan.csv", "jan.csv", "feb.csv"}) {
        auto c = sold_comp(file, 16000, "2026-06-0" + std::to_string(own.size() + 1));
        c.listing_id = "200000000001";
        c.shipping_minor = 900;
        own.push_back(c);
    }
    auto insights = insights_comp("200000000001", 15500, "2026-06-09");

    auto merged = merge_same_listings({{"own_sales", own}, {"ebay_insights", {insights}}});
    REQUIRE(merged.size() == 3);
    for (const auto& c : merged) {
        CHECK(c.source != "ebay_insights");  // the seller's record of what the buyer paid
        CHECK(c.price_minor == 16000);
        CHECK(c.condition_id == "3000");  // filled from Insights' record
        CHECK(c.category_id == "15230");
        CHECK(c.url == "https://www.ebay.com/itm/200000000001");
        CHECK(c.seen_by == std::vector<std::string>{"own_sales", "ebay_insights"});
    }

    std::vector<comp> page;
    for (const auto* day : {"2026-06-01", "2026-06-05", "2026-06-09", "2026-06-12"}) {
        page.push_back(page_comp("200000000001", 15500, day));
    }
    merged = merge_same_listings(
        {{"own_sales", own}, {"ebay_insights", {insights}}, {"ebay_sold_page", page}});
    REQUIRE(merged.size() == 4);
    CHECK(count_from(merged, "ebay_sold_page") == 1);
    CHECK(merged.back().sold_on == "2026-06-12");  // the sale only the page saw

    // One source alone: its repeats are never collapsed.
    CHECK(merge_same_listings({{"own_sales", own}}).size() == 3);
    CHECK(merge_same_listings({{"ebay_sold_page", page}}).size() == 4);
}

TEST_CASE("merge_same_listings: the API's record is kept over the page's, whatever the order",
          "[market]") {
    auto merged = merge_same_listings(
        {{"ebay_sold_page", {page_comp("200000000001", 15000, "2026-06-10")}},
         {"own_sales", {sold_comp("etsy.csv", 9000, "2026-06-10")}},
         {"ebay_insights", {insights_comp("200000000001", 15000, "2026-06-10")}}});
    REQUIRE(merged.size() == 2);
    CHECK(merged[0].source == "etsy.csv");  // no item number: never merged
    CHECK(merged[0].seen_by == std::vector<std::string>{"own_sales"});
    CHECK(merged[1].source == "ebay_insights");
    CHECK(merged[1].item_price_minor == 15000);
    // Insights gives no shipping; the page's card for a sale at that price shows it.
    CHECK(merged[1].shipping_minor == 1250);
    CHECK(merged[1].price_minor == 16250);
    CHECK(merged[1].seen_by == std::vector<std::string>{"ebay_insights", "ebay_sold_page"});

    // A listing named by its URL in one source and by its item id in another is one listing.
    auto by_url = page_comp("200000000002", 15000, "2026-06-10");
    by_url.url += "?_skw=canon&hash=item2";
    auto by_id = insights_comp("200000000002", 15000, "2026-06-10");
    by_id.url.clear();
    CHECK(merge_same_listings({{"ebay_sold_page", {by_url}}, {"ebay_insights", {by_id}}}).size() ==
          1);

    // Another sale of the listing, at another price: its shipping is not borrowed.
    auto other_sale = page_comp("200000000002", 14000, "2026-06-01");
    auto kept = merge_same_listings({{"ebay_insights", {by_id}}, {"ebay_sold_page", {other_sale}}});
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].source == "ebay_insights");
    CHECK(kept[0].price_minor == 15000);
}

TEST_CASE("sales history: a sale from an eBay export carries its item number, others none",
          "[market]") {
    sale s;
    s.title = "Canon AE-1 Program 35mm SLR";
    s.listing_id = "200000000001";
    s.order_id = "01-00001-00001";
    s.unit_price_minor = 16000;
    s.currency = "USD";
    s.sold_on = "2026-06-01";
    sales_import ebay;
    ebay.format = "ebay_orders_us";
    ebay.sales.push_back(s);
    sales_import etsy;
    etsy.format = "etsy_order_items";
    s.listing_id = "987654321";
    etsy.sales.push_back(s);
    sales_history history({ebay, etsy});

    comp_query q;
    q.title = "Canon AE-1 Program";
    auto found = history.find(q, 10);
    REQUIRE(found.size() == 2);
    std::vector<std::string> ids{found[0].listing_id, found[1].listing_id};
    std::sort(ids.begin(), ids.end());
    CHECK(ids == std::vector<std::string>{"", "200000000001"});
}
