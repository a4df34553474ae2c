// Bounds-checked reads of big- and little-endian integers from untrusted bytes, shared by the
// header parsers (probe, EXIF). Every read says whether it fitted; none reads out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace boomer::image {

// byte_reader views `bytes` (which must outlive it) and reads fixed-width integers at absolute
// offsets. A read that does not fit returns nullopt. Cheap to copy; not shared between threads.
class byte_reader {
public:
    explicit byte_reader(std::string_view bytes) : bytes_(bytes) {}

    std::size_t size() const { return bytes_.size(); }

    // fits says whether [offset, offset + count) lies inside the bytes (overflow-safe).
    bool fits(std::size_t offset, std::size_t count) const {
        return offset <= bytes_.size() && count <= bytes_.size() - offset;
    }

    std::optional<std::uint8_t> u8(std::size_t offset) const {
        if (!fits(offset, 1)) {
            return std::nullopt;
        }
        return byte_at(offset);
    }

    std::optional<std::uint16_t> u16be(std::size_t offset) const { return u16(offset, true); }
    std::optional<std::uint16_t> u16le(std::size_t offset) const { return u16(offset, false); }
    std::optional<std::uint32_t> u24le(std::size_t offset) const { return read(offset, 3, false); }
    std::optional<std::uint32_t> u32be(std::size_t offset) const { return read(offset, 4, true); }
    std::optional<std::uint32_t> u32le(std::size_t offset) const { return read(offset, 4, false); }

    // u16 / u32 read in the byte order chosen at run time (TIFF headers say which).
    std::optional<std::uint16_t> u16(std::size_t offset, bool big_endian) const {
        const auto value = read(offset, 2, big_endian);
        if (!value) {
            return std::nullopt;
        }
        return static_cast<std::uint16_t>(*value);
    }
    std::optional<std::uint32_t> u32(std::size_t offset, bool big_endian) const {
        return read(offset, 4, big_endian);
    }

    // equals says whether the bytes at `offset` spell `text` exactly.
    bool equals(std::size_t offset, std::string_view text) const {
        return fits(offset, text.size()) && bytes_.substr(offset, text.size()) == text;
    }

    // slice returns [offset, offset + count) clamped to the end of the bytes.
    std::string_view slice(std::size_t offset, std::size_t count) const {
        if (offset >= bytes_.size()) {
            return {};
        }
        return bytes_.substr(offset, count);
    }

private:
    std::uint8_t byte_at(std::size_t offset) const {
        return static_cast<std::uint8_t>(bytes_[offset]);
    }

    std::optional<std::uint32_t> read(std::size_t offset, std::size_t width,
                                      bool big_endian) const {
        if (!fits(offset, width)) {
            return std::nullopt;
        }
        std::uint32_t value = 0;
        for (std::size_t i = 0; i < width; ++i) {
            const std::size_t at = big_endian ? offset + i : offset + width - 1 - i;
            value = (value << 8) | byte_at(at);
        }
        return value;
    }

    std::string_view bytes_;
};

}  // namespace boomer::image
