// Recognising and importing the other exports: eBay Transaction report, Etsy, Mercari,
// Poshmark; refusing the ones that cannot serve as comps and files of unknown shape.
#include <catch2/catch.hpp>

#include "tests/market/market_support.hpp"

using namespace boomer::market;
using namespace boomer::market::test;

TEST_CASE("etsy: Sold Order Items with order shipping shared across the order", "[market]") {
    auto r = import_fixture("etsy-sold-order-items.csv");
    CHECK(r.format == "etsy_order_items");
    CHECK(r.rows_read == 3);
    REQUIRE(r.sales.size() == 3);
    const sale& mug = find_sale(r, "Handmade Stoneware Mug, Blue Glaze");
    CHECK(mug.quantity == 2);
    CHECK(mug.unit_price_minor == 3400);
    CHECK(mug.currency == "USD");
    CHECK(mug.sold_on == "2026-09-06");  // 09/06/26 is month first
    CHECK(mug.variation == "Colour:Blue");
    CHECK(mug.sku == "MUG-BLUE");
    CHECK(mug.listing_id == "1500000001");
    // $8.00 order shipping shared 68:32 → 5.44 for two mugs (2.72 each) and 2.56.
    CHECK(mug.shipping_minor == 272);
    CHECK(find_sale(r, "Stoneware Teapot Speckled").shipping_minor == 256);
    const sale& bookends = find_sale(r, "Vintage Brass Bookends Pair");
    CHECK(bookends.unit_price_minor == 4500);  // "$45.00" and bare decimals both read
    CHECK(bookends.shipping_minor == 650);
}

TEST_CASE("mercari: only Completed sales, bundles left out", "[market]") {
    auto r = import_fixture("mercari-sales.csv");
    CHECK(r.format == "mercari");
    CHECK(r.rows_read == 4);
    CHECK(r.excluded_other == 2);
    REQUIRE(r.sales.size() == 2);
    const sale& oven = find_sale(r, "Le Creuset Dutch Oven 24 Flame");
    CHECK(oven.unit_price_minor == 7900);
    CHECK(oven.shipping_minor == 740);
    CHECK(oven.sold_on == "2026-06-21");
    CHECK(oven.listing_id == "m10000000001");
    CHECK(find_sale(r, "Singer Featherweight 221 Case").unit_price_minor == 115000);
}

TEST_CASE("poshmark: preamble and footer lines, bundles left out", "[market]") {
    auto r = import_fixture("poshmark-sales.csv");
    CHECK(r.format == "poshmark");
    CHECK(r.rows_read == 3);
    CHECK(r.excluded_other == 1);
    REQUIRE(r.sales.size() == 2);
    const sale& shirt = find_sale(r, "Pendleton Wool Shirt Plaid");
    CHECK(shirt.unit_price_minor == 6500);
    CHECK(shirt.sold_on == "2026-01-27");
    CHECK(shirt.order_id == "PM0001");
    CHECK(find_sale(r, "Levi's 501 Jeans 32x30").sku == "SKU-77");
}

TEST_CASE("ebay transactions: Order lines after the preamble, refunded orders left out",
          "[market]") {
    auto r = import_fixture("ebay-transactions-2026.csv");
    CHECK(r.format == "ebay_transactions");
    CHECK(r.excluded_other == 1);
    REQUIRE(r.sales.size() == 1);
    const sale& film = r.sales[0];
    CHECK(film.title == "Kodak Vision3 250D 100' Roll 35mm Film");
    CHECK(film.quantity == 2);
    CHECK(film.unit_price_minor == 5500);  // Item subtotal 110 covers both units
    CHECK(film.shipping_minor == 513);     // 10.25 / 2, rounded half up
    CHECK(film.sold_on == "2026-03-27");
    CHECK(film.order_id == "27-44444-00001");
    CHECK(film.transaction_id == "2700000000001");
    CHECK(film.sku.empty());  // "--" is not a custom label
}

TEST_CASE("sales import: recognised exports that cannot be comps are refused with advice",
          "[market]") {
    auto listings = import_sales_csv(fixture("ebay-listings-sales.csv"), "listings.csv");
    REQUIRE_FALSE(listings);
    CHECK(listings.error().code == "sales_file_unsupported");
    CHECK(listings.error().message.find("Listings sales report") != std::string::npos);
    CHECK(listings.error().message.find("Orders report") != std::string::npos);

    auto orders = import_sales_csv(fixture("etsy-sold-orders.csv"), "orders.csv");
    REQUIRE_FALSE(orders);
    CHECK(orders.error().code == "sales_file_unsupported");
    CHECK(orders.error().message.find("Order Items") != std::string::npos);
    CHECK(orders.error().message.find("Quxworth") == std::string::npos);
}

TEST_CASE("sales import: an unknown file is refused naming what is expected", "[market]") {
    auto r = import_sales_csv(fixture("not-a-sales-export.csv"), "stuff.csv");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "sales_file_unknown");
    CHECK(r.error().message.starts_with("stuff.csv is not a sales export"));
    CHECK(r.error().message.find("eBay Orders report") != std::string::npos);

    auto empty = import_sales_csv("\xEF\xBB\xBF\n\n", "empty.csv");
    REQUIRE_FALSE(empty);
    CHECK(empty.error().message.starts_with("empty.csv is empty"));
}

TEST_CASE("sales import: a header beyond the first 30 rows is not searched for", "[market]") {
    std::string csv(31, '\n');
    csv += "Sales Record Number,Item Title,Sold For,Sale Date\n1,Lamp,$3.00,Jan-02-26\n";
    auto late = import_sales_csv(csv, "late.csv");
    REQUIRE_FALSE(late);
    CHECK(late.error().code == "sales_file_unknown");
    auto early = import_sales_csv(csv.substr(5), "early.csv");
    REQUIRE(early);
    CHECK(early->sales.size() == 1);
}

TEST_CASE("sales import: a tab-separated export is read too", "[market]") {
    std::string tsv =
        "Sales Record Number\tItem Title\tSold For\tSale Date\n1\tLamp, brass\t$3.00\tJan-02-26\n";
    auto r = import_sales_csv(tsv, "tabs.tsv");
    REQUIRE(r);
    REQUIRE(r->sales.size() == 1);
    CHECK(r->sales[0].title == "Lamp, brass");
}

TEST_CASE("sales import: a file re-saved as Windows-1252 is read with a warning", "[market]") {
    std::string csv =
        "Sales record number,Order number,Item number,Item title,Quantity,Sold for,"
        "Postage and packaging,Sale date,Paid on date,Transaction ID\r\n"
        "7,1-2-3,99,Th\xE9i\xE8"
        "re \x93"
        "Bernardaud\x94,1,\xA3"
        "19.99,\xA3"
        "4.50,25-May-22,"
        "25-May-22,5\r\n";
    auto r = import_sales_csv(csv, "excel.csv");
    REQUIRE(r);
    REQUIRE(r->sales.size() == 1);
    CHECK(r->sales[0].title == "Théière “Bernardaud”");
    CHECK(r->sales[0].unit_price_minor == 1999);
    CHECK(r->sales[0].currency == "GBP");
    REQUIRE_FALSE(r->warnings.empty());
    CHECK(r->warnings[0] ==
          "excel.csv: not UTF-8 text; read as Windows-1252 (check accented "
          "letters and currency symbols)");
}

TEST_CASE("sales import: UTF-16 text is refused with advice", "[market]") {
    std::string utf16("\xFF\xFES\0a\0l\0e\0", 10);
    auto r = import_sales_csv(utf16, "unicode.txt");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "sales_file_unsupported");
    CHECK(r.error().message.find("UTF-16") != std::string::npos);
}
