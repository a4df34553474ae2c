// Amounts of money as marketplace exports print them ("$1,500.00", "£19.99", "AU $3,000.00",
// "EUR 90,00", "1 234,50 €", bare "34.00"), read into integer minor units and an ISO 4217 code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace boomer::market {

struct money {
    std::int64_t minor = 0;  // cents, pence...: amount × 10^(minor digits of the currency)
    std::string currency;    // ISO 4217 code; empty when the text had no symbol and no default
};

// parse_money reads one amount.
//
// A currency symbol or code may come before or after the number ("$", "£", "€", "¥", "AU $",
// "A$", "C $", "US $", any three-letter code such as "EUR"); a bare "$" means
// `default_currency` when that is a dollar currency, else USD. A number without a symbol takes
// `default_currency`. A minus sign (before or after the symbol) or accounting parentheses make
// the amount negative. Grouping may use ',', '.', spaces, no-break spaces or apostrophes; the
// decimal separator is the last '.' or ',' unless it is followed by exactly three digits (then
// it groups thousands: "1,500" is 1500). Decimals beyond the currency's minor digits must be
// zeros; at most 10 digits before the decimal separator.
//
// Returns std::nullopt for "no value": blank text, "--", "-", "n/a". Returns a failure with
// code "not_money" when the text is something else that is not an amount. Thread-safe.
result<std::optional<money>> parse_money(std::string_view text,
                                         std::string_view default_currency = {});

// currency_minor_digits is 0 for currencies without subunits in practice (JPY, KRW, ...), else
// 2. Thread-safe.
int currency_minor_digits(std::string_view currency);

// format_money writes "USD 1500.00" style text (code, space, plain decimal). Thread-safe.
std::string format_money(std::int64_t minor, std::string_view currency);

}  // namespace boomer::market
