// The sample export shipped in examples/sales, end to end: import, comps, price, draft.
#include <catch2/catch.hpp>

#include "pipeline/market/listing.hpp"
#include "pipeline/market/pricing.hpp"
#include "tests/market/market_support.hpp"

using namespace boomer::market;
using namespace boomer::market::test;

namespace {

sales_import import_example() {
    auto path = boomer::test::source_dir() / "examples" / "sales" / "ebay-orders-sample.csv";
    auto r = import_sales_csv(boomer::test::read_file(path), "ebay-orders-sample.csv");
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r);
    return *r;
}

}  // namespace

TEST_CASE("example: the sample eBay export imports cleanly", "[market]") {
    auto r = import_example();
    CHECK(r.format == "ebay_orders_us");
    CHECK(r.rows_read == 27);
    CHECK(r.sales.size() == 24);  // 27 rows − summary − unpaid − duplicate
    CHECK(r.duplicates == 1);
    CHECK(r.excluded_unpaid == 1);
    CHECK(r.rows_skipped == 0);
    CHECK(r.warnings ==
          std::vector<std::string>{"ebay-orders-sample.csv: 1 row(s) never paid for (no Paid On "
                                   "Date) were left out"});
    require_no_buyer_data(r);
}

TEST_CASE("example: barcode comps, a price and a draft for the tin can", "[market]") {
    sales_history history({import_example()});
    auto comps = history.find({{"8413000065504"}, "tin can", "new"}, 20);
    REQUIRE(comps.size() == 2);
    for (const auto& c : comps) {
        CHECK(c.match == "barcode");
    }
    CHECK(comps[0].sold_on == "2026-03-20");  // newest first
    CHECK(comps[0].price_minor == 1450 + 600);

    auto price = estimate_price(comps, "2026-04-01");
    REQUIRE(price);
    CHECK(price->median_minor == (2050 + 1900) / 2);  // 19.75
    CHECK(price->count == 2);
    CHECK(price->newest_sold_on == "2026-03-20");

    draft_input in;
    in.title = "Collectible Tin Can Unopened Spain";
    in.specifics = {{"EAN", "8413000065504"}};
    in.condition = "new";
    in.price = price;
    auto draft = draft_listing(in);
    CHECK(draft.condition_id == 1000);
    REQUIRE(draft.price_minor);
    CHECK(*draft.price_minor == 1975);
    CHECK(draft.currency == "USD");
}

TEST_CASE("example: title comps for a teapot and a camera", "[market]") {
    sales_history history({import_example()});
    auto teapots = history.find({{}, "Brown Betty teapot", "used"}, 20);
    CHECK(teapots.size() == 3);
    for (const auto& c : teapots) {
        CHECK(c.title.find("Brown Betty") != std::string::npos);
    }
    auto cameras = history.find({{}, "Canon AE-1 35mm camera", ""}, 20);
    REQUIRE(cameras.size() == 2);
    auto books = history.find({{"9780140013993"}, "", ""}, 20);
    REQUIRE(books.size() == 1);
    CHECK(books[0].title == "Penguin Books Paperback Classic 1960s Printing");
}
