// The sales history: merging overlapping downloads and finding comps by code and by title.
#include "pipeline/market/sales_history.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "tests/market/market_support.hpp"

using namespace boomer::market;
using namespace boomer::market::test;

namespace {

sale make_sale(std::string title, std::string sku, std::int64_t price, std::string sold_on,
               std::string order_id = {}) {
    sale s;
    s.title = std::move(title);
    s.sku = std::move(sku);
    s.unit_price_minor = price;
    s.shipping_minor = 500;
    s.currency = "USD";
    s.sold_on = std::move(sold_on);
    s.order_id = std::move(order_id);
    s.source = "test";
    return s;
}

sales_import import_of(std::vector<sale> sales, std::string format = "ebay_orders_us") {
    sales_import i;
    i.format = std::move(format);
    i.sales = std::move(sales);
    return i;
}

std::vector<std::string> titles(const std::vector<comp>& comps) {
    std::vector<std::string> out;
    for (const auto& c : comps) {
        out.push_back(c.title);
    }
    return out;
}

}  // namespace

TEST_CASE("sales history: overlapping downloads are merged without double counting", "[market]") {
    auto a = import_fixture("ebay-overlap-a.csv");
    auto b = import_fixture("ebay-overlap-b.csv");
    REQUIRE(a.sales.size() == 6);
    REQUIRE(b.sales.size() == 6);
    sales_history history({a, b});
    CHECK(history.size() == 9);
    CHECK(history.duplicates() == 3);
    // Adding the same file again changes nothing but the duplicate count.
    history.add(a);
    CHECK(history.size() == 9);
    CHECK(history.duplicates() == 9);
}

TEST_CASE("sales history: the same ids on different marketplaces are different sales", "[market]") {
    sale s = make_sale("Mug", "", 1000, "2026-01-01", "42");
    sales_history history({import_of({s}, "ebay_orders_us"), import_of({s}, "etsy_order_items"),
                           import_of({s}, "ebay_transactions")});
    CHECK(history.size() == 2);  // eBay orders and transactions are one marketplace
    CHECK(history.duplicates() == 1);
}

TEST_CASE("sales history: barcode matches the custom label, across UPC/EAN/ISBN forms",
          "[market]") {
    sales_history history({import_of({
        make_sale("Cereal box", "036000291452", 900, "2026-01-02", "1"),
        make_sale("Paperback", "BK-9780140013993", 700, "2026-01-03", "2"),
        make_sale("Tin can EAN 8413000065504 sealed", "", 1200, "2026-01-04", "3"),
        make_sale("Unrelated lamp", "LAMP-1", 3000, "2026-01-05", "4"),
    })});
    auto upc = history.find({{"0036000291452"}, "", ""}, 10);
    REQUIRE(upc.size() == 1);
    CHECK(upc[0].title == "Cereal box");
    CHECK(upc[0].match == "barcode");
    CHECK(upc[0].score == 1.0);

    auto isbn10 = history.find({{"0-14-001399-7"}, "", ""}, 10);
    REQUIRE(isbn10.size() == 1);
    CHECK(isbn10[0].title == "Paperback");

    auto ean_in_title = history.find({{"8413000065504"}, "", ""}, 10);
    REQUIRE(ean_in_title.size() == 1);
    CHECK(ean_in_title[0].price_minor == 1700);  // shipping-inclusive
    CHECK(ean_in_title[0].item_price_minor == 1200);
    CHECK(ean_in_title[0].shipping_minor == 500);

    CHECK(history.find({{"not a code", "12345"}, "", ""}, 10).empty());
}

TEST_CASE("sales history: title similarity finds the same product, not its neighbours",
          "[market]") {
    sales_history history({import_of({
        make_sale("Brown Betty Teapot 6 Cup Made in England", "", 3600, "2026-03-28", "1"),
        make_sale("Brown Betty Teapot 4 Cup Rockingham Glaze", "", 2900, "2026-03-16", "2"),
        make_sale("Hall China Teapot Aladdin Cobalt Gold", "", 4200, "2026-02-24", "3"),
        make_sale("Canon AE-1 Program 35mm SLR Film Camera with 50mm Lens", "", 21500, "2026-03-26",
                  "4"),
        make_sale("Canon PIXMA Printer Ink Cartridge", "", 1500, "2026-03-01", "5"),
    })});
    auto teapots = history.find({{}, "Brown Betty teapot 6 cup", ""}, 10);
    REQUIRE(teapots.size() == 2);
    CHECK(teapots[0].title == "Brown Betty Teapot 6 Cup Made in England");  // best score first
    CHECK(teapots[0].match == "title");
    CHECK(teapots[0].score > teapots[1].score);
    CHECK(teapots[1].score >= sales_history::title_threshold);

    auto camera = history.find({{}, "Canon AE-1 camera", ""}, 10);
    CHECK(titles(camera) ==
          std::vector<std::string>{"Canon AE-1 Program 35mm SLR Film Camera with 50mm Lens"});
    CHECK(history.find({{}, "the a of", ""}, 10).empty());  // nothing left after stop-words
    CHECK(history.find({{}, "", ""}, 10).empty());
}

TEST_CASE("sales history: barcode matches come before title matches and the limit holds",
          "[market]") {
    sales_history history({import_of({
        make_sale("Penguin Paperback Orwell", "", 800, "2026-03-01", "1"),
        make_sale("Penguin Paperback Orwell", "9780140013993", 900, "2026-01-01", "2"),
        make_sale("Penguin Paperback Orwell first", "", 1000, "2026-02-01", "3"),
    })});
    auto comps = history.find({{"9780140013993"}, "Penguin Paperback Orwell", ""}, 10);
    REQUIRE(comps.size() == 3);
    CHECK(comps[0].match == "barcode");
    CHECK(comps[0].item_price_minor == 900);
    CHECK(comps[1].match == "title");
    CHECK(comps[2].match == "title");
    CHECK(history.find({{"9780140013993"}, "Penguin Paperback Orwell", ""}, 2).size() == 2);
    CHECK(history.find({{"9780140013993"}, "Penguin Paperback Orwell", ""}, 0).empty());
}

TEST_CASE("sales history: a condition that disagrees with the title lowers the score", "[market]") {
    sales_history history({import_of({
        make_sale("Zenith Trans-Oceanic Radio for parts or repair", "", 7500, "2026-03-03", "1"),
        make_sale("Zenith Trans-Oceanic Radio working", "", 19000, "2026-03-01", "2"),
    })});
    auto any = history.find({{}, "Zenith Trans-Oceanic Radio", ""}, 10);
    REQUIRE(any.size() == 2);
    auto parts = history.find({{}, "Zenith Trans-Oceanic Radio", "for parts"}, 10);
    REQUIRE_FALSE(parts.empty());
    CHECK(parts[0].title == "Zenith Trans-Oceanic Radio for parts or repair");
    auto working = history.find({{}, "Zenith Trans-Oceanic Radio", "used"}, 10);
    REQUIRE_FALSE(working.empty());
    CHECK(working[0].title == "Zenith Trans-Oceanic Radio working");
    for (const auto& c : working) {
        if (c.title.find("parts") != std::string::npos) {
            CHECK(c.score < any[0].score);
        }
    }
}

TEST_CASE("sales history: concurrent readers get the same answers", "[market]") {
    auto example = import_fixture("ebay-us-2026.csv");
    const sales_history history({example});
    comp_query query{{"9780140013993"}, "Pyrex mixing bowl butterprint", "used"};
    auto expected = history.find(query, 20);
    REQUIRE_FALSE(expected.empty());
    std::vector<std::thread> readers;
    std::vector<int> same(4, 0);
    for (int t = 0; t < 4; ++t) {
        readers.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                same[static_cast<std::size_t>(t)] +=
                    titles(history.find(query, 20)) == titles(expected);
            }
        });
    }
    for (auto& r : readers) {
        r.join();
    }
    CHECK(same == std::vector<int>(4, 200));
}
