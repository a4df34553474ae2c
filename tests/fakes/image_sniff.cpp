// Magic numbers and header fields of JPEG, PNG, GIF and WebP.
#include "tests/fakes/image_sniff.hpp"

#include <array>
#include <cstdint>

namespace boomer::fakes {
namespace {

std::uint32_t byte_at(std::string_view b, std::size_t i) {
    return static_cast<unsigned char>(b[i]);
}

std::uint32_t be16(std::string_view b, std::size_t i) {
    return byte_at(b, i) << 8 | byte_at(b, i + 1);
}

std::uint32_t le16(std::string_view b, std::size_t i) {
    return byte_at(b, i + 1) << 8 | byte_at(b, i);
}

std::uint32_t le24(std::string_view b, std::size_t i) {
    return byte_at(b, i + 2) << 16 | byte_at(b, i + 1) << 8 | byte_at(b, i);
}

std::uint32_t be32(std::string_view b, std::size_t i) {
    return be16(b, i) << 16 | be16(b, i + 2);
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    return c == '/' ? 63 : -1;
}

// A JPEG's size is in its first start-of-frame segment (SOF0..SOF15 but DHT, JPG and DAC).
std::optional<sniffed_image> jpeg_size(std::string_view b) {
    std::size_t i = 2;
    while (i + 4 <= b.size()) {
        if (byte_at(b, i) != 0xFF) {
            return std::nullopt;
        }
        auto marker = byte_at(b, i + 1);
        if (marker == 0xFF) {
            ++i;  // fill byte
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
            i += 2;  // no length
            continue;
        }
        auto length = be16(b, i + 2);
        bool sof =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof && length >= 7 && i + 9 <= b.size()) {
            return sniffed_image{"image/jpeg", static_cast<int>(be16(b, i + 7)),
                                 static_cast<int>(be16(b, i + 5))};
        }
        if (marker == 0xDA || marker == 0xD9 || length < 2) {
            return std::nullopt;  // scan data or the end before any frame header
        }
        i += 2 + length;
    }
    return std::nullopt;
}

std::optional<sniffed_image> webp_size(std::string_view b) {
    if (b.size() < 30) {
        return std::nullopt;
    }
    auto chunk = b.substr(12, 4);
    std::size_t d = 20;  // chunk data
    if (chunk == "VP8 " && byte_at(b, d + 3) == 0x9D && byte_at(b, d + 4) == 0x01 &&
        byte_at(b, d + 5) == 0x2A) {
        return sniffed_image{"image/webp", static_cast<int>(le16(b, d + 6) & 0x3FFF),
                             static_cast<int>(le16(b, d + 8) & 0x3FFF)};
    }
    if (chunk == "VP8L" && byte_at(b, d) == 0x2F) {
        std::uint32_t bits = byte_at(b, d + 1) | byte_at(b, d + 2) << 8 | byte_at(b, d + 3) << 16 |
                             byte_at(b, d + 4) << 24;
        return sniffed_image{"image/webp", static_cast<int>((bits & 0x3FFF) + 1),
                             static_cast<int>(((bits >> 14) & 0x3FFF) + 1)};
    }
    if (chunk == "VP8X") {
        return sniffed_image{"image/webp", static_cast<int>(le24(b, d + 4) + 1),
                             static_cast<int>(le24(b, d + 7) + 1)};
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        std::array<int, 4> v{};
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + k];
            if (c == '=' && last && k >= 2) {
                ++pad;
                v[k] = 0;
                continue;
            }
            v[k] = pad > 0 ? -1 : base64_value(c);
            if (v[k] < 0) {
                return std::nullopt;
            }
        }
        std::uint32_t n = static_cast<std::uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        if ((pad == 1 && (n & 0xFF) != 0) || (pad == 2 && (n & 0xFFFF) != 0)) {
            return std::nullopt;
        }
        out += static_cast<char>(n >> 16);
        if (pad < 2) {
            out += static_cast<char>((n >> 8) & 0xFF);
        }
        if (pad < 1) {
            out += static_cast<char>(n & 0xFF);
        }
    }
    return out;
}

std::string sniff_media_type(std::string_view b) {
    if (b.size() >= 3 && b.substr(0, 3) == "\xFF\xD8\xFF") {
        return "image/jpeg";
    }
    if (b.size() >= 8 && b.substr(0, 8) == "\x89PNG\r\n\x1A\n") {
        return "image/png";
    }
    if (b.size() >= 6 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) {
        return "image/gif";
    }
    if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") {
        return "image/webp";
    }
    return {};
}

std::optional<sniffed_image> sniff_image(std::string_view b) {
    auto type = sniff_media_type(b);
    std::optional<sniffed_image> out;
    if (type == "image/jpeg") {
        out = jpeg_size(b);
    } else if (type == "image/png" && b.size() >= 24 && b.substr(12, 4) == "IHDR") {
        out = sniffed_image{type, static_cast<int>(be32(b, 16)), static_cast<int>(be32(b, 20))};
    } else if (type == "image/gif" && b.size() >= 10) {
        out = sniffed_image{type, static_cast<int>(le16(b, 6)), static_cast<int>(le16(b, 8))};
    } else if (type == "image/webp") {
        out = webp_size(b);
    }
    if (out && (out->width <= 0 || out->height <= 0)) {
        return std::nullopt;
    }
    return out;
}

}  // namespace boomer::fakes
