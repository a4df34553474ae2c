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

namespace {

comp market_comp(std::int64_t price, bool sold, std::string sold_on = "2026-03-01",
                 std::string condition_id = "", std::string currency = "USD") {
    comp c = comps_of({price}, "title", sold_on, currency)[0];
    c.sold = sold;
    c.condition_id = std::move(condition_id);
    return c;
}

market_price_input market_of(std::vector<comp> comps, std::string condition = "") {
    market_price_input in;
    in.comps = std::move(comps);
    in.condition = std::move(condition);
    in.today = "2026-03-01";
    return in;
}

}  // namespace

TEST_CASE("pricing: sold and active comps are summarised apart, sold sets the price (golden)",
          "[market]") {
    // Sold 10, 12, 14 → median 12, p25 11, p75 13. Active 20, 22 → median 21.
    auto p = price_market(
        market_of({market_comp(2000, false), market_comp(1000, true), market_comp(1400, true),
                   market_comp(2200, false), market_comp(1200, true)}));
    REQUIRE(p.recommended);
    CHECK(p.recommended->basis == "sold_comps");
    CHECK(p.recommended->median_minor == 1200);
    CHECK(p.recommended->p25_minor == 1100);
    CHECK(p.recommended->p75_minor == 1300);
    CHECK(p.recommended->count == 3);
    REQUIRE(p.sold);
    CHECK(p.sold->median_minor == 1200);
    REQUIRE(p.active);
    CHECK(p.active->basis == "active_listings");
    CHECK(p.active->median_minor == 2100);
    CHECK(p.active->count == 2);
    // Sell-through: 3 sold in the window / (3 + 2 active).
    REQUIRE(p.sell_through_rate);
    CHECK(p.sell_through_rate->rate == Approx(0.6));
    CHECK(p.sell_through_rate->sold == 3);
    CHECK(p.sell_through_rate->active == 2);
    CHECK(p.sell_through_rate->window_days == 90);
    CHECK(p.sell_through_rate->definition.find("sold / (sold + active)") == 0);
}

TEST_CASE("pricing: sell-through counts only sales inside the window", "[market]") {
    // 2026-03-01 minus 90 days is 2025-12-01: that day is outside, the next one inside.
    auto p = price_market(
        market_of({market_comp(1000, true, "2025-12-01"), market_comp(1000, true, "2025-12-02"),
                   market_comp(1000, true, "not a date"), market_comp(1000, false)}));
    REQUIRE(p.sell_through_rate);
    CHECK(p.sell_through_rate->sold == 1);
    CHECK(p.sell_through_rate->rate == Approx(0.5));
    CHECK(p.sold->count == 3);  // the price still uses every sold comp
}

TEST_CASE("pricing: no active listings, no sell-through rate", "[market]") {
    auto p = price_market(market_of({market_comp(1000, true), market_comp(1200, true)}));
    CHECK_FALSE(p.sell_through_rate);
    CHECK_FALSE(p.active);
    REQUIRE(p.recommended);
    CHECK(p.recommended->median_minor == 1100);
}

TEST_CASE("pricing: comps of another condition group are left out", "[market]") {
    // A used item: the new (1000) and parts (7000) comps go; used 3000 and 5000 and the comp
    // without an id stay: 10, 20, 30 → median 20.
    auto comps = std::vector{market_comp(1000, true, "2026-03-01", "3000"),
                             market_comp(9000, true, "2026-03-01", "1000"),
                             market_comp(2000, true, "2026-03-01", "5000"),
                             market_comp(100, true, "2026-03-01", "7000"), market_comp(3000, true)};
    auto used = price_market(market_of(comps, "pre-owned, works"));
    CHECK(used.condition_mismatched == 2);
    CHECK(used.recommended->median_minor == 2000);
    CHECK(used.recommended->count == 3);

    // Condition text that is not understood keeps everything.
    auto unknown = price_market(market_of(comps, "as pictured"));
    CHECK(unknown.condition_mismatched == 0);
    CHECK(unknown.sold->count + unknown.sold->trimmed == 5);
}

TEST_CASE("pricing: one currency across sold and active", "[market]") {
    auto p = price_market(
        market_of({market_comp(1000, true, "2026-03-01", "", "GBP"), market_comp(2000, false),
                   market_comp(3000, true), market_comp(5000, true)}));
    CHECK(p.currency == "USD");
    CHECK(p.other_currency == 1);
    CHECK(p.recommended->median_minor == 4000);
    CHECK(p.active->currency == "USD");
}

TEST_CASE("pricing: only active listings price the item at half the confidence", "[market]") {
    auto p = price_market(
        market_of({market_comp(2000, false), market_comp(2000, false), market_comp(2000, false)}));
    REQUIRE(p.recommended);
    CHECK(p.recommended->basis == "active_listings");
    CHECK(p.recommended->median_minor == 2000);
    // 3 comps → 0.5; no spread; seen today; title score 0.8 → 0.8: 0.4, halved.
    CHECK(p.active->confidence == Approx(0.4));
    CHECK(p.recommended->confidence == Approx(0.2));
    REQUIRE(p.sell_through_rate);
    CHECK(p.sell_through_rate->rate == Approx(0.0));
}

TEST_CASE("pricing: without comps the vision model's estimate is used, marked as such",
          "[market]") {
    auto in = market_of({});
    in.vision_estimate = money{4500, "USD"};
    in.vision_confidence = 0.8;
    auto p = price_market(in);
    REQUIRE(p.recommended);
    CHECK(p.recommended->basis == "vision_estimate");
    CHECK(p.recommended->median_minor == 4500);
    CHECK(p.recommended->p25_minor == 4500);
    CHECK(p.recommended->p75_minor == 4500);
    CHECK(p.recommended->count == 0);
    CHECK(p.recommended->confidence == Approx(0.16));
    CHECK_FALSE(p.sold);
    CHECK_FALSE(p.active);

    // Comps win over the estimate; no estimate and no comps: no price.
    in.comps = {market_comp(1000, true)};
    CHECK(price_market(in).recommended->basis == "sold_comps");
    CHECK_FALSE(price_market(market_of({})).recommended);
}
