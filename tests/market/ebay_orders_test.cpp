// The eBay Orders report importer against the fixtures in tests/data/sales (written by
// make_fixtures.py; the expected numbers below were worked out by hand from that script).
#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/market/market_support.hpp"

using namespace boomer::market;
using namespace boomer::market::test;

namespace {

bool any_warning_contains(const sales_import& r, const std::string& text) {
    return std::any_of(r.warnings.begin(), r.warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("ebay orders: US 2026 report with BOM, bare-comma line, padding and footers",
          "[market]") {
    auto r = import_fixture("ebay-us-2026.csv");
    CHECK(r.format == "ebay_orders_us");
    CHECK(r.rows_read == 13);  // padding rows and the two footers are not data
    CHECK(r.sales.size() == 9);
    CHECK(r.duplicates == 1);
    CHECK(r.excluded_unpaid == 1);
    CHECK(r.excluded_other == 1);  // Total Price $0.00
    CHECK(r.rows_skipped == 0);
    CHECK_FALSE(any_warning_contains(r, "footer says"));  // footer count = sales records

    const sale& teapot = find_sale(r, "Brown Betty Teapot 6 Cup England");  // trailing space gone
    CHECK(teapot.unit_price_minor == 3400);
    CHECK(teapot.shipping_minor == 1250);
    CHECK(teapot.quantity == 1);
    CHECK(teapot.currency == "USD");
    CHECK(teapot.sold_on == "2026-03-14");
    CHECK(teapot.order_id == "26-11111-00012");
    CHECK(teapot.transaction_id == "3100000000012");
    CHECK(teapot.listing_id == "316600000012");
    CHECK(teapot.source == "ebay-us-2026.csv");
}

TEST_CASE("ebay orders: escaped quotes in titles and line breaks in other columns", "[market]") {
    auto r = import_fixture("ebay-us-2026.csv");
    const sale& radio = find_sale(r, "Zenith Trans-Oceanic 12\" Portable Radio");
    CHECK(radio.unit_price_minor == 12500);
    CHECK(radio.sold_on == "2026-03-12");
}

TEST_CASE("ebay orders: a multi-item order shares its shipping by price and is counted once",
          "[market]") {
    auto r = import_fixture("ebay-us-2026.csv");
    const sale& bowl = find_sale(r, "Pyrex Butterprint Mixing Bowl 444");
    const sale& dish = find_sale(r, "Pyrex Gooseberry Casserole Dish");
    // Summary: Sold For $50.00, shipping $18.00 → 18.00 × 30/50 and 18.00 × 20/50.
    CHECK(bowl.unit_price_minor == 3000);
    CHECK(bowl.shipping_minor == 1080);
    CHECK(dish.unit_price_minor == 2000);
    CHECK(dish.shipping_minor == 720);
    // Item rows have no Paid On Date: the summary's counts. The date comes from the summary.
    CHECK(bowl.sold_on == "2026-03-10");
    CHECK(bowl.order_id == "26-11111-00010");
    for (const auto& s : r.sales) {
        CHECK(s.unit_price_minor != 5000);  // the summary row is never a sale
    }
}

TEST_CASE("ebay orders: quantity, unit price, per-unit shipping and thousands separators",
          "[market]") {
    auto r = import_fixture("ebay-us-2026.csv");
    const sale& plates = find_sale(r, "Fiesta Ware Dinner Plate Turquoise");
    CHECK(plates.quantity == 2);
    CHECK(plates.unit_price_minor == 1800);
    CHECK(plates.shipping_minor == 500);  // $10.00 for two units
    CHECK(plates.variation == "[Colour: Turquoise]");
    CHECK(find_sale(r, "Steinway Upright Piano Bench").unit_price_minor == 150000);
    CHECK(find_sale(r, "Penguin Paperback 1960s Printing").sku == "BK-9780140013993");
    CHECK(find_sale(r, "Canon AE-1 Program 35mm SLR Film Camera").sku == "CAM-AE1");
}

TEST_CASE("ebay orders: unpaid and zero-total rows are left out with a warning", "[market]") {
    auto r = import_fixture("ebay-us-2026.csv");
    for (const auto& s : r.sales) {
        CHECK(s.title != "Olympus OM-1 35mm Camera Body");
        CHECK(s.title != "Smith Corona Typewriter Parts Only");
    }
    CHECK(any_warning_contains(r, "1 row(s) never paid for"));
    CHECK(any_warning_contains(r, "Total Price of 0"));
}

TEST_CASE("ebay orders: no buyer or ship-to data reaches the result", "[market]") {
    // The fixtures fill every buyer column with a distinctive placeholder.
    for (const char* name :
         {"ebay-us-2026.csv", "ebay-us-2023.csv", "ebay-uk-2022.csv", "ebay-au-2026.csv",
          "ebay-legacy-2017.csv", "ebay-fr-2026.csv", "ebay-bad-rows.csv",
          "etsy-sold-order-items.csv", "poshmark-sales.csv", "ebay-transactions-2026.csv"}) {
        INFO(name);
        auto content = fold_case(fixture(name));
        CHECK(content.find("zebulon") != std::string::npos);  // the bait is there
        require_no_buyer_data(import_fixture(name));
    }
}

TEST_CASE("ebay orders: US 2023 report, 79 columns, no final newline", "[market]") {
    auto r = import_fixture("ebay-us-2023.csv");
    CHECK(r.format == "ebay_orders_us");
    CHECK(r.rows_read == 4);
    REQUIRE(r.sales.size() == 3);
    CHECK(r.warnings.size() == 1);  // the unpaid row; the footer count (4) matches
    CHECK(r.excluded_unpaid == 1);
    const sale& laptop = find_sale(r, "Lenovo ThinkPad X1 Carbon 14\" Laptop");
    CHECK(laptop.quantity == 2);
    CHECK(laptop.unit_price_minor == 52000);  // Sold For is per unit, not Total Price
    CHECK(find_sale(r, "Kodak Brownie Hawkeye Camera Flash Model").sold_on == "2023-09-25");
    // eBay International Shipping: an ordinary sale; nothing of the hub or destination kept.
    const sale& eis = find_sale(r, "Nintendo Game Boy Color Japan");
    CHECK(eis.unit_price_minor == 4800);
    CHECK(eis.shipping_minor == 1900);
    for (const auto& s : r.sales) {
        for (const std::string* f : {&s.title, &s.sku, &s.variation, &s.order_id}) {
            CHECK(f->find("東京都") == std::string::npos);
            CHECK(f->find("Hub") == std::string::npos);
        }
    }
}

TEST_CASE("ebay orders: UK sentence-case header, pounds, day-first dates, CRLF", "[market]") {
    auto r = import_fixture("ebay-uk-2022.csv");
    CHECK(r.format == "ebay_orders_uk");
    REQUIRE(r.sales.size() == 2);
    const sale& teapot = find_sale(r, "Denby Arabesque Teapot");
    CHECK(teapot.unit_price_minor == 1999);
    CHECK(teapot.currency == "GBP");
    CHECK(teapot.shipping_minor == 450);
    CHECK(teapot.sold_on == "2022-05-25");
    CHECK(find_sale(r, "Hornby OO Gauge Locomotive Boxed").unit_price_minor == 125000);
    // "83 record(s) downloaded" does not match the 2 rows: a warning, not an error.
    CHECK(any_warning_contains(r, "the footer says 83 records"));
}

TEST_CASE("ebay orders: AU prefix money, multi-item order, no Paid On Date column", "[market]") {
    auto r = import_fixture("ebay-au-2026.csv");
    CHECK(r.format == "ebay_orders_au");
    CHECK(r.rows_read == 4);
    REQUIRE(r.sales.size() == 3);
    const sale& vase = find_sale(r, "Crown Lynn Swan Vase");
    const sale& bowl = find_sale(r, "Wembley Ware Lustre Bowl");
    CHECK(vase.currency == "AUD");
    CHECK(vase.quantity == 3);
    CHECK(vase.unit_price_minor == 7500);
    // AU $46.60 shared 225:80 → 34.38 for three vases (11.46 each) and 12.22 for the bowl.
    CHECK(vase.shipping_minor == 1146);
    CHECK(bowl.shipping_minor == 1222);
    CHECK(vase.sold_on == "2026-05-26");
    const sale& violin = find_sale(r, "Violin 4/4 Full Size Outfit with Bow and Case");
    CHECK(violin.unit_price_minor == 300000);
    CHECK(violin.sku == "VLN-44");
    CHECK(any_warning_contains(r, "no Paid On Date column"));
}

TEST_CASE("ebay orders: legacy Selling Manager names (Sale Price, Item ID, Order ID)", "[market]") {
    auto r = import_fixture("ebay-legacy-2017.csv");
    CHECK(r.format == "ebay_orders_legacy");
    REQUIRE(r.sales.size() == 1);
    CHECK(r.excluded_unpaid == 1);
    const sale& s = r.sales[0];
    CHECK(s.title == "Polaroid SX-70 Land Camera Folding");
    CHECK(s.unit_price_minor == 9500);
    CHECK(s.shipping_minor == 1200);
    CHECK(s.listing_id == "172200005001");
    CHECK(s.order_id == "5001");  // no Order ID: the sales record number stands in
    CHECK(s.sold_on == "2017-03-15");
}

TEST_CASE("ebay orders: French semicolon report with decimal commas and French months",
          "[market]") {
    auto r = import_fixture("ebay-fr-2026.csv");
    CHECK(r.format == "ebay_orders_fr");
    REQUIRE(r.sales.size() == 2);
    const sale& typewriter = find_sale(r, "Machine à écrire Olivetti Lettera 32");
    CHECK(typewriter.unit_price_minor == 123450);
    CHECK(typewriter.currency == "EUR");
    CHECK(typewriter.shipping_minor == 1500);
    CHECK(typewriter.sold_on == "2026-10-05");
    const sale& teapot = find_sale(r, "Théière Bernardaud porcelaine");
    CHECK(teapot.quantity == 2);
    CHECK(teapot.unit_price_minor == 9000);
    CHECK(teapot.shipping_minor == 450);
    CHECK(teapot.sold_on == "2025-12-12");
}

TEST_CASE("ebay orders: malformed framing is refused with file name and line", "[market]") {
    auto unterminated = import_sales_csv(fixture("ebay-unterminated-quote.csv"), "sales.csv");
    REQUIRE_FALSE(unterminated);
    CHECK(unterminated.error().code == "sales_file_malformed");
    CHECK(unterminated.error().message.starts_with("sales.csv line 14: unterminated quoted field"));

    auto stray = import_sales_csv(fixture("ebay-stray-quote.csv"), "stray.csv");
    REQUIRE_FALSE(stray);
    CHECK(stray.error().code == "sales_file_malformed");
    CHECK(stray.error().message.starts_with("stray.csv line 5: a quote inside an unquoted field"));
}

TEST_CASE("ebay orders: unreadable rows are skipped with line, column and value", "[market]") {
    auto r = import_fixture("ebay-bad-rows.csv");
    CHECK(r.rows_read == 5);
    CHECK(r.rows_skipped == 3);
    REQUIRE(r.sales.size() == 2);
    CHECK(find_sale(r, "Good Row Teapot").unit_price_minor == 2500);
    CHECK(find_sale(r, "Another Good Row").unit_price_minor == 4000);
    CHECK(any_warning_contains(
        r, "ebay-bad-rows.csv line 5: column \"Sold For\": \"twelve dollars\" is not an amount"));
    CHECK(any_warning_contains(
        r, "ebay-bad-rows.csv line 6: column \"Sale Date\": \"Apr-31-26\" is not a date"));
    CHECK(any_warning_contains(
        r, "ebay-bad-rows.csv line 7: column \"Quantity\": \"two\" is not a quantity"));
}

TEST_CASE("ebay orders: detection is by content, whatever the file is called", "[market]") {
    auto r = import_sales_csv(fixture("ebay-us-2026.csv"), "renamed.txt");
    REQUIRE(r);
    CHECK(r->format == "ebay_orders_us");
}

TEST_CASE("ebay orders: a duplicated summary row does not lose the order", "[market]") {
    std::string csv =
        "Sales Record Number,Order Number,Item Number,Item Title,Quantity,Sold For,"
        "Shipping And Handling,Total Price,Sale Date,Paid On Date,Transaction ID\n"
        "9,1-2-3,,,2,$10.00,$4.00,$14.00,Jan-02-26,Jan-02-26,\n"
        "9,1-2-3,,,2,$10.00,$4.00,$14.00,Jan-02-26,Jan-02-26,\n"
        "9,1-2-3,11,Cup,1,$6.00,,,Jan-02-26,,t1\n"
        "9,1-2-3,12,Saucer,1,$4.00,,,Jan-02-26,,t2\n";
    auto r = import_sales_csv(csv, "dup.csv");
    REQUIRE(r);
    REQUIRE(r->sales.size() == 2);
    CHECK(r->duplicates == 1);
    CHECK(r->sales[0].shipping_minor + r->sales[1].shipping_minor == 400);
}

TEST_CASE("ebay orders: a summary row without items is skipped with a warning", "[market]") {
    std::string csv =
        "Sales Record Number,Order Number,Item Number,Item Title,Quantity,Sold For,Sale Date\n"
        "9,1-2-3,,,2,$10.00,Jan-02-26\n"
        "10,1-2-4,55,Lamp,1,$30.00,Jan-03-26\n";
    auto r = import_sales_csv(csv, "lonely.csv");
    REQUIRE(r);
    REQUIRE(r->sales.size() == 1);
    CHECK(r->sales[0].title == "Lamp");
    CHECK(r->rows_skipped == 1);
    CHECK(any_warning_contains(*r, "lonely.csv line 2: an order summary row"));
}

TEST_CASE("ebay orders: a header without Sale Date is refused naming the column", "[market]") {
    std::string csv = "Sales Record Number,Item Title,Sold For\n1,Lamp,$3.00\n";
    auto r = import_sales_csv(csv, "nodate.csv");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "sales_file_incomplete");
    CHECK(r.error().message ==
          "nodate.csv line 1: the header has no \"Sale Date\" column, "
          "which the import needs");
}

TEST_CASE("ebay orders: the warning list is capped", "[market]") {
    std::string csv = "Sales Record Number,Order Number,Item Title,Sold For,Sale Date\n";
    for (int i = 0; i < 80; ++i) {
        csv += std::to_string(i) + ",o" + std::to_string(i) + ",Thing,nope,Jan-02-26\n";
    }
    auto r = import_sales_csv(csv, "many.csv");
    REQUIRE(r);
    CHECK(r->rows_skipped == 80);
    CHECK(r->warnings.size() == 51);
    CHECK(r->warnings.back().starts_with("... and "));
}
