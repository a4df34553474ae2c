// Money parsing (see money.hpp).
#include "pipeline/market/money.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <utility>

#include "pipeline/market/text.hpp"

namespace boomer::market {

namespace {

struct symbol_entry {
    std::string_view text;  // upper-cased, without spaces
    std::string_view code;
};

// "$" is handled separately because its meaning depends on the site.
constexpr std::array<symbol_entry, 16> symbols{{
    {"US$", "USD"},
    {"AU$", "AUD"},
    {"A$", "AUD"},
    {"C$", "CAD"},
    {"CA$", "CAD"},
    {"CAN$", "CAD"},
    {"NZ$", "NZD"},
    {"HK$", "HKD"},
    {"S$", "SGD"},
    {"£", "GBP"},
    {"€", "EUR"},
    {"¥", "JPY"},
    {"円", "JPY"},
    {"NT$", "TWD"},
    {"R$", "BRL"},
    {"₹", "INR"},
}};

bool is_dollar(std::string_view code) {
    return code == "USD" || code == "AUD" || code == "CAD" || code == "NZD" || code == "HKD" ||
           code == "SGD";
}

// Upper-cases ASCII and drops spaces (including no-break spaces) so "AU $" becomes "AU$".
std::string squeeze_upper(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.substr(i, 2) == "\xC2\xA0") {
            ++i;
            continue;
        }
        char c = text[i];
        if (c == ' ' || c == '\t') {
            continue;
        }
        out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    }
    return out;
}

// The ISO code that a symbol or code text names; empty when it names none.
std::string currency_of(std::string_view affix, std::string_view default_currency) {
    std::string key = squeeze_upper(affix);
    if (key == "$") {
        return is_dollar(default_currency) ? std::string(default_currency) : "USD";
    }
    for (const auto& entry : symbols) {
        if (entry.text == key) {
            return std::string(entry.code);
        }
    }
    static constexpr std::array<std::string_view, 32> codes{
        "USD", "EUR", "GBP", "AUD", "CAD", "NZD", "JPY", "CHF", "SEK", "NOK", "DKK",
        "PLN", "CZK", "HUF", "HKD", "SGD", "CNY", "INR", "BRL", "MXN", "ZAR", "KRW",
        "TWD", "ILS", "TRY", "RON", "BGN", "ISK", "CLP", "VND", "UGX", "AED"};
    for (auto code : codes) {
        if (code == key) {
            return key;
        }
    }
    return {};
}

constexpr char group_mark = 'g';

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Reads the number core (digits and separators only) into minor units.
std::optional<std::int64_t> read_number(std::string_view core, int minor_digits) {
    std::string digits;  // digits with a single '.' marking the decimal separator
    std::size_t last_dot = core.rfind('.');
    std::size_t last_comma = core.rfind(',');
    std::size_t dots = 0;
    std::size_t commas = 0;
    for (char c : core) {
        dots += c == '.' ? 1 : 0;
        commas += c == ',' ? 1 : 0;
    }

    // Decide which separator, if any, is the decimal one.
    std::size_t decimal_at = std::string_view::npos;
    if (dots > 0 && commas > 0) {
        decimal_at = std::max(last_dot, last_comma);
    } else if (dots + commas == 1) {
        std::size_t at = dots == 1 ? last_dot : last_comma;
        std::size_t after = core.size() - at - 1;
        bool leading_zero = core.substr(0, at) == "0";
        if (after != 3 || leading_zero) {
            decimal_at = at;
        }
    }
    if (decimal_at != std::string_view::npos &&
        core.find_first_of(".,", decimal_at + 1) != std::string_view::npos) {
        return std::nullopt;
    }

    // Integer part: groups after a separator must have exactly three digits.
    std::string_view whole = core.substr(0, decimal_at);
    std::string int_digits;
    std::size_t group = 0;
    bool grouped = false;
    for (char c : whole) {
        if (is_digit(c)) {
            int_digits += c;
            ++group;
            continue;
        }
        if ((grouped && group != 3) || group == 0 || group > 3) {
            return std::nullopt;
        }
        grouped = true;
        group = 0;
    }
    if (int_digits.empty() || (grouped && group != 3) || int_digits.size() > 10) {
        return std::nullopt;
    }

    // Fraction: digits only; beyond the currency's minor digits only zeros are allowed.
    std::string frac;
    if (decimal_at != std::string_view::npos) {
        frac = std::string(core.substr(decimal_at + 1));
        if (frac.empty()) {
            return std::nullopt;
        }
        for (std::size_t i = 0; i < frac.size(); ++i) {
            if (!is_digit(frac[i]) || (static_cast<int>(i) >= minor_digits && frac[i] != '0')) {
                return std::nullopt;
            }
        }
    }
    frac.resize(static_cast<std::size_t>(minor_digits), '0');
    std::int64_t value = std::strtoll(int_digits.c_str(), nullptr, 10);
    for (char c : frac) {
        value = value * 10 + (c - '0');
    }
    return value;
}

// Replaces grouping spaces (ASCII, U+00A0, U+202F) and apostrophes by group_mark, which can
// only group thousands (unlike ',' and '.', which may also be the decimal separator).
std::optional<std::string> squeeze_number(std::string_view core) {
    std::string out;
    for (std::size_t i = 0; i < core.size(); ++i) {
        char c = core[i];
        if (is_digit(c) || c == '.' || c == ',') {
            out += c;
        } else if (c == ' ' || c == '\'') {
            out += group_mark;
        } else if (core.substr(i, 2) == "\xC2\xA0") {
            out += group_mark;
            ++i;
        } else if (core.substr(i, 3) == "\xE2\x80\xAF") {
            out += group_mark;
            i += 2;
        } else {
            return std::nullopt;
        }
    }
    return out;
}

}  // namespace

int currency_minor_digits(std::string_view currency) {
    static constexpr std::array<std::string_view, 8> zero{"JPY", "KRW", "HUF", "CLP",
                                                          "ISK", "TWD", "VND", "UGX"};
    for (auto code : zero) {
        if (code == currency) {
            return 0;
        }
    }
    return 2;
}

result<std::optional<money>> parse_money(std::string_view text, std::string_view default_currency) {
    std::string_view t = trim(text);
    if (t.empty() || t == "--" || t == "-" || t == "\xE2\x80\x94" || squeeze_upper(t) == "N/A") {
        return std::optional<money>{};
    }
    auto not_money = [&] {
        return fail("not_money", "\"" + utf8_clean(t.substr(0, 40)) + "\" is not an amount");
    };
    std::size_t first = t.find_first_of("0123456789");
    std::size_t last = t.find_last_of("0123456789");
    if (first == std::string_view::npos) {
        return not_money();
    }
    std::string prefix(trim(t.substr(0, first)));
    std::string suffix(trim(t.substr(last + 1)));

    // Sign: a minus before or after the symbol, or accounting parentheses.
    bool negative = false;
    if (!prefix.empty() && prefix.front() == '(' && !suffix.empty() && suffix.back() == ')') {
        negative = true;
        prefix.erase(0, 1);
        suffix.pop_back();
    }
    for (std::string* affix : {&prefix, &suffix}) {
        std::string_view view = trim(*affix);
        if (view.starts_with('-') || view.ends_with('-')) {
            if (negative || affix == &suffix) {
                return not_money();
            }
            negative = true;
            view = trim(view.starts_with('-') ? view.substr(1) : view.substr(0, view.size() - 1));
        }
        *affix = std::string(view);
    }

    // Currency: from the symbol or code on either side, else the default.
    std::string currency(default_currency);
    if (!prefix.empty() && !suffix.empty()) {
        return not_money();
    }
    if (!prefix.empty() || !suffix.empty()) {
        currency = currency_of(prefix.empty() ? suffix : prefix, default_currency);
        if (currency.empty()) {
            return not_money();
        }
    }

    auto core = squeeze_number(t.substr(first, last - first + 1));
    if (!core) {
        return not_money();
    }
    auto minor = read_number(*core, currency_minor_digits(currency));
    if (!minor) {
        return not_money();
    }
    return std::optional<money>{money{negative ? -*minor : *minor, std::move(currency)}};
}

std::string format_money(std::int64_t minor, std::string_view currency) {
    int digits = currency_minor_digits(currency);
    std::int64_t scale = digits == 0 ? 1 : 100;
    std::int64_t magnitude = minor < 0 ? -minor : minor;
    std::string out =
        std::string(currency) + " " + (minor < 0 ? "-" : "") + std::to_string(magnitude / scale);
    if (digits > 0) {
        std::int64_t cents = magnitude % scale;
        out += (cents < 10 ? ".0" : ".") + std::to_string(cents);
    }
    return out;
}

}  // namespace boomer::market
