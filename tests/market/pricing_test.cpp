// Price estimates: golden cases worked out by hand (type-7 quantiles, Tukey fences), the
// currency rule and the confidence formula.
#include "pipeline/market/pricing.hpp"

#include <catch2/catch.hpp>

using namespace boomer::market;

namespace {

std::vector<comp> comps_of(std::vector<std::int64_t> prices, std::string match = "barcode",
                           std::string sold_on = "2026-03-01", std::string currency = "USD") {
    std::vector<comp> out;
    for (auto p : prices) {
        comp c;
        c.price_minor = p;
        c.item_price_minor = p;
        c.currency = currency;
        c.sold_on = sold_on;
        c.match = match;
        c.score = match == "barcode" ? 1.0 : 0.8;
        out.push_back(c);
    }
    return out;
}

price_estimate estimate(std::vector<comp> comps, std::string_view today = "2026-03-01") {
    auto e = estimate_price(std::move(comps), today);
    REQUIRE(e);
    return *e;
}

}  // namespace

TEST_CASE("pricing: no comps, no estimate", "[market]") {
    CHECK_FALSE(estimate_price({}, "2026-03-01").has_value());
}

TEST_CASE("pricing: one high outlier is trimmed (golden)", "[market]") {
    // Sorted 10, 12, 13, 14, 15, 100 (dollars). Q1 at 1.25 → 12.25, Q3 at 3.75 → 14.75,
    // IQR 2.50, fences 8.50 and 18.50: 100 goes. Left 10..15: median 13, p25 12, p75 14.
    auto e = estimate(comps_of({1500, 10000, 1000, 1300, 1200, 1400}));
    CHECK(e.trimmed == 1);
    CHECK(e.count == 5);
    CHECK(e.median_minor == 1300);
    CHECK(e.p25_minor == 1200);
    CHECK(e.p75_minor == 1400);
    CHECK(e.currency == "USD");
    CHECK(e.basis == "own_sales");
}

TEST_CASE("pricing: fewer than four comps are never trimmed (golden)", "[market]") {
    // 10, 11, 90: median 11, p25 at 0.5 → 10.50, p75 at 1.5 → 50.50.
    auto e = estimate(comps_of({1000, 1100, 9000}));
    CHECK(e.trimmed == 0);
    CHECK(e.count == 3);
    CHECK(e.median_minor == 1100);
    CHECK(e.p25_minor == 1050);
    CHECK(e.p75_minor == 5050);
}

TEST_CASE("pricing: even count interpolates the median (golden)", "[market]") {
    // 10, 20, 30, 40: Q1 at 0.75 → 17.50, median at 1.5 → 25, Q3 at 2.25 → 32.50; fences
    // -5 and 55 keep everything.
    auto e = estimate(comps_of({4000, 3000, 2000, 1000}));
    CHECK(e.trimmed == 0);
    CHECK(e.median_minor == 2500);
    CHECK(e.p25_minor == 1750);
    CHECK(e.p75_minor == 3250);
}

TEST_CASE("pricing: a value exactly on the fence is kept, just beyond it is trimmed", "[market]") {
    // 10, 20, 30, 40, x: Q1 20, Q3 40, IQR 20, upper fence 70.
    CHECK(estimate(comps_of({1000, 2000, 3000, 4000, 7000})).trimmed == 0);
    CHECK(estimate(comps_of({1000, 2000, 3000, 4000, 7001})).trimmed == 1);
    // Lower side: 40, 50, 60, 70, 80 with 10 → Q1 at 1.25 → 42.50, Q3 at 3.75 → 67.50,
    // IQR 25, lower fence 5: 10 stays; with 4 it goes.
    CHECK(estimate(comps_of({1000, 4000, 5000, 6000, 7000, 8000})).trimmed == 0);
    CHECK(estimate(comps_of({400, 4000, 5000, 6000, 7000, 8000})).trimmed == 1);
}

TEST_CASE("pricing: quantiles are rounded half up to the minor unit", "[market]") {
    // 10.01, 10.02: median 10.015 → 10.02, p25 10.0125 → 10.01, p75 10.0175 → 10.02.
    auto e = estimate(comps_of({1001, 1002}));
    CHECK(e.median_minor == 1002);
    CHECK(e.p25_minor == 1001);
    CHECK(e.p75_minor == 1002);
}

TEST_CASE("pricing: all identical values trim what differs", "[market]") {
    // IQR 0: the fences sit on the common value.
    auto e = estimate(comps_of({500, 500, 500, 500, 500, 900}));
    CHECK(e.trimmed == 1);
    CHECK(e.median_minor == 500);
    CHECK(e.p25_minor == 500);
    CHECK(e.p75_minor == 500);
}

TEST_CASE("pricing: only the most common currency is used, the rest counted", "[market]") {
    auto comps = comps_of({1000, 2000}, "barcode", "2026-03-01", "EUR");
    for (auto& c : comps_of({3000, 4000, 5000})) {
        comps.push_back(c);
    }
    auto e = estimate(comps);
    CHECK(e.currency == "USD");
    CHECK(e.other_currency == 2);
    CHECK(e.count == 3);
    CHECK(e.median_minor == 4000);

    // A tie goes to the currency of the first (best-ranked) comp.
    auto tie = comps_of({1000}, "barcode", "2026-03-01", "GBP");
    tie.push_back(comps_of({2000})[0]);
    CHECK(estimate(tie).currency == "GBP");
}

TEST_CASE("pricing: newest sale date among the comps used", "[market]") {
    auto comps = comps_of({1000, 1100}, "barcode", "2026-01-05");
    comps.push_back(comps_of({1050}, "barcode", "2026-02-10")[0]);
    comps.push_back(comps_of({99999}, "barcode", "2026-03-01")[0]);  // trimmed: not counted
    auto e = estimate(comps, "2026-03-01");
    CHECK(e.trimmed == 1);
    CHECK(e.newest_sold_on == "2026-02-10");
}

TEST_CASE("pricing: confidence follows the documented formula", "[market]") {
    // 5 identical barcode comps sold today: 5/8 × 1 × 1 × 1.
    CHECK(estimate(comps_of({1000, 1000, 1000, 1000, 1000})).confidence == Approx(0.625));
    // Newest 180 days old: recency 0.4 + 0.6 × 0.5 = 0.7.
    auto old = comps_of({1000, 1000, 1000, 1000, 1000}, "barcode", "2025-09-02");
    CHECK(estimate(old, "2026-03-01").confidence == Approx(0.625 * 0.7));
    // Title matches with score 0.8 weigh 0.4 + 0.5 × 0.8 = 0.8.
    auto by_title = comps_of({1000, 1000, 1000, 1000, 1000}, "title");
    CHECK(estimate(by_title).confidence == Approx(0.625 * 0.8));
    // Spread: 10, 20, 30 → p25 15, p75 25, median 20 → 1 / (1 + 0.5); count 3 → 0.5.
    CHECK(estimate(comps_of({1000, 2000, 3000})).confidence == Approx(0.5 / 1.5));
    // An unreadable date gives the floor recency 0.4.
    CHECK(estimate(comps_of({1000}), "not a date").confidence == Approx(0.25 * 0.4));
}

TEST_CASE("pricing: more agreeing comps raise confidence, wider spread lowers it", "[market]") {
    double few = estimate(comps_of({1000, 1000, 1000})).confidence;
    double many = estimate(comps_of({1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000})).confidence;
    double wide = estimate(comps_of({500, 1000, 1500, 2000, 2500, 3000, 3500, 4000})).confidence;
    CHECK(many > few);
    CHECK(wide < many);
    CHECK(many <= 1.0);
    CHECK(wide > 0.0);
}
