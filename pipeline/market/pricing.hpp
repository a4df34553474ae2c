// A price estimate from comps: shipping-inclusive prices in one currency, outliers trimmed with
// Tukey's fences, median with a p25–p75 band, and a stated confidence.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace boomer::market
