// Date parsing (see dates.hpp).
#include "pipeline/market/dates.hpp"

#include <array>
#include <cstdio>
#include <vector>

#include "pipeline/market/text.hpp"

namespace boomer::market {

namespace {

// Full month names, January first, per language; abbreviations are their prefixes.
constexpr std::array<std::array<std::string_view, 12>, 7> month_names{{
    {"january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"},
    {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
     "octobre", "novembre", "décembre"},
    {"januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
     "november", "dezember"},
    {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
     "octubre", "noviembre", "diciembre"},
    {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
     "ottobre", "novembre", "dicembre"},
    {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
     "oktober", "november", "december"},
    {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
     "outubro", "novembro", "dezembro"},
}};

struct abbreviation {
    std::string_view text;
    int month;
};

// Abbreviations that are not prefixes of a name above (and French written without accents).
constexpr std::array<abbreviation, 6> extra_abbreviations{{
    {"mrz", 3},
    {"mrt", 3},
    {"fevrier", 2},
    {"fevr", 2},
    {"aout", 8},
    {"decembre", 12},
}};

enum class token_kind { number, word };

struct token {
    token_kind kind;
    std::string text;
    char separator_after = '\0';  // the first separator character that followed the token
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Drops a time of day and what follows it: "2023-06-21T10:00:00Z", "Sep-30-26 23:45:00 PDT".
std::string_view without_time(std::string_view text) {
    if (text.size() > 10 && is_digit(text[9]) && (text[10] == 'T' || text[10] == 't')) {
        return text.substr(0, 10);
    }
    std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) {
        return text;
    }
    std::size_t space = text.find_last_of(" \t", colon);
    return space == std::string_view::npos ? text : text.substr(0, space);
}

// Splits into numbers and words; returns false on a token that mixes digits and letters.
bool tokenize(std::string_view text, std::vector<token>& out) {
    std::string folded = fold_case(text);
    for (std::size_t i = 0; i < folded.size();) {
        char c = folded[i];
        bool separator = c == '-' || c == '/' || c == ' ' || c == ',' || c == '.' || c == '\t';
        if (separator) {
            if (!out.empty() && out.back().separator_after == '\0') {
                out.back().separator_after = c;
            }
            ++i;
            continue;
        }
        std::size_t start = i;
        bool digits = is_digit(c);
        while (i < folded.size()) {
            char d = folded[i];
            bool sep = d == '-' || d == '/' || d == ' ' || d == ',' || d == '.' || d == '\t';
            if (sep) {
                break;
            }
            if (is_digit(d) != digits) {
                return false;
            }
            ++i;
        }
        out.push_back(
            {digits ? token_kind::number : token_kind::word, folded.substr(start, i - start)});
    }
    return true;
}

bool is_leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
    static constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : days[static_cast<std::size_t>(month - 1)];
}

std::optional<int> small_number(const token& t, std::size_t max_len) {
    if (t.kind != token_kind::number || t.text.empty() || t.text.size() > max_len) {
        return std::nullopt;
    }
    int value = 0;
    for (char c : t.text) {
        value = value * 10 + (c - '0');
    }
    return value;
}

std::optional<int> year_of(const token& t) {
    auto value = small_number(t, 4);
    if (!value) {
        return std::nullopt;
    }
    if (t.text.size() == 2) {
        return 2000 + *value;
    }
    if (t.text.size() == 4 && *value >= 1900 && *value <= 2199) {
        return value;
    }
    return std::nullopt;
}

std::optional<civil_date> make_date(std::optional<int> y, std::optional<int> m,
                                    std::optional<int> d) {
    if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m)) {
        return std::nullopt;
    }
    return civil_date{*y, *m, *d};
}

std::optional<civil_date> from_numbers(const std::vector<token>& t, numeric_order order) {
    if (t[0].text.size() == 4) {
        return make_date(year_of(t[0]), small_number(t[1], 2), small_number(t[2], 2));
    }
    bool day_first = t[0].separator_after == '.' || order == numeric_order::day_first;
    auto first = small_number(t[0], 2);
    auto second = small_number(t[1], 2);
    return day_first ? make_date(year_of(t[2]), second, first)
                     : make_date(year_of(t[2]), first, second);
}

}  // namespace

std::optional<int> month_from_name(std::string_view name) {
    std::string key = fold_case(trim(name));
    while (!key.empty() && key.back() == '.') {
        key.pop_back();
    }
    if (utf8_length(key) < 3) {
        return std::nullopt;
    }
    std::optional<int> found;
    auto note = [&](int month) {
        if (found && *found != month) {
            found = 0;  // two different months: ambiguous
        } else {
            found = month;
        }
    };
    for (const auto& language : month_names) {
        for (std::size_t m = 0; m < language.size(); ++m) {
            if (language[m].starts_with(key)) {
                note(static_cast<int>(m) + 1);
            }
        }
    }
    for (const auto& extra : extra_abbreviations) {
        if (extra.text == key) {
            note(extra.month);
        }
    }
    if (found && *found == 0) {
        return std::nullopt;
    }
    return found;
}

std::optional<civil_date> parse_date(std::string_view text, numeric_order order) {
    std::vector<token> t;
    if (!tokenize(without_time(trim(text)), t) || t.size() != 3) {
        return std::nullopt;
    }
    auto kinds = [&](token_kind a, token_kind b, token_kind c) {
        return t[0].kind == a && t[1].kind == b && t[2].kind == c;
    };
    constexpr auto num = token_kind::number;
    constexpr auto word = token_kind::word;
    if (kinds(word, num, num)) {
        return make_date(year_of(t[2]), month_from_name(t[0].text), small_number(t[1], 2));
    }
    if (kinds(num, word, num)) {
        return make_date(year_of(t[2]), month_from_name(t[1].text), small_number(t[0], 2));
    }
    if (kinds(num, num, num)) {
        return from_numbers(t, order);
    }
    return std::nullopt;
}

std::optional<std::string> parse_date_iso(std::string_view text, numeric_order order) {
    auto date = parse_date(text, order);
    if (!date) {
        return std::nullopt;
    }
    return to_iso(*date);
}

std::string to_iso(const civil_date& date) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", date.year, date.month, date.day);
    return buffer;
}

std::int64_t days_from_civil(const civil_date& date) {
    // Count from 1 March of year 0 so that the leap day ends each 4/100/400-year cycle.
    std::int64_t y = date.year - (date.month <= 2 ? 1 : 0);
    std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    std::int64_t year_of_era = y - era * 400;
    std::int64_t shifted_month = date.month > 2 ? date.month - 3 : date.month + 9;
    std::int64_t day_of_year = (153 * shifted_month + 2) / 5 + date.day - 1;
    std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

civil_date civil_from_days(std::int64_t days) {
    days += 719468;
    std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    std::int64_t day_of_era = days - era * 146097;
    std::int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    std::int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    std::int64_t shifted_month = (5 * day_of_year + 2) / 153;
    int day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    int month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    int year = static_cast<int>(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
    return civil_date{year, month, day};
}

std::optional<std::int64_t> days_from_iso(std::string_view iso) {
    if (iso.size() != 10 || iso[4] != '-' || iso[7] != '-') {
        return std::nullopt;
    }
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
        if (!is_digit(iso[i])) {
            return std::nullopt;
        }
    }
    auto number = [&](std::size_t at, std::size_t len) {
        int value = 0;
        for (std::size_t i = at; i < at + len; ++i) {
            value = value * 10 + (iso[i] - '0');
        }
        return value;
    };
    auto date = make_date(number(0, 4), number(5, 2), number(8, 2));
    if (!date) {
        return std::nullopt;
    }
    return days_from_civil(*date);
}

}  // namespace boomer::market
