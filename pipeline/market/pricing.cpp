// Price estimation from comps (see pricing.hpp).
#include "pipeline/market/pricing.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "pipeline/market/condition.hpp"
#include "pipeline/market/dates.hpp"

namespace boomer::market {

namespace {

// Floor division for a positive divisor.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Four times the type-7 quantile at p = quarters / 4 of sorted `x` (exact in integers).
std::int64_t quantile_x4(const std::vector<std::int64_t>& x, int quarters) {
    std::int64_t position_x4 = static_cast<std::int64_t>(x.size() - 1) * quarters;
    auto k = static_cast<std::size_t>(position_x4 / 4);
    std::int64_t fraction_x4 = position_x4 % 4;
    std::int64_t value = 4 * x[k];
    if (fraction_x4 > 0) {
        value += fraction_x4 * (x[k + 1] - x[k]);
    }
    return value;
}

std::int64_t quantile(const std::vector<std::int64_t>& x, int quarters) {
    return floor_div(quantile_x4(x, quarters) + 2, 4);  // value / 4, rounded half up
}

// The currency most comps share; ties go to the one that appears first.
std::string main_currency(const std::vector<comp>& comps) {
    std::map<std::string, int> counts;
    for (const auto& c : comps) {
        ++counts[c.currency];
    }
    std::string best = comps.front().currency;
    for (const auto& c : comps) {
        if (counts[c.currency] > counts[best]) {
            best = c.currency;
        }
    }
    return best;
}

// Drops values outside Tukey's fences (1.5 × IQR), compared exactly in eighths.
std::vector<comp> trim_outliers(std::vector<comp> sorted) {
    if (sorted.size() < 4) {
        return sorted;
    }
    std::vector<std::int64_t> x;
    for (const auto& c : sorted) {
        x.push_back(c.price_minor);
    }
    std::int64_t q1_x4 = quantile_x4(x, 1);
    std::int64_t q3_x4 = quantile_x4(x, 3);
    std::int64_t iqr_x4 = q3_x4 - q1_x4;
    std::int64_t low_x8 = 2 * q1_x4 - 3 * iqr_x4;
    std::int64_t high_x8 = 2 * q3_x4 + 3 * iqr_x4;
    std::vector<comp> kept;
    for (auto& c : sorted) {
        if (8 * c.price_minor >= low_x8 && 8 * c.price_minor <= high_x8) {
            kept.push_back(std::move(c));
        }
    }
    return kept;
}

double match_factor(const std::vector<comp>& used) {
    double sum = 0;
    for (const auto& c : used) {
        if (c.match == "barcode") {
            sum += 1.0;
        } else if (c.match == "title") {
            sum += 0.4 + 0.5 * std::clamp(c.score, 0.0, 1.0);
        } else {
            sum += 0.5;
        }
    }
    return sum / static_cast<double>(used.size());
}

double recency_factor(const std::string& newest, std::string_view today) {
    auto newest_days = days_from_iso(newest);
    auto today_days = days_from_iso(today);
    if (!newest_days || !today_days) {
        return 0.4;
    }
    double age = static_cast<double>(std::max<std::int64_t>(0, *today_days - *newest_days));
    return 0.4 + 0.6 * std::exp2(-age / 180.0);
}

}  // namespace

std::optional<price_estimate> estimate_price(std::vector<comp> comps,
                                             std::string_view today_yyyy_mm_dd) {
    if (comps.empty()) {
        return std::nullopt;
    }
    price_estimate est;
    est.currency = main_currency(comps);
    std::vector<comp> same;
    for (auto& c : comps) {
        if (c.currency == est.currency) {
            same.push_back(std::move(c));
        } else {
            ++est.other_currency;
        }
    }
    std::stable_sort(same.begin(), same.end(),
                     [](const comp& a, const comp& b) { return a.price_minor < b.price_minor; });
    std::size_t before = same.size();
    std::vector<comp> used = trim_outliers(std::move(same));
    est.trimmed = static_cast<int>(before - used.size());
    est.count = static_cast<int>(used.size());

    std::vector<std::int64_t> x;
    for (const auto& c : used) {
        x.push_back(c.price_minor);
        est.newest_sold_on = std::max(est.newest_sold_on, c.sold_on);
    }
    est.median_minor = quantile(x, 2);
    est.p25_minor = quantile(x, 1);
    est.p75_minor = quantile(x, 3);

    double n = static_cast<double>(used.size());
    double c_count = n / (n + 3.0);
    double c_spread = est.median_minor > 0
                          ? 1.0 / (1.0 + static_cast<double>(est.p75_minor - est.p25_minor) /
                                             static_cast<double>(est.median_minor))
                          : 0.5;
    double c_recency = recency_factor(est.newest_sold_on, today_yyyy_mm_dd);
    est.confidence = std::clamp(c_count * c_spread * c_recency * match_factor(used), 0.0, 1.0);
    return est;
}

}  // namespace boomer::market

namespace boomer::market {
namespace {

// The group of an eBay condition id written as text; unknown when it is not a number.
condition_group group_of_id(const std::string& id) {
    if (id.empty() || id.size() > 6 ||
        !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return condition_group::unknown;
    }
    return group_of(ebay_condition{std::stoi(id), ""});
}

// Keeps the comps in `currency` and of the item's condition group, counting the others.
std::vector<comp> comparable(std::vector<comp> comps, condition_group item, market_price& out) {
    std::vector<comp> kept;
    for (auto& c : comps) {
        if (c.currency != out.currency) {
            ++out.other_currency;
            continue;
        }
        auto g = group_of_id(c.condition_id);
        if (item != condition_group::unknown && g != condition_group::unknown && g != item) {
            ++out.condition_mismatched;
            continue;
        }
        kept.push_back(std::move(c));
    }
    return kept;
}

std::optional<sell_through> sell_through_of(const std::vector<comp>& sold, int active,
                                            const market_price_input& in) {
    if (active == 0) {
        return std::nullopt;
    }
    sell_through st;
    st.active = active;
    st.window_days = in.window_days;
    auto today = days_from_iso(in.today);
    for (const auto& c : sold) {
        auto day = days_from_iso(c.sold_on);
        if (today && day && *day <= *today && *today - *day < in.window_days) {
            ++st.sold;
        }
    }
    st.rate = static_cast<double>(st.sold) / static_cast<double>(st.sold + st.active);
    return st;
}

price_estimate from_vision(const money& guess, double confidence, const std::string& currency) {
    price_estimate e;
    e.median_minor = e.p25_minor = e.p75_minor = guess.minor;
    e.currency = guess.currency.empty() ? currency : guess.currency;
    e.confidence = 0.2 * std::clamp(confidence, 0.0, 1.0);
    e.basis = "vision_estimate";
    return e;
}

}  // namespace

market_price price_market(market_price_input in) {
    market_price out;
    out.currency = in.comps.empty() ? std::string("USD") : main_currency(in.comps);
    auto item = condition_group::unknown;
    if (auto m = map_condition(in.condition); m.recognised) {
        item = group_of(m.condition);
    }
    std::vector<comp> sold;
    std::vector<comp> active;
    for (auto& c : comparable(std::move(in.comps), item, out)) {
        (c.sold ? sold : active).push_back(std::move(c));
    }

    out.sell_through_rate = sell_through_of(sold, static_cast<int>(active.size()), in);
    out.sold = estimate_price(std::move(sold), in.today);
    out.active = estimate_price(std::move(active), in.today);
    if (out.sold) {
        out.sold->basis = "sold_comps";
        out.recommended = out.sold;
    }
    if (out.active) {
        out.active->basis = "active_listings";
        if (!out.recommended) {
            out.recommended = out.active;
            out.recommended->confidence *= 0.5;
        }
    }
    if (!out.recommended && in.vision_estimate && in.vision_estimate->minor > 0) {
        out.recommended = from_vision(*in.vision_estimate, in.vision_confidence, out.currency);
    }
    return out;
}

}  // namespace boomer::market
