// Money and date parsing as exports print them, and the text helpers underneath.
#include <catch2/catch.hpp>

#include "pipeline/market/dates.hpp"
#include "pipeline/market/gtin.hpp"
#include "pipeline/market/money.hpp"
#include "pipeline/market/text.hpp"

using namespace boomer::market;

namespace {

money must_parse(std::string_view text, std::string_view default_currency = {}) {
    auto r = parse_money(text, default_currency);
    INFO(text);
    REQUIRE(r);
    REQUIRE(r->has_value());
    return **r;
}

}  // namespace

TEST_CASE("money: symbols, prefixes and codes give the currency", "[market]") {
    struct example {
        std::string_view text;
        std::int64_t minor;
        std::string_view currency;
    };
    const example examples[] = {
        {"$36.00", 3600, "USD"},
        {"$1,500.00", 150000, "USD"},
        {"£19.99", 1999, "GBP"},
        {"AU $3,000.00", 300000, "AUD"},
        {"EUR 90,00", 9000, "EUR"},
        {"1 234,50 €", 123450, "EUR"},
        {"1\xC2\xA0"
         "234,50\xC2\xA0€",
         123450, "EUR"},
        {"1\xE2\x80\xAF"
         "234,50 €",
         123450, "EUR"},
        {"US $12.5", 1250, "USD"},
        {"C $7.00", 700, "CAD"},
        {"34.00 USD", 3400, "USD"},
        {"¥1,500", 1500, "JPY"},
        {"  $0.99  ", 99, "USD"},
        {"1.234,56 EUR", 123456, "EUR"},
    };
    for (const auto& e : examples) {
        money m = must_parse(e.text);
        INFO(e.text);
        CHECK(m.minor == e.minor);
        CHECK(m.currency == e.currency);
    }
}

TEST_CASE("money: bare numbers take the default currency", "[market]") {
    CHECK(must_parse("34.00", "USD").minor == 3400);
    CHECK(must_parse("34.00", "USD").currency == "USD");
    CHECK(must_parse("110", "USD").minor == 11000);
    CHECK(must_parse("1,500", "USD").minor == 150000);
    CHECK(must_parse("10.25", "").currency.empty());
    CHECK(must_parse("$5", "AUD").currency == "AUD");  // a bare $ on an AU file
    CHECK(must_parse("$5", "EUR").currency == "USD");
}

TEST_CASE("money: negative amounts", "[market]") {
    CHECK(must_parse("-0.3", "USD").minor == -30);
    CHECK(must_parse("-$5.00").minor == -500);
    CHECK(must_parse("$-5.00").minor == -500);
    CHECK(must_parse("($5.00)").minor == -500);
}

TEST_CASE("money: blanks and dashes are no value, garbage is an error", "[market]") {
    for (std::string_view none : {"", "   ", "--", "-", "n/a", "N/A"}) {
        auto r = parse_money(none);
        INFO(none);
        REQUIRE(r);
        CHECK_FALSE(r->has_value());
    }
    for (std::string_view bad :
         {"twelve", "$", "12 pcs", "1,5,00", "1.2.3,4,5", "12345678901234", "5.00-", "$5 €"}) {
        auto r = parse_money(bad);
        INFO(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "not_money");
    }
}

TEST_CASE("money: format_money writes code and plain decimals", "[market]") {
    CHECK(format_money(150000, "USD") == "USD 1500.00");
    CHECK(format_money(-30, "USD") == "USD -0.30");
    CHECK(format_money(1500, "JPY") == "JPY 1500");
}

TEST_CASE("dates: every export format gives the same calendar day", "[market]") {
    struct example {
        std::string_view text;
        std::string_view iso;
    };
    const example examples[] = {
        {"Sep-25-23", "2023-09-25"},          {"25-May-22", "2022-05-25"},
        {"26-May-26", "2026-05-26"},          {"Dec 27, 2023", "2023-12-27"},
        {"09/06/26", "2026-09-06"},           {"12/27/2024", "2024-12-27"},
        {"2023-06-21", "2023-06-21"},         {"2023-06-21T10:00:00Z", "2023-06-21"},
        {"Sep-30-26 23:45:00", "2026-09-30"}, {"Sep-30-26 23:45:00 PDT", "2026-09-30"},
        {"05-oct.-26", "2026-10-05"},         {"12-déc.-25", "2025-12-12"},
        {"26-Mär-26", "2026-03-26"},          {"26-MÄR-26", "2026-03-26"},
        {"01-Mai-26", "2026-05-01"},          {"15-Okt-26", "2026-10-15"},
        {"24-Dez-26", "2026-12-24"},          {"03-févr.-26", "2026-02-03"},
        {"14-juil.-26", "2026-07-14"},        {"05.10.2026", "2026-10-05"},
        {"Sept-01-26", "2026-09-01"},         {"29-Feb-24", "2024-02-29"},
        {"March 3, 2026", "2026-03-03"},
    };
    for (const auto& e : examples) {
        INFO(e.text);
        auto iso = parse_date_iso(e.text);
        REQUIRE(iso);
        CHECK(*iso == e.iso);
    }
}

TEST_CASE("dates: day-first numeric order when asked", "[market]") {
    CHECK(parse_date_iso("09/06/26", numeric_order::day_first) == "2026-06-09");
}

TEST_CASE("dates: impossible or ambiguous dates are refused", "[market]") {
    for (std::string_view bad :
         {"", "Apr-31-26", "29-Feb-23", "13/01/26", "jui-05-26", "Smarch-05-26", "2026-13-01",
          "05-10", "1st May 2026", "Sep-25-123", "0/0/0", "--"}) {
        INFO(bad);
        CHECK_FALSE(parse_date(bad).has_value());
    }
}

TEST_CASE("dates: days since the epoch round-trip", "[market]") {
    CHECK(days_from_civil({1970, 1, 1}) == 0);
    CHECK(days_from_civil({2000, 3, 1}) == 11017);
    CHECK(days_from_iso("2026-03-14") == days_from_civil({2026, 3, 14}));
    CHECK_FALSE(days_from_iso("2026-3-14").has_value());
    for (std::int64_t d = -800000; d < 800000; d += 997) {
        civil_date c = civil_from_days(d);
        REQUIRE(days_from_civil(c) == d);
    }
}

TEST_CASE("gtin: UPC-A, EAN-13, GTIN-14 and ISBN-10 share one canonical form", "[market]") {
    CHECK(canonical_gtin("036000291452") == "0036000291452");
    CHECK(canonical_gtin("0036000291452") == "0036000291452");
    CHECK(canonical_gtin("00036000291452") == "0036000291452");
    CHECK(canonical_gtin("0-14-001399-7") == "9780140013993");  // ISBN-10, hyphenated
    CHECK(canonical_gtin("0-14-001399-8") == std::nullopt);     // wrong check digit
    CHECK(canonical_gtin("014001399X").has_value() == false);
    CHECK(canonical_gtin("0140449132") == "9780140449136");
    CHECK(canonical_gtin("8413000065504") == "8413000065504");
    CHECK(canonical_gtin("8413000065505") == std::nullopt);
    CHECK(canonical_gtin("96385074") == "96385074");  // EAN-8
    CHECK(canonical_gtin("080442957X") == "9780804429573");
}

TEST_CASE("gtin: codes are found in labels and titles", "[market]") {
    CHECK(find_gtins("BK-9780140013993") == std::vector<std::string>{"9780140013993"});
    CHECK(find_gtins("ISBN978-0-14-001399-3 paperback") ==
          std::vector<std::string>{"9780140013993"});
    CHECK(find_gtins("EAN8413000065504") == std::vector<std::string>{"8413000065504"});
    CHECK(find_gtins("Canon AE-1 Program 50mm f/1.8").empty());
    CHECK(find_gtins("UPC 036000291452 / 0036000291452") ==
          std::vector<std::string>{"0036000291452"});
}

TEST_CASE("text: UTF-8 helpers count code points and drop invalid bytes", "[market]") {
    CHECK(utf8_length("héllo") == 5);
    CHECK(utf8_length("東京都") == 3);
    CHECK(utf8_clean("ok\xFF\xC3(x\x01") == "ok(x");
    CHECK(fold_case("ÉTÉ Mär") == "été mär");
    CHECK(normalise_name("  Sales   record\xC2\xA0number ") == "sales record number");
    CHECK(word_tokens("Canon AE-1, O'Brien’s — Théière") ==
          std::vector<std::string>{"canon", "ae1", "obriens", "théière"});
}
