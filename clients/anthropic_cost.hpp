// What a Claude call costs: a price table keyed by model id (aliases and dated ids) and the cost
// of one call computed from its `usage`, in whole micro-dollars, with integer arithmetic only.
//
// Prices are held in micro-dollars per million tokens, which is the same number as "dollars per
// million tokens" scaled by 10^6, so every listed price is an exact integer and a call's exact
// cost is an integer number of pico-dollars; rounding happens once, at the end.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "pipeline/vision.hpp"

namespace boomer::clients {

// Prices of one model, each in micro-dollars per million tokens ($3 per MTok is 3'000'000).
struct model_price {
    std::int64_t input = 0;
    std::int64_t output = 0;
    std::int64_t cache_write_5m = 0;
    std::int64_t cache_write_1h = 0;
    std::int64_t cache_read = 0;

    // from_base applies the published multipliers to a base input price: 5-minute writes 1.25×,
    // 1-hour writes 2×, reads 0.1×. Precondition: input and output >= 0.
    static model_price from_base(std::int64_t input, std::int64_t output);
};

// What one call cost, in micro-dollars, by kind of token. Each part is rounded on its own (half
// up); `total` is the exact sum rounded once, so it may differ from the sum of the parts by a few
// micro-dollars when parts are fractional.
struct call_cost {
    std::int64_t input = 0;
    std::int64_t cache_write_5m = 0;
    std::int64_t cache_write_1h = 0;
    std::int64_t cache_read = 0;
    std::int64_t output = 0;
    std::int64_t total = 0;
};

// price_call computes the cost of a call from its usage. Cache writes use the 5-minute/1-hour
// split when usage carries it, else all of cache_creation_input_tokens at the 5-minute rate.
// Batch calls (`usage.service_tier == "batch"`, or `batch` set) cost half of everything.
// Negative token counts count as zero. Thread-safe (pure).
call_cost price_call(const model_price& price, const pipeline::vision_usage& usage,
                     bool batch = false);

// Model prices by id. Thread-safety: const member functions may be called concurrently; set()
// must not run concurrently with anything else.
class price_table {
public:
    // An empty table.
    price_table() = default;

    // with_defaults returns the prices published for the current Haiku, Sonnet and Opus class
    // models, under their aliases and their dated ids.
    static price_table with_defaults();

    // set adds or replaces the price of `model_id`.
    void set(std::string model_id, const model_price& price);

    // find returns the price of `model_id`. A dated id that is not listed ("...-20251001") falls
    // back to its alias (the id without the date). Empty when neither is known.
    std::optional<model_price> find(std::string_view model_id) const;

    // apply_overrides reads "model=input/output[/write5m/write1h/read];model2=..." in US dollars
    // per million tokens ("claude-sonnet-5=2/10", "x=0.25/1.25/0.3/0.5/0.03") and sets each
    // model; missing cache prices follow from_base(). Entries may be separated by ';' or ','.
    // Errors: "bad_price_table" with the offending entry, the table left unchanged.
    result<bool> apply_overrides(std::string_view spec);

    std::size_t size() const { return prices_.size(); }

private:
    std::map<std::string, model_price, std::less<>> prices_;
};

// parse_dollars_per_mtok reads a decimal dollar amount ("3", "0.8", "18.75") into micro-dollars
// per million tokens without floating point. Empty for anything else (signs, more than six
// decimals, more than nine integer digits). Thread-safe.
std::optional<std::int64_t> parse_dollars_per_mtok(std::string_view text);

// strip_date_suffix returns `model_id` without a trailing "-YYYYMMDD", or `model_id` unchanged.
std::string_view strip_date_suffix(std::string_view model_id);

}  // namespace boomer::clients
