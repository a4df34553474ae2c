// Variants of framing and naming that other tools met in real downloads, written inline:
// footer spellings, the 80-column header, Etsy's UK names, Poshmark's older header, the older
// Transaction report, and Depop.
#include <catch2/catch.hpp>

#include "tests/market/market_support.hpp"

using namespace boomer::market;
using namespace boomer::market::test;

TEST_CASE("quirks: footer spellings and a blank line before them", "[market]") {
    const std::string header =
        "Sales Record Number,Order Number,Item Number,Item Title,Quantity,Sold For,"
        "Shipping And Handling,Commitment Date,Sale Date,Paid On Date,Transaction ID,"
        "eBay Collected Tax Included in Total\n";
    const std::string rows =
        "\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\"\n"
        "45,1-1,101,Kettle,1,$20.00,$5.00,,Sep-30-26 23:45:00,Sep-30-26,t1,Yes\n"
        "44,1-2,102,Jug,1,$10.00,$5.00,,Sep-29-26,Sep-29-26,t2,Yes\n"
        "\n";
    for (const std::string footer :
         {"45,record(s) downloaded,\nSeller ID : a-seller", "\"2 record(s) downloaded\"",
          "record(s) downloaded,,,,\nSeller ID: shop-9,,,",
          "\"2\",\"Record(s) Downloaded\"\n"
          "SELLER ID : x\n"}) {
        INFO(footer);
        auto r = import_sales_csv(",,,,,,,,,,,\n" + header + rows + footer, "footer.csv");
        REQUIRE(r);
        CHECK(r->rows_read == 2);
        CHECK(r->rows_skipped == 0);
        REQUIRE(r->sales.size() == 2);
        CHECK(r->sales[0].sold_on == "2026-09-30");  // the time of day is ignored
    }
}

TEST_CASE("quirks: Etsy shops outside the US use Delivery names", "[market]") {
    std::string csv =
        "Sale Date,Item Name,Buyer,Quantity,Price,Order Delivery,Currency,Transaction ID,"
        "Listing ID,Date Posted,Delivery Name,Delivery City,Order ID,Variations,SKU\n"
        "09/06/26,Knitted Tea Cosy,Somebody Private,1,18.00,3.20,GBP,51,61,09/08/26,"
        "Somebody Private,Sometown,71,,\n";
    auto r = import_sales_csv(csv, "etsy-uk.csv");
    REQUIRE(r);
    CHECK(r->format == "etsy_order_items");
    REQUIRE(r->sales.size() == 1);
    CHECK(r->sales[0].currency == "GBP");
    CHECK(r->sales[0].shipping_minor == 320);
    for (const auto& w : r->warnings) {
        CHECK(w.find("Somebody") == std::string::npos);
    }
    CHECK(r->sales[0].title.find("Somebody") == std::string::npos);
}

TEST_CASE("quirks: Poshmark's older header with Net Earnings", "[market]") {
    std::string csv =
        "Listing Date,Order Date,SKU,Order Id,Listing Title,Department,Category,Subcategory,"
        "Brand,Color,Size,Bundle Order?,Offer Order,NWT,Cost Price,Order Price,"
        "Seller Shipping Discount,Upgraded Shipping Label Fee,Net Earnings,Buyer State,"
        "Buyer Zip Code,Buyer Username,Sales Tax (Paid by Buyer),Sales Tax (Paid by Seller),"
        "Notes,Other Info\n"
        "01/02/2019,02/03/2019,,P9,Wool Scarf,Women,Accessories,Scarves,Acme,Grey,OS,N,N,N,,"
        "$20.00,$0.00,$0.00,$16.00,ZZ,00000,privatebuyer,--,$0.00,,\n";
    auto r = import_sales_csv(csv, "posh-old.csv");
    REQUIRE(r);
    CHECK(r->format == "poshmark");
    REQUIRE(r->sales.size() == 1);
    CHECK(r->sales[0].unit_price_minor == 2000);
    CHECK(r->sales[0].sold_on == "2019-02-03");
}

TEST_CASE("quirks: the older Transaction report without preamble or BOM", "[market]") {
    std::string csv =
        "Transaction date,Type,Order number,Legacy order ID,Buyer username,Buyer name,"
        "Ship to city,Ship to province/region/state,Ship to zip,Ship to country,Net amount,"
        "Payout currency,Payout date,Payout ID,Payout method,Payout status,Reason for hold,"
        "Item ID,Transaction ID,Item title,Custom label,Quantity,Item subtotal,"
        "Shipping and handling,Seller collected tax,eBay collected tax,"
        "Final Value Fee - fixed,Final Value Fee - variable,"
        "\"Very high \"\"item not as described\"\" fee\",Below standard performance fee,"
        "International fee,Deposit processing fee,Gross transaction amount,"
        "Transaction currency,Exchange rate,Reference ID,Description\n"
        "\"Jan 31, 2023\",Order,--,1-2,privatebuyer,Private Person,Town,ZZ,00000,US,40.00,USD,"
        "--,--,--,--,--,1,2,Desk Lamp Brass,LAMP-7,1,45.00,8.00,--,3.00,-0.30,-5.70,--,--,--,"
        "--,56.00,USD,--,--,--\n";
    auto r = import_sales_csv(csv, "old-transactions.csv");
    REQUIRE(r);
    CHECK(r->format == "ebay_transactions");
    REQUIRE(r->sales.size() == 1);
    CHECK(r->sales[0].unit_price_minor == 4500);
    CHECK(r->sales[0].shipping_minor == 800);
    CHECK(r->sales[0].sku == "LAMP-7");
    CHECK(r->sales[0].order_id.empty());  // "--"
    CHECK(r->sales[0].sold_on == "2023-01-31");
}

TEST_CASE("quirks: a Depop export is recognised and refused", "[market]") {
    std::string csv =
        "Date of sale,Time of sale,Date of listing,Bundle,Buyer,Brand,Description,Size,"
        "Item price,Buyer shipping cost,Total,USPS Cost,Depop fee,Depop Payments fee\n"
        "2026-01-01,10:00,2025-12-01,No,someone,Acme,Red scarf,OS,10.00,3.00,13.00,3.00,1.00,"
        "0.40\n";
    auto r = import_sales_csv(csv, "depop.csv");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "sales_file_unsupported");
    CHECK(r.error().message.starts_with("depop.csv looks like a Depop sales export"));
}

TEST_CASE("quirks: eBay columns are matched by name in any order", "[market]") {
    std::string csv =
        "Sale Date,Sold For,Quantity,Item Title,Sales Record Number,Paid On Date\n"
        "Jan-02-26,$12.00,3,Egg Cups,1,Jan-02-26\n";
    auto r = import_sales_csv(csv, "shuffled.csv");
    REQUIRE(r);
    REQUIRE(r->sales.size() == 1);
    CHECK(r->sales[0].quantity == 3);
    CHECK(r->sales[0].unit_price_minor == 1200);
    CHECK(r->sales[0].order_id == "1");
}
