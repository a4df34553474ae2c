// EXIF orientation from JPEG APP1 segments, WebP EXIF chunks and TIFF IFD0.
#include "pipeline/image/exif.hpp"

#include <cstdint>

#include "pipeline/image/byte_reader.hpp"

namespace boomer::image {
namespace {

constexpr std::uint16_t orientation_tag = 0x0112;
constexpr std::uint16_t tiff_short = 3;
constexpr std::uint16_t tiff_long = 4;
constexpr std::string_view exif_prefix{"Exif\0\0", 6};

int valid_or_default(std::uint32_t value) {
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
}

// Reads the value of one 12-byte IFD entry when it is an Orientation of a sensible type.
int entry_orientation(const byte_reader& r, std::size_t entry, bool big_endian) {
    const auto type = r.u16(entry + 2, big_endian);
    const auto count = r.u32(entry + 4, big_endian);
    if (!type || count != 1u) {
        return 1;
    }
    if (*type == tiff_short) {
        return valid_or_default(r.u16(entry + 8, big_endian).value_or(1));
    }
    if (*type == tiff_long) {
        return valid_or_default(r.u32(entry + 8, big_endian).value_or(1));
    }
    return 1;
}

std::string_view strip_exif_prefix(std::string_view block) {
    if (block.substr(0, exif_prefix.size()) == exif_prefix) {
        return block.substr(exif_prefix.size());
    }
    return block;
}

}  // namespace

int tiff_orientation(std::string_view tiff) {
    const byte_reader r(tiff);
    bool big_endian = false;
    if (r.equals(0, "MM")) {
        big_endian = true;
    } else if (!r.equals(0, "II")) {
        return 1;
    }
    const auto magic = r.u16(2, big_endian);
    const auto ifd = r.u32(4, big_endian);
    if (magic != 42u || !ifd) {
        return 1;
    }
    const auto entries = r.u16(*ifd, big_endian);
    if (!entries) {
        return 1;
    }
    for (std::size_t i = 0; i < *entries; ++i) {
        const std::size_t entry = *ifd + 2 + 12 * i;
        const auto tag = r.u16(entry, big_endian);
        if (!tag) {
            return 1;  // ran off the end of the block
        }
        if (*tag == orientation_tag) {
            return entry_orientation(r, entry, big_endian);
        }
    }
    return 1;
}

int jpeg_exif_orientation(std::string_view jpeg) {
    const byte_reader r(jpeg);
    if (!r.equals(0, "\xFF\xD8")) {
        return 1;
    }
    std::size_t pos = 2;
    while (true) {
        const auto ff = r.u8(pos);
        const auto marker = r.u8(pos + 1);
        if (ff != 0xFF || !marker || *marker == 0xDA || *marker == 0xD9) {
            return 1;  // not a segment, or the image data starts: no EXIF before it
        }
        if (*marker == 0xFF || *marker == 0x01 || (*marker >= 0xD0 && *marker <= 0xD8)) {
            pos += *marker == 0xFF ? 1 : 2;  // fill byte or a marker without a length
            continue;
        }
        const auto length = r.u16be(pos + 2);
        if (!length || *length < 2) {
            return 1;
        }
        const std::string_view payload = r.slice(pos + 4, *length - 2u);
        if (*marker == 0xE1 && payload.substr(0, exif_prefix.size()) == exif_prefix) {
            return tiff_orientation(payload.substr(exif_prefix.size()));
        }
        pos += 2 + *length;
    }
}

int webp_exif_orientation(std::string_view webp) {
    const byte_reader r(webp);
    if (!r.equals(0, "RIFF") || !r.equals(8, "WEBP")) {
        return 1;
    }
    std::size_t pos = 12;
    while (true) {
        const auto size = r.u32le(pos + 4);
        if (!size) {
            return 1;
        }
        if (r.equals(pos, "EXIF")) {
            return tiff_orientation(strip_exif_prefix(r.slice(pos + 8, *size)));
        }
        const std::size_t padded = static_cast<std::size_t>(*size) + (*size & 1u);
        if (!r.fits(pos + 8, padded)) {
            return 1;
        }
        pos += 8 + padded;
    }
}

}  // namespace boomer::image
