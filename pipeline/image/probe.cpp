// Format sniffing and header-only size reading for JPEG, PNG, GIF, WebP and the HEIF family.
#include "pipeline/image/probe.hpp"

#include <array>
#include <cstdint>
#include <limits>

#include "pipeline/image/byte_reader.hpp"
#include "pipeline/image/detail/heif_reader.hpp"

namespace boomer::image {
namespace {

struct size2d {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
};

constexpr std::string_view png_signature{"\x89PNG\r\n\x1a\n", 8};

bool is_jpeg_sof(std::uint8_t marker) {
    // C0..CF are frame headers except C4 (DHT), C8 (reserved) and CC (DAC).
    return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

bool is_jpeg_standalone(std::uint8_t marker) {
    return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8);
}

// Walks JPEG segments from after SOI to the first SOFn. Bytes between segments that are not a
// marker are skipped, as libjpeg does, so what we report is what the decoder will see.
std::optional<size2d> jpeg_size(const byte_reader& r) {
    std::size_t pos = 2;
    while (pos < r.size()) {
        while (pos < r.size() && r.u8(pos) != 0xFF) {
            ++pos;
        }
        while (pos < r.size() && r.u8(pos) == 0xFF) {
            ++pos;
        }
        const auto marker = r.u8(pos++);
        if (!marker) {
            return std::nullopt;
        }
        if (is_jpeg_standalone(*marker)) {
            continue;
        }
        if (*marker == 0xD9 || *marker == 0xDA) {
            return std::nullopt;  // end of image or start of scan without a frame header
        }
        const auto length = r.u16be(pos);
        if (!length || *length < 2) {
            return std::nullopt;
        }
        if (is_jpeg_sof(*marker)) {
            const auto height = r.u16be(pos + 3);
            const auto width = r.u16be(pos + 5);
            if (*length < 8 || !height || !width) {
                return std::nullopt;
            }
            return size2d{*width, *height};
        }
        pos += *length;
    }
    return std::nullopt;
}

std::optional<size2d> png_size(const byte_reader& r) {
    if (r.u32be(8) != 13u || !r.equals(12, "IHDR")) {
        return std::nullopt;
    }
    const auto width = r.u32be(16);
    const auto height = r.u32be(20);
    if (!width || !height) {
        return std::nullopt;
    }
    return size2d{*width, *height};
}

std::optional<size2d> gif_size(const byte_reader& r) {
    const auto width = r.u16le(6);
    const auto height = r.u16le(8);
    if (!width || !height) {
        return std::nullopt;
    }
    return size2d{*width, *height};
}

// The first chunk of a WebP file carries the size: lossy VP8 frame header, lossless VP8L
// header, or the extended-format VP8X canvas.
std::optional<size2d> webp_size(const byte_reader& r) {
    constexpr std::size_t data = 20;
    if (r.equals(12, "VP8 ")) {
        const auto width = r.u16le(data + 6);
        const auto height = r.u16le(data + 8);
        if (!r.equals(data + 3, "\x9d\x01\x2a") || !width || !height) {
            return std::nullopt;
        }
        return size2d{*width & 0x3FFFu, *height & 0x3FFFu};
    }
    if (r.equals(12, "VP8L")) {
        const auto bits = r.u32le(data + 1);
        if (r.u8(data) != 0x2F || !bits) {
            return std::nullopt;
        }
        return size2d{(*bits & 0x3FFFu) + 1, ((*bits >> 14) & 0x3FFFu) + 1};
    }
    if (r.equals(12, "VP8X")) {
        const auto width = r.u24le(data + 4);
        const auto height = r.u24le(data + 7);
        if (!width || !height) {
            return std::nullopt;
        }
        return size2d{*width + 1, *height + 1};
    }
    return std::nullopt;
}

image_format brand_format(std::string_view brand) {
    static constexpr std::array<std::string_view, 8> hevc{"heic", "heix", "heim", "heis",
                                                          "hevc", "hevx", "hevm", "hevs"};
    for (const auto b : hevc) {
        if (brand == b) {
            return image_format::heic;
        }
    }
    if (brand == "avif" || brand == "avis") {
        return image_format::avif;
    }
    if (brand == "mif1" || brand == "msf1" || brand == "mif2") {
        return image_format::heif;
    }
    return image_format::unknown;
}

// An ISO-BMFF file starts with an ftyp box: major brand, minor version, compatible brands.
// The major brand decides when it is one of ours; otherwise the most specific compatible one.
image_format ftyp_format(const byte_reader& r) {
    const auto box_size = r.u32be(0);
    if (!box_size || !r.equals(4, "ftyp")) {
        return image_format::unknown;
    }
    const image_format major = brand_format(r.slice(8, 4));
    if (major != image_format::unknown) {
        return major;
    }
    const std::size_t end = std::min<std::size_t>(*box_size, r.size());
    image_format found = image_format::unknown;
    for (std::size_t pos = 16; pos + 4 <= end; pos += 4) {
        const image_format f = brand_format(r.slice(pos, 4));
        if (f == image_format::heic || f == image_format::avif) {
            return f;
        }
        if (f != image_format::unknown) {
            found = f;
        }
    }
    return found;
}

bool is_heif_family(image_format format) {
    return format == image_format::heic || format == image_format::heif ||
           format == image_format::avif;
}

std::optional<size2d> declared_size(image_format format, std::string_view bytes) {
    const byte_reader r(bytes);
    switch (format) {
        case image_format::jpeg:
            return jpeg_size(r);
        case image_format::png:
            return png_size(r);
        case image_format::gif:
            return gif_size(r);
        case image_format::webp:
            return webp_size(r);
        default:
            break;
    }
    if (is_heif_family(format)) {
        if (const auto size = detail::heif_primary_size(bytes)) {
            return size2d{static_cast<std::uint32_t>(size->first),
                          static_cast<std::uint32_t>(size->second)};
        }
    }
    return std::nullopt;
}

}  // namespace

std::string_view media_type(image_format format) {
    switch (format) {
        case image_format::jpeg:
            return "image/jpeg";
        case image_format::png:
            return "image/png";
        case image_format::webp:
            return "image/webp";
        case image_format::gif:
            return "image/gif";
        case image_format::heic:
            return "image/heic";
        case image_format::heif:
            return "image/heif";
        case image_format::avif:
            return "image/avif";
        case image_format::unknown:
            break;
    }
    return "application/octet-stream";
}

std::string_view format_name(image_format format) {
    switch (format) {
        case image_format::jpeg:
            return "jpeg";
        case image_format::png:
            return "png";
        case image_format::webp:
            return "webp";
        case image_format::gif:
            return "gif";
        case image_format::heic:
            return "heic";
        case image_format::heif:
            return "heif";
        case image_format::avif:
            return "avif";
        case image_format::unknown:
            break;
    }
    return "unknown";
}

image_format sniff_format(std::string_view bytes) {
    const byte_reader r(bytes);
    if (r.equals(0, "\xFF\xD8\xFF")) {
        return image_format::jpeg;
    }
    if (r.equals(0, png_signature)) {
        return image_format::png;
    }
    if (r.equals(0, "GIF87a") || r.equals(0, "GIF89a")) {
        return image_format::gif;
    }
    if (r.equals(0, "RIFF") && r.equals(8, "WEBP")) {
        return image_format::webp;
    }
    return ftyp_format(r);
}

std::optional<probe_info> probe(std::string_view bytes) {
    const image_format format = sniff_format(bytes);
    if (format == image_format::unknown) {
        return std::nullopt;
    }
    const auto size = declared_size(format, bytes);
    constexpr auto int_max = static_cast<std::uint32_t>(std::numeric_limits<int>::max());
    if (!size || size->width == 0 || size->height == 0 || size->width > int_max ||
        size->height > int_max) {
        return std::nullopt;
    }
    return probe_info{format, static_cast<int>(size->width), static_cast<int>(size->height),
                      std::string(media_type(format))};
}

}  // namespace boomer::image
