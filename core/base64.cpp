// Base64 decoding with a lookup table, one group of four characters at a time.
#include "core/base64.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace boomer {
namespace {

constexpr std::uint8_t invalid = 0xFF;
constexpr std::uint8_t space = 0xFE;
constexpr std::uint8_t pad = 0xFD;

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::uint8_t, 256> make_table() {
    std::array<std::uint8_t, 256> t{};
    t.fill(invalid);
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
    }
    for (char c : {' ', '\t', '\n', '\r', '\f', '\v'}) {
        t[static_cast<unsigned char>(c)] = space;
    }
    t['='] = pad;
    return t;
}

constexpr auto table = make_table();

// Appends the bytes of a group of `n` sextets (2 to 4); false when the unused low bits are set.
bool flush_group(const std::array<std::uint8_t, 4>& six, int n, std::string& out) {
    std::uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) {
        bits = (bits << 6) | (i < n ? six[static_cast<std::size_t>(i)] : 0U);
    }
    out.push_back(static_cast<char>(bits >> 16));
    if (n >= 3) {
        out.push_back(static_cast<char>((bits >> 8) & 0xFF));
    }
    if (n == 4) {
        out.push_back(static_cast<char>(bits & 0xFF));
    }
    const std::uint32_t unused = n == 2 ? 0xFFFF : (n == 3 ? 0xFF : 0);
    return (bits & unused) == 0;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        std::uint32_t bits = 0;
        for (std::size_t k = 0; k < 3; ++k) {
            const auto byte = k < n ? static_cast<unsigned char>(bytes[i + k]) : 0U;
            bits = (bits << 8) | byte;
        }
        for (std::size_t k = 0; k < 4; ++k) {
            out += k <= n ? alphabet[(bits >> (18 - 6 * k)) & 63] : '=';
        }
    }
    return out;
}

std::size_t base64_decoded_size_bound(std::size_t encoded_size) {
    return encoded_size / 4 * 3 + 3;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size() / 4 * 3 + 3);
    std::array<std::uint8_t, 4> six{};
    int n = 0;
    std::size_t i = 0;
    for (; i < text.size(); ++i) {
        const std::uint8_t v = table[static_cast<unsigned char>(text[i])];
        if (v == space) {
            continue;
        }
        if (v == pad) {
            break;
        }
        if (v == invalid) {
            return std::nullopt;
        }
        six[static_cast<std::size_t>(n++)] = v;
        if (n == 4) {
            flush_group(six, 4, out);
            n = 0;
        }
    }

    // Padding, when present, must fill the last group exactly; nothing but spaces may follow.
    int pads = 0;
    for (; i < text.size(); ++i) {
        const std::uint8_t v = table[static_cast<unsigned char>(text[i])];
        if (v == pad) {
            ++pads;
        } else if (v != space) {
            return std::nullopt;
        }
    }
    if (n == 1 || (pads > 0 && (n < 2 || n + pads != 4))) {
        return std::nullopt;
    }
    if (n > 0 && !flush_group(six, n, out)) {
        return std::nullopt;
    }
    return out;
}

}  // namespace boomer
