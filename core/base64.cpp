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

// Writes the bytes of a group of `n` sextets (2 to 4) at `w` and moves it past them; false when
// the unused low bits are set.
bool flush_group(const std::array<std::uint8_t, 4>& six, int n, char*& w) {
    std::uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) {
        bits = (bits << 6) | (i < n ? six[static_cast<std::size_t>(i)] : 0U);
    }
    *w++ = static_cast<char>(bits >> 16);
    if (n >= 3) {
        *w++ = static_cast<char>((bits >> 8) & 0xFF);
    }
    if (n == 4) {
        *w++ = static_cast<char>(bits & 0xFF);
    }
    const std::uint32_t unused = n == 2 ? 0xFFFF : (n == 3 ? 0xFF : 0);
    return (bits & unused) == 0;
}

// Decodes four alphabet characters at `p` into three bytes at `w`; false (nothing written)
// when one of them is a space, padding or not base64, for the slow path to handle.
bool quad(const unsigned char* p, char* w) {
    const std::uint32_t a = table[p[0]];
    const std::uint32_t b = table[p[1]];
    const std::uint32_t c = table[p[2]];
    const std::uint32_t d = table[p[3]];
    if ((a | b | c | d) >= 64) {
        return false;
    }
    const std::uint32_t bits = a << 18 | b << 12 | c << 6 | d;
    w[0] = static_cast<char>(bits >> 16);
    w[1] = static_cast<char>((bits >> 8) & 0xFF);
    w[2] = static_cast<char>(bits & 0xFF);
    return true;
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
    std::string out(base64_decoded_size_bound(text.size()), '\0');
    char* w = out.data();
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    std::array<std::uint8_t, 4> six{};
    int n = 0;
    while (p < end) {
        // Whole groups of four alphabet characters take the fast path.
        if (n == 0 && end - p >= 4 && quad(p, w)) {
            p += 4;
            w += 3;
            continue;
        }
        const std::uint8_t v = table[*p];
        if (v == pad) {
            break;
        }
        ++p;
        if (v == space) {
            continue;
        }
        if (v == invalid) {
            return std::nullopt;
        }
        six[static_cast<std::size_t>(n++)] = v;
        if (n == 4) {
            flush_group(six, 4, w);
            n = 0;
        }
    }

    // Padding, when present, must fill the last group exactly; nothing but spaces may follow.
    int pads = 0;
    for (; p < end; ++p) {
        const std::uint8_t v = table[*p];
        if (v == pad) {
            ++pads;
        } else if (v != space) {
            return std::nullopt;
        }
    }
    if (n == 1 || (pads > 0 && (n < 2 || n + pads != 4))) {
        return std::nullopt;
    }
    if (n > 0 && !flush_group(six, n, w)) {
        return std::nullopt;
    }
    out.resize(static_cast<std::size_t>(w - out.data()));
    return out;
}

}  // namespace boomer
