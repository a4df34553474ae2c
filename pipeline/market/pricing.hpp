// A price estimate from comps: shipping-inclusive prices in one currency, outliers trimmed with
// Tukey's fences, median with a p25–p75 band, and a stated confidence; and the market picture
// around it: sold and active comps summarised apart, comps of another condition left out, the
// sell-through rate, and the fall-back to the vision model's own guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/market/money.hpp"
#include "pipeline/market/sales_history.hpp"

namespace boomer::market {

struct price_estimate {
    std::int64_t median_minor = 0;
    std::int64_t p25_minor = 0;
    std::int64_t p75_minor = 0;
    std::string currency;
    int count = 0;           // comps used (after trimming)
    int trimmed = 0;         // comps dropped as outliers
    int other_currency = 0;  // comps dropped because they were in another currency
    double confidence = 0;   // 0..1, see estimate_price
    std::string basis = "own_sales";
    std::string newest_sold_on;  // YYYY-MM-DD of the newest comp used; empty if none had a date
};

// estimate_price summarises comps into a price. Returns std::nullopt when `comps` is empty.
//
// Prices are comp::price_minor (item + shipping per unit). Only the most common currency is
// kept (ties go to the currency of the earliest comp in `comps`, i.e. the best-ranked one);
// the rest are counted in other_currency. With 4 or more comps, values outside
// [Q1 − 1.5·IQR, Q3 + 1.5·IQR] are trimmed; fewer comps are never trimmed. Quantiles use
// linear interpolation between order statistics (Hyndman & Fan type 7, as numpy's default
// and Excel's QUARTILE.INC): for sorted x[0..n-1], Q(p) = x[k] + f·(x[k+1] − x[k]) with
// k + f = (n − 1)·p. The fences are compared exactly (integer arithmetic); reported quantiles
// are rounded half up to the minor unit.
//
// confidence = c_count × c_spread × c_recency × c_match, each in (0, 1]:
//   c_count   = n / (n + 3)                        (1 comp 0.25, 3 → 0.5, 12 → 0.8)
//   c_spread  = 1 / (1 + (p75 − p25) / median)     (0.5 when the median is not positive)
//   c_recency = 0.4 + 0.6 × 2^(−age / 180)         (age in days of the newest comp used,
//                                                   relative to `today`; 0.4 when unknown)
//   c_match   = mean over used comps of 1.0 for a barcode match, 0.4 + 0.5 × min(score, 1)
//               for a title match, 0.5 otherwise.
// `today` is "YYYY-MM-DD". Thread-safe.
std::optional<price_estimate> estimate_price(std::vector<comp> comps,
                                             std::string_view today_yyyy_mm_dd);

// The sell-through rate's definition, stated with every rate (several are in use).
inline constexpr std::string_view sell_through_definition =
    "sold / (sold + active): sold comps dated within the window divided by those plus the "
    "active listings found";

struct sell_through {
    double rate = 0;      // 0..1
    int sold = 0;         // sold comps dated within the window
    int active = 0;       // active listings found
    int window_days = 0;  // the window, ending today
    std::string definition = std::string(sell_through_definition);
};

struct market_price_input {
    std::vector<comp> comps;  // sold and active comps from every source
    std::string condition;    // the item's condition text; empty: every condition matches
    std::string today;        // YYYY-MM-DD
    int window_days = 90;     // for the sell-through rate
    std::optional<money> vision_estimate;  // the vision model's own guess, when it made one
    double vision_confidence = 0;          // the identification's confidence, 0..1
};

struct market_price {
    // The price to list at. basis "sold_comps" (from `sold`), "active_listings" (from `active`
    // when nothing sold; confidence halved, asking prices overstate value) or "vision_estimate"
    // (no comps at all; median = p25 = p75 = the model's guess, count 0, confidence
    // 0.2 × the identification's confidence). Empty when there is nothing to go on.
    std::optional<price_estimate> recommended;
    std::optional<price_estimate> sold;    // sold comps (evidence of value), basis "sold_comps"
    std::optional<price_estimate> active;  // active listings (the competition), "active_listings"
    std::optional<sell_through> sell_through_rate;  // empty without active listings
    std::string currency;                           // the one currency compared
    int other_currency = 0;                         // comps dropped for another currency
    int condition_mismatched = 0;                   // comps dropped for another condition group
};

// price_market summarises comps for an item.
//
// The currency is the most common among all comps (ties: the earlier comp's); comps in other
// currencies are dropped (no conversion). A comp with an eBay condition id whose group
// (condition.hpp: new, used, parts) differs from the item's is dropped; comps without an id, and
// every comp when the item's condition text is not understood, are kept. Sold and active comps
// then go through estimate_price separately. The sell-through rate needs at least one active
// listing (without one, a source that lists no active items cannot be told from a market where
// everything sold); sold comps count when dated within window_days before today. Thread-safe.
market_price price_market(market_price_input input);

}  // namespace boomer::market
