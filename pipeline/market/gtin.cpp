// Product-code validation and extraction (see gtin.hpp).
#include "pipeline/market/gtin.hpp"

#include <algorithm>
#include <cctype>

namespace boomer::market {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// The GS1 check: weights 3 and 1 alternate from the rightmost data digit.
bool gs1_check_ok(const std::string& digits) {
    int sum = 0;
    int weight = 3;
    for (std::size_t i = digits.size() - 1; i-- > 0;) {
        sum += (digits[i] - '0') * weight;
        weight = weight == 3 ? 1 : 3;
    }
    return (10 - sum % 10) % 10 == digits.back() - '0';
}

// The ISBN-10 check: sum of digit × (10 - position) is a multiple of 11; 'X' is 10.
bool isbn10_check_ok(const std::string& code) {
    int sum = 0;
    for (std::size_t i = 0; i < 10; ++i) {
        int value = code[i] == 'X' ? 10 : code[i] - '0';
        sum += value * static_cast<int>(10 - i);
    }
    return sum % 11 == 0;
}

std::string isbn10_to_13(const std::string& code) {
    std::string digits = "978" + code.substr(0, 9) + "0";
    int sum = 0;
    for (std::size_t i = 0; i < 12; ++i) {
        sum += (digits[i] - '0') * (i % 2 == 0 ? 1 : 3);
    }
    digits.back() = static_cast<char>('0' + (10 - sum % 10) % 10);
    return digits;
}

void add_unique(std::vector<std::string>& out, std::optional<std::string> code) {
    if (code && std::find(out.begin(), out.end(), *code) == out.end()) {
        out.push_back(std::move(*code));
    }
}

}  // namespace

std::optional<std::string> canonical_gtin(std::string_view code) {
    std::string clean;
    for (char c : code) {
        if (is_digit(c)) {
            clean += c;
        } else if (c == 'x' || c == 'X') {
            clean += 'X';
        } else if (c != '-' && c != ' ') {
            return std::nullopt;
        }
    }
    std::size_t x = clean.find('X');
    if (clean.size() == 10 && (x == std::string::npos || x == 9)) {
        if (isbn10_check_ok(clean)) {
            return isbn10_to_13(clean);
        }
    }
    if (x != std::string::npos) {
        return std::nullopt;
    }
    std::size_t n = clean.size();
    if ((n != 8 && n != 12 && n != 13 && n != 14) || !gs1_check_ok(clean)) {
        return std::nullopt;
    }
    if (n == 12) {
        return "0" + clean;
    }
    if (n == 14 && clean.front() == '0') {
        return clean.substr(1);
    }
    return clean;
}

std::vector<std::string> find_gtins(std::string_view text) {
    std::vector<std::string> found;
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_digit(text[i])) {
            ++i;
            continue;
        }
        // A run of digits and single hyphens, with an ISBN-10's final X allowed.
        std::size_t start = i;
        std::vector<std::string> parts(1);
        while (i < text.size()) {
            char c = text[i];
            if (is_digit(c)) {
                parts.back() += c;
            } else if (c == '-' && i + 1 < text.size() && is_digit(text[i + 1]) &&
                       !parts.back().empty()) {
                parts.emplace_back();
            } else if ((c == 'X' || c == 'x') && i + 1 - start >= 10 &&
                       (i + 1 >= text.size() ||
                        !std::isalnum(static_cast<unsigned char>(text[i + 1])))) {
                parts.back() += 'X';
                ++i;
                break;
            } else {
                break;
            }
            ++i;
        }

        // Each part on its own, and the parts joined when they look like a hyphenated ISBN.
        for (const auto& part : parts) {
            add_unique(found, canonical_gtin(part));
        }
        if (parts.size() > 1 && parts.size() <= 5) {
            std::string joined;
            for (const auto& part : parts) {
                joined += part;
            }
            if (joined.size() == 10 || joined.size() == 13) {
                add_unique(found, canonical_gtin(joined));
            }
        }
    }
    return found;
}

}  // namespace boomer::market
