// Text helpers for the market module (see text.hpp).
#include "pipeline/market/text.hpp"

namespace boomer::market {

namespace {

bool is_ascii_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Length of a no-break space (U+00A0 or U+202F) at text[pos], 0 when there is none.
std::size_t nbsp_at(std::string_view text, std::size_t pos) {
    if (text.substr(pos, 2) == "\xC2\xA0") {
        return 2;
    }
    if (text.substr(pos, 3) == "\xE2\x80\xAF") {
        return 3;
    }
    return 0;
}

// Length of a no-break space that ends at text[end - 1], 0 when there is none.
std::size_t nbsp_before(std::string_view text, std::size_t end) {
    if (end >= 2 && text.substr(end - 2, 2) == "\xC2\xA0") {
        return 2;
    }
    if (end >= 3 && text.substr(end - 3, 3) == "\xE2\x80\xAF") {
        return 3;
    }
    return 0;
}

// Decodes the well-formed sequence of `len` bytes at text[pos].
char32_t decode_at(std::string_view text, std::size_t pos, std::size_t len) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[pos + k]); };
    if (len == 1) {
        return byte(0);
    }
    char32_t cp = byte(0) & (0xFF >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
        cp = (cp << 6) | (byte(k) & 0x3F);
    }
    return cp;
}

// Letters and digits: ASCII alphanumerics and any code point from U+00C0 up, except the
// multiplication and division signs, general punctuation and CJK/full-width punctuation.
bool is_word_char(std::string_view text, std::size_t pos, std::size_t len) {
    auto c = static_cast<unsigned char>(text[pos]);
    if (len <= 1) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
    char32_t cp = decode_at(text, pos, len);
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) {
        return false;
    }
    bool punctuation = (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
                       (cp >= 0xFF00 && cp <= 0xFF0F);
    return !punctuation;
}

}  // namespace

std::string_view trim(std::string_view text) {
    std::size_t begin = 0;
    while (begin < text.size()) {
        if (is_ascii_space(static_cast<unsigned char>(text[begin]))) {
            ++begin;
        } else if (std::size_t n = nbsp_at(text, begin); n > 0) {
            begin += n;
        } else {
            break;
        }
    }
    std::size_t end = text.size();
    while (end > begin) {
        if (is_ascii_space(static_cast<unsigned char>(text[end - 1]))) {
            --end;
        } else if (std::size_t n = nbsp_before(text, end); n > 0 && end - n >= begin) {
            end -= n;
        } else {
            break;
        }
    }
    return text.substr(begin, end - begin);
}

std::string fold_case(std::string_view text) {
    std::string out(text);
    for (std::size_t i = 0; i < out.size(); ++i) {
        auto c = static_cast<unsigned char>(out[i]);
        if (c >= 'A' && c <= 'Z') {
            out[i] = static_cast<char>(c + 32);
        } else if (c == 0xC3 && i + 1 < out.size()) {
            // U+00C0..U+00DE except U+00D7 (multiplication sign) are capitals of U+00E0..U+00FE.
            auto next = static_cast<unsigned char>(out[i + 1]);
            if (next >= 0x80 && next <= 0x9E && next != 0x97) {
                out[i + 1] = static_cast<char>(next + 0x20);
            }
            ++i;
        }
    }
    return out;
}

std::string normalise_name(std::string_view text) {
    std::string folded = fold_case(trim(text));
    std::string out;
    out.reserve(folded.size());
    bool pending_space = false;
    for (std::size_t i = 0; i < folded.size();) {
        auto c = static_cast<unsigned char>(folded[i]);
        std::size_t nb = nbsp_at(folded, i);
        if (is_ascii_space(c) || nb > 0) {
            pending_space = true;
            i += nb > 0 ? nb : 1;
            continue;
        }
        if (pending_space && !out.empty()) {
            out += ' ';
        }
        pending_space = false;
        if (std::string_view(folded).substr(i, 3) == "\xE2\x80\x99") {
            out += '\'';
            i += 3;
            continue;
        }
        out += static_cast<char>(c);
        ++i;
    }
    return out;
}

bool starts_with_folded(std::string_view text, std::string_view prefix) {
    return fold_case(text).starts_with(fold_case(prefix));
}

bool contains_folded(std::string_view text, std::string_view needle) {
    return fold_case(text).find(fold_case(needle)) != std::string::npos;
}

std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
    if (pos >= text.size()) {
        return 0;
    }
    auto c = static_cast<unsigned char>(text[pos]);
    std::size_t len = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        low = c == 0xE0 ? 0xA0 : 0x80;
        high = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        low = c == 0xF0 ? 0x90 : 0x80;
        high = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (pos + len > text.size()) {
        return 0;
    }
    // The second byte has the tightest range (no overlongs, no surrogates, nothing past U+10FFFF).
    auto second = static_cast<unsigned char>(text[pos + 1]);
    if (second < low || second > high) {
        return 0;
    }
    for (std::size_t k = 2; k < len; ++k) {
        auto b = static_cast<unsigned char>(text[pos + k]);
        if (b < 0x80 || b > 0xBF) {
            return 0;
        }
    }
    return len;
}

std::string utf8_clean(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = utf8_sequence_length(text, i);
        if (n == 0) {
            ++i;
            continue;
        }
        auto c = static_cast<unsigned char>(text[i]);
        bool control = n == 1 && (c < 0x20 || c == 0x7F) && c != '\t' && c != '\n';
        if (!control) {
            out.append(text.substr(i, n));
        }
        i += n;
    }
    return out;
}

bool is_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = utf8_sequence_length(text, i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

std::string windows1252_to_utf8(std::string_view text) {
    // Code points for 0x80..0x9F; 0 marks the bytes Windows-1252 leaves undefined.
    static constexpr char32_t high[32] = {
        0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (char byte : text) {
        auto c = static_cast<unsigned char>(byte);
        char32_t cp = c < 0x80 ? c : c < 0xA0 ? high[c - 0x80] : c;
        if (cp == 0) {
            continue;
        }
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    return out;
}

std::size_t utf8_length(std::string_view text) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < text.size(); ++count) {
        std::size_t n = utf8_sequence_length(text, i);
        i += n == 0 ? 1 : n;
    }
    return count;
}

std::vector<std::string> word_tokens(std::string_view text) {
    std::string folded = fold_case(text);
    std::string_view view(folded);
    std::vector<std::string> tokens;
    std::string current;
    for (std::size_t i = 0; i < view.size();) {
        std::size_t n = utf8_sequence_length(view, i);
        if (n == 0) {
            n = 1;
        }
        if (is_word_char(view, i, n)) {
            current.append(view.substr(i, n));
            i += n;
            continue;
        }
        // A joiner between two word characters keeps the word whole ("ae-1", "o'brien").
        bool joiner = view[i] == '-' || view[i] == '\'' || view.substr(i, n) == "\xE2\x80\x99";
        std::size_t next = i + n;
        std::size_t next_len = utf8_sequence_length(view, next);
        if (joiner && !current.empty() && next_len > 0 && is_word_char(view, next, next_len)) {
            i += n;
            continue;
        }
        if (!current.empty()) {
            tokens.push_back(std::move(current));
            current.clear();
        }
        i += n;
    }
    if (!current.empty()) {
        tokens.push_back(std::move(current));
    }
    return tokens;
}

}  // namespace boomer::market
