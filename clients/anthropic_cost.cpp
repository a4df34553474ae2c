// The price table and the cost of one call, in integers.
#include "clients/anthropic_cost.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace boomer::clients {
namespace {

constexpr std::int64_t dollar = 1'000'000;  // one dollar per MTok, in micro-dollars per MTok

// One row of the default table: the model's ids and its prices in micro-dollars per MTok.
struct default_row {
    std::array<std::string_view, 3> ids;  // alias first; unused slots empty
    model_price price;
};

std::vector<default_row> default_rows() {
    return {
        {{"claude-haiku-4-5", "claude-haiku-4-5-20251001", ""},
         model_price::from_base(1 * dollar, 5 * dollar)},
        {{"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", ""},
         model_price::from_base(3 * dollar, 15 * dollar)},
        {{"claude-sonnet-4-6", "", ""}, model_price::from_base(3 * dollar, 15 * dollar)},
        {{"claude-sonnet-4-0", "claude-sonnet-4-20250514", ""},
         model_price::from_base(3 * dollar, 15 * dollar)},
        {{"claude-opus-4-5", "claude-opus-4-5-20251101", ""},
         model_price::from_base(5 * dollar, 25 * dollar)},
        {{"claude-opus-4-6", "", ""}, model_price::from_base(5 * dollar, 25 * dollar)},
        {{"claude-opus-4-7", "", ""}, model_price::from_base(5 * dollar, 25 * dollar)},
        {{"claude-opus-4-8", "", ""}, model_price::from_base(5 * dollar, 25 * dollar)},
        {{"claude-opus-4-1", "claude-opus-4-1-20250805", ""},
         model_price::from_base(15 * dollar, 75 * dollar)},
        {{"claude-opus-4-0", "claude-opus-4-20250514", ""},
         model_price::from_base(15 * dollar, 75 * dollar)},
        // Haiku 3's published cache prices are not the usual multiples of its input price.
        {{"claude-3-haiku-20240307", "", ""},
         model_price{250'000, 1'250'000, 300'000, 500'000, 30'000}},
    };
}

std::int64_t non_negative(std::int64_t n) {
    return std::max<std::int64_t>(n, 0);
}

// Rounds num / den half up; num >= 0, den > 0.
std::int64_t round_div(std::int64_t num, std::int64_t den) {
    return (num + den / 2) / den;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

std::vector<std::string_view> split(std::string_view s, std::string_view separators) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || separators.find(s[i]) != std::string_view::npos) {
            parts.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    return parts;
}

// Reads "model=in/out[/w5/w1h/read]"; empty on any error.
std::optional<std::pair<std::string, model_price>> parse_entry(std::string_view entry) {
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) {
        return std::nullopt;
    }
    auto id = trim(entry.substr(0, eq));
    auto fields = split(entry.substr(eq + 1), "/");
    if (id.empty() || (fields.size() != 2 && fields.size() != 5)) {
        return std::nullopt;
    }
    std::vector<std::int64_t> values;
    for (auto field : fields) {
        auto v = parse_dollars_per_mtok(trim(field));
        if (!v) {
            return std::nullopt;
        }
        values.push_back(*v);
    }
    auto price = model_price::from_base(values[0], values[1]);
    if (values.size() == 5) {
        price.cache_write_5m = values[2];
        price.cache_write_1h = values[3];
        price.cache_read = values[4];
    }
    return std::make_pair(std::string(id), price);
}

}  // namespace

model_price model_price::from_base(std::int64_t input, std::int64_t output) {
    // Every listed base price is a multiple of 10 micro-dollars per MTok, so these are exact.
    return model_price{input, output, input * 5 / 4, input * 2, input / 10};
}

call_cost price_call(const model_price& price, const pipeline::vision_usage& usage, bool batch) {
    std::int64_t write_5m = non_negative(usage.cache_creation_input_tokens);
    std::int64_t write_1h = 0;
    if (usage.has_cache_creation_split) {
        write_5m = non_negative(usage.cache_creation_5m_tokens);
        write_1h = non_negative(usage.cache_creation_1h_tokens);
    }

    // Exact parts in pico-dollars: tokens × micro-dollars per million tokens.
    std::array<std::int64_t, 5> pico = {
        non_negative(usage.input_tokens) * price.input,
        write_5m * price.cache_write_5m,
        write_1h * price.cache_write_1h,
        non_negative(usage.cache_read_input_tokens) * price.cache_read,
        non_negative(usage.output_tokens) * price.output,
    };
    bool half = batch || usage.service_tier == "batch";
    std::int64_t den = half ? 2'000'000 : 1'000'000;

    call_cost cost;
    cost.input = round_div(pico[0], den);
    cost.cache_write_5m = round_div(pico[1], den);
    cost.cache_write_1h = round_div(pico[2], den);
    cost.cache_read = round_div(pico[3], den);
    cost.output = round_div(pico[4], den);
    std::int64_t sum = 0;
    for (auto p : pico) {
        sum += p;
    }
    cost.total = round_div(sum, den);
    return cost;
}

price_table price_table::with_defaults() {
    price_table table;
    for (const auto& row : default_rows()) {
        for (auto id : row.ids) {
            if (!id.empty()) {
                table.set(std::string(id), row.price);
            }
        }
    }
    return table;
}

void price_table::set(std::string model_id, const model_price& price) {
    prices_[std::move(model_id)] = price;
}

std::optional<model_price> price_table::find(std::string_view model_id) const {
    if (auto it = prices_.find(model_id); it != prices_.end()) {
        return it->second;
    }
    auto alias = strip_date_suffix(model_id);
    if (alias.size() != model_id.size()) {
        if (auto it = prices_.find(alias); it != prices_.end()) {
            return it->second;
        }
    }
    return std::nullopt;
}

result<bool> price_table::apply_overrides(std::string_view spec) {
    std::vector<std::pair<std::string, model_price>> parsed;
    for (auto entry : split(spec, ";,")) {
        if (trim(entry).empty()) {
            continue;
        }
        auto row = parse_entry(entry);
        if (!row) {
            return fail("bad_price_table",
                        "The price entry \"" + std::string(trim(entry)) +
                            "\" is not of the form model=input/output[/write5m/write1h/read] in "
                            "US dollars per million tokens.");
        }
        parsed.push_back(std::move(*row));
    }
    for (auto& [id, price] : parsed) {
        set(std::move(id), price);
    }
    return true;
}

std::optional<std::int64_t> parse_dollars_per_mtok(std::string_view text) {
    auto dot = text.find('.');
    auto whole = text.substr(0, dot);
    auto frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    auto all_digits = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (whole.empty() || whole.size() > 9 || frac.size() > 6 || !all_digits(whole) ||
        !all_digits(frac) || (dot != std::string_view::npos && frac.empty())) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (char c : whole) {
        value = value * 10 + (c - '0');
    }
    std::int64_t scale = dollar;
    for (char c : frac) {
        scale /= 10;
        value = value * 10 + (c - '0');
    }
    return value * scale;
}

std::string_view strip_date_suffix(std::string_view model_id) {
    constexpr std::size_t suffix = 9;  // "-YYYYMMDD"
    if (model_id.size() <= suffix || model_id[model_id.size() - suffix] != '-') {
        return model_id;
    }
    auto date = model_id.substr(model_id.size() - 8);
    bool digits =
        std::all_of(date.begin(), date.end(), [](char c) { return c >= '0' && c <= '9'; });
    return digits ? model_id.substr(0, model_id.size() - suffix) : model_id;
}

}  // namespace boomer::clients
