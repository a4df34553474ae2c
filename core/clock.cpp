// The system clock and timestamp formatting.
#include "core/clock.hpp"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <ctime>

namespace boomer {

std::int64_t system_clock::now_ms() const {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

const system_clock& system_clock::instance() {
    static const system_clock c;
    return c;
}

std::string iso8601_utc(std::int64_t epoch_ms) {
    std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", parts.tm_year + 1900,
                       parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                       static_cast<int>(epoch_ms % 1000));
}

namespace {

// The number of `width` digits at `at` in `text`, or std::nullopt.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t width) {
    if (at + width > text.size()) {
        return std::nullopt;
    }
    int v = 0;
    for (std::size_t i = at; i < at + width; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
            return std::nullopt;
        }
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

bool separator(std::string_view text, std::size_t at, std::string_view allowed) {
    return at < text.size() && allowed.find(text[at]) != std::string_view::npos;
}

}  // namespace

std::optional<std::int64_t> parse_iso8601(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS: the fixed part, then fractions and the zone.
    auto year = digits(text, 0, 4);
    auto month = digits(text, 5, 2);
    auto day = digits(text, 8, 2);
    auto hour = digits(text, 11, 2);
    auto minute = digits(text, 14, 2);
    auto second = digits(text, 17, 2);
    if (!year || !month || !day || !hour || !minute || !second || !separator(text, 4, "-") ||
        !separator(text, 7, "-") || !separator(text, 10, "Tt") || !separator(text, 13, ":") ||
        !separator(text, 16, ":") || *month < 1 || *month > 12 || *day < 1 || *day > 31 ||
        *hour > 23 || *minute > 59 || *second > 60) {
        return std::nullopt;
    }
    std::size_t at = 19;
    std::int64_t millis = 0;
    if (separator(text, at, ".")) {
        std::size_t first = ++at;
        int scale = 100;
        while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
            millis += (text[at] - '0') * scale;
            scale /= 10;
            ++at;
        }
        if (at == first) {
            return std::nullopt;
        }
    }
    std::int64_t offset_minutes = 0;
    if (separator(text, at, "Zz")) {
        ++at;
    } else if (separator(text, at, "+-")) {
        auto oh = digits(text, at + 1, 2);
        auto om = digits(text, at + 4, 2);
        if (!oh || !om || !separator(text, at + 3, ":") || *oh > 23 || *om > 59) {
            return std::nullopt;
        }
        offset_minutes = (text[at] == '-' ? -1 : 1) * (*oh * 60 + *om);
        at += 6;
    } else {
        return std::nullopt;
    }
    if (at != text.size()) {
        return std::nullopt;
    }
    std::tm parts{};
    parts.tm_year = *year - 1900;
    parts.tm_mon = *month - 1;
    parts.tm_mday = *day;
    parts.tm_hour = *hour;
    parts.tm_min = *minute;
    parts.tm_sec = *second;
    auto seconds = static_cast<std::int64_t>(timegm(&parts)) - offset_minutes * 60;
    return seconds * 1000 + millis;
}

}  // namespace boomer
