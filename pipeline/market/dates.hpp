// Calendar dates as marketplace exports print them: "Sep-25-23" (eBay US), "25-May-22" (eBay
// UK/AU), "05-oct.-26" (eBay FR), "Dec 27, 2023" (eBay transactions), "09/06/26" (Etsy),
// "12/27/2024" (Poshmark), "2023-06-21" (Mercari), with localised month abbreviations. Dates
// have no zone: they are the seller's local calendar day, and a trailing time is ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boomer::market {

struct civil_date {
    int year = 1970;
    int month = 1;  // 1..12
    int day = 1;    // 1..31
};

// How to read three numbers separated by '/' or '-' when the first is not a 4-digit year.
enum class numeric_order { month_first, day_first };

// parse_date reads one date.
//
// Shapes: month name, day, year ("Sep-25-23", "Dec 27, 2023"); day, month name, year
// ("25-May-22", "05-oct.-26", "26-Mär-26"); year-month-day ("2023-06-21", also with a time
// "2023-06-21T10:00:00Z"); numbers with '/' or '-' in `order` ("09/06/26" is 6 Sep 2026 when
// month_first); numbers with '.' are always day first ("05.10.2026"). Month names are matched
// in English, French, German, Spanish, Italian, Dutch and Portuguese, full or abbreviated (at
// least three letters, with or without a final '.'; ambiguous prefixes such as "jui" fail).
// A two-digit year is 20YY; a four-digit year must be in 1900..2199. Anything after a time of
// day ("Sep-30-26 23:45:00 PDT") is ignored. Returns std::nullopt when the text is not a
// valid date (including 31 April or 29 Feb in a common year). Thread-safe.
std::optional<civil_date> parse_date(std::string_view text,
                                     numeric_order order = numeric_order::month_first);

// parse_date_iso is parse_date followed by to_iso.
std::optional<std::string> parse_date_iso(std::string_view text,
                                          numeric_order order = numeric_order::month_first);

// month_from_name returns 1..12 for a month name or abbreviation (see parse_date).
std::optional<int> month_from_name(std::string_view name);

// to_iso writes "YYYY-MM-DD". Thread-safe.
std::string to_iso(const civil_date& date);

// days_from_civil counts days since 1970-01-01 (negative before it), proleptic Gregorian.
std::int64_t days_from_civil(const civil_date& date);

// civil_from_days is the inverse of days_from_civil.
civil_date civil_from_days(std::int64_t days);

// days_from_iso reads exactly "YYYY-MM-DD" (a valid date) into days since the epoch.
std::optional<std::int64_t> days_from_iso(std::string_view iso);

}  // namespace boomer::market
