// Synthetic images and JPEG readers for the image module's tests.
#include "tests/image/image_fixtures.hpp"

#include <gif_lib.h>

// jpeglib.h uses FILE and size_t without including their headers.
// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace boomer::image::test {
namespace {

[[noreturn]] void throw_jpeg_error(j_common_ptr cinfo) {
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    throw std::runtime_error(std::string("libjpeg: ") + message);
}

void ignore_jpeg_message(j_common_ptr, int) {}

// Where display pixel (x, y) comes from in a picture stored with `orientation` (EXIF 2.3,
// tag 0x0112) whose stored size is sw x sh.
void source_of(int orientation, int x, int y, int sw, int sh, int* sx, int* sy) {
    switch (orientation) {
        case 2:
            *sx = sw - 1 - x;
            *sy = y;
            return;
        case 3:
            *sx = sw - 1 - x;
            *sy = sh - 1 - y;
            return;
        case 4:
            *sx = x;
            *sy = sh - 1 - y;
            return;
        case 5:
            *sx = y;
            *sy = x;
            return;
        case 6:
            *sx = y;
            *sy = sh - 1 - x;
            return;
        case 7:
            *sx = sw - 1 - y;
            *sy = sh - 1 - x;
            return;
        case 8:
            *sx = sw - 1 - y;
            *sy = x;
            return;
        default:
            *sx = x;
            *sy = y;
            return;
    }
}

void put_u16(std::string* out, unsigned value, bool big_endian) {
    const char hi = static_cast<char>((value >> 8) & 0xFF);
    const char lo = static_cast<char>(value & 0xFF);
    *out += big_endian ? hi : lo;
    *out += big_endian ? lo : hi;
}

void put_u32(std::string* out, std::uint32_t value, bool big_endian) {
    put_u16(out, big_endian ? value >> 16 : value & 0xFFFF, big_endian);
    put_u16(out, big_endian ? value & 0xFFFF : value >> 16, big_endian);
}

void put_be32(std::string* out, std::uint32_t value) {
    put_u32(out, value, true);
}

void ifd_entry(std::string* out, unsigned tag, unsigned type, std::uint32_t count,
               std::uint32_t value, bool big_endian) {
    put_u16(out, tag, big_endian);
    put_u16(out, type, big_endian);
    put_u32(out, count, big_endian);
    if (type == 3 && count == 1) {
        put_u16(out, value, big_endian);
        put_u16(out, 0, big_endian);
    } else {
        put_u32(out, value, big_endian);
    }
}

std::uint32_t crc32_of(std::string_view bytes) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) {
                c = (c & 1) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
            }
            t[n] = c;
        }
        return t;
    }();
    std::uint32_t crc = 0xFFFFFFFFU;
    for (const char ch : bytes) {
        crc = table[(crc ^ static_cast<std::uint8_t>(ch)) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFU;
}

std::uint32_t adler32_of(std::string_view bytes) {
    std::uint32_t a = 1;
    std::uint32_t b = 0;
    for (const char ch : bytes) {
        a = (a + static_cast<std::uint8_t>(ch)) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

void png_chunk(std::string* out, std::string_view type, std::string_view data) {
    put_be32(out, static_cast<std::uint32_t>(data.size()));
    std::string body(type);
    body += data;
    *out += body;
    put_be32(out, crc32_of(body));
}

// A zlib stream of stored (uncompressed) deflate blocks.
std::string zlib_stored(std::string_view raw) {
    std::string out("\x78\x01", 2);
    std::size_t pos = 0;
    do {
        const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
        out += static_cast<char>(pos + n == raw.size() ? 1 : 0);
        put_u16(&out, static_cast<unsigned>(n), false);
        put_u16(&out, static_cast<unsigned>(~n & 0xFFFF), false);
        out.append(raw.substr(pos, n));
        pos += n;
    } while (pos < raw.size());
    put_be32(&out, adler32_of(raw));
    return out;
}

int gif_write(GifFileType* gif, const GifByteType* data, int length) {
    auto* out = static_cast<std::string*>(gif->UserData);
    out->append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
    return length;
}

constexpr std::array<const char*, 10> ean_l{"0001101", "0011001", "0010011", "0111101", "0100011",
                                            "0110001", "0101111", "0111011", "0110111", "0001011"};
constexpr std::array<const char*, 10> ean_g{"0100111", "0110011", "0011011", "0100001", "0011101",
                                            "0111001", "0000101", "0010001", "0001001", "0010111"};
constexpr std::array<const char*, 10> ean_r{"1110010", "1100110", "1101100", "1000010", "1011100",
                                            "1001110", "1010000", "1000100", "1001000", "1110100"};
constexpr std::array<const char*, 10> ean_parity{"LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
                                                 "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"};

void append_modules(std::vector<int>* out, const char* pattern) {
    for (const char* p = pattern; *p != '\0'; ++p) {
        out->push_back(*p == '1' ? 1 : 0);
    }
}

}  // namespace

raster asymmetric_picture(int width, int height) {
    raster out(width, height, 3);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            std::uint8_t* p = out.at(x, y);
            p[0] = static_cast<std::uint8_t>(40 + 180 * x / width);
            p[1] = static_cast<std::uint8_t>(40 + 180 * y / height);
            p[2] = static_cast<std::uint8_t>(120);
            if (x < width / 3 && y < height / 3) {
                p[0] = p[1] = p[2] = 10;  // dark block, top left
            }
            if (y >= height * 5 / 6) {
                p[0] = 230;  // red bar along the bottom
                p[1] = p[2] = 30;
            }
        }
    }
    return out;
}

raster stored_for_orientation(const raster& upright, int orientation) {
    const bool swapped = orientation >= 5 && orientation <= 8;
    const int sw = swapped ? upright.height : upright.width;
    const int sh = swapped ? upright.width : upright.height;
    raster stored(sw, sh, upright.channels);
    for (int y = 0; y < upright.height; ++y) {
        for (int x = 0; x < upright.width; ++x) {
            int sx = 0;
            int sy = 0;
            source_of(orientation, x, y, sw, sh, &sx, &sy);
            std::memcpy(stored.at(sx, sy), upright.at(x, y),
                        static_cast<std::size_t>(upright.channels));
        }
    }
    return stored;
}

raster to_gray(const raster& image) {
    if (image.channels == 1) {
        return image;
    }
    raster gray(image.width, image.height, 1);
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < image.width; ++x) {
            const std::uint8_t* p = image.at(x, y);
            gray.at(x, y)[0] =
                static_cast<std::uint8_t>((299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000);
        }
    }
    return gray;
}

raster shrink_gray(const raster& gray, int factor) {
    raster out(gray.width / factor, gray.height / factor, 1);
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            int sum = 0;
            for (int dy = 0; dy < factor; ++dy) {
                for (int dx = 0; dx < factor; ++dx) {
                    sum += gray.at(x * factor + dx, y * factor + dy)[0];
                }
            }
            out.at(x, y)[0] = static_cast<std::uint8_t>(sum / (factor * factor));
        }
    }
    return out;
}

double mean_abs_diff(const raster& a, const raster& b) {
    if (a.width != b.width || a.height != b.height || a.channels != b.channels ||
        a.pixels.empty()) {
        throw std::invalid_argument("mean_abs_diff: rasters differ in size");
    }
    double sum = 0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) {
        sum += std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i]));
    }
    return sum / static_cast<double>(a.pixels.size());
}

std::string encode_jpeg(const raster& image, int quality, const std::vector<jpeg_segment>& segments,
                        bool progressive) {
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr err{};
    cinfo.err = jpeg_std_error(&err);
    err.error_exit = throw_jpeg_error;
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(image.width);
    cinfo.image_height = static_cast<JDIMENSION>(image.height);
    cinfo.input_components = image.channels;
    cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive) {
        jpeg_simple_progression(&cinfo);
    }
    cinfo.write_JFIF_header = segments.empty() ? TRUE : FALSE;
    jpeg_start_compress(&cinfo, TRUE);
    for (const jpeg_segment& s : segments) {
        jpeg_write_marker(&cinfo, s.marker, reinterpret_cast<const JOCTET*>(s.payload.data()),
                          static_cast<unsigned>(s.payload.size()));
    }
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row =
            const_cast<std::uint8_t*>(image.at(0, static_cast<int>(cinfo.next_scanline)));
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    std::string out(reinterpret_cast<const char*>(buffer), size);
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    return out;
}

std::string encode_cmyk_jpeg(const raster& rgb, int quality) {
    // With no black ink, Adobe's inverted cyan, magenta and yellow equal red, green and blue.
    raster cmyk(rgb.width, rgb.height, 4);
    for (int y = 0; y < rgb.height; ++y) {
        for (int x = 0; x < rgb.width; ++x) {
            std::memcpy(cmyk.at(x, y), rgb.at(x, y), 3);
            cmyk.at(x, y)[3] = 255;
        }
    }
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr err{};
    cinfo.err = jpeg_std_error(&err);
    err.error_exit = throw_jpeg_error;
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(cmyk.width);
    cinfo.image_height = static_cast<JDIMENSION>(cmyk.height);
    cinfo.input_components = 4;
    cinfo.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = cmyk.at(0, static_cast<int>(cinfo.next_scanline));
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    std::string out(reinterpret_cast<const char*>(buffer), size);
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    return out;
}

int jpeg_components(std::string_view jpeg) {
    for (std::size_t pos = 2; pos + 10 <= jpeg.size();) {
        const auto marker = static_cast<std::uint8_t>(jpeg[pos + 1]);
        if (static_cast<std::uint8_t>(jpeg[pos]) != 0xFF || marker == 0xDA) {
            return 0;
        }
        if (marker >= 0xC0 && marker <= 0xC2) {
            return static_cast<std::uint8_t>(jpeg[pos + 9]);
        }
        pos += 2 + (static_cast<std::size_t>(static_cast<std::uint8_t>(jpeg[pos + 2])) << 8 |
                    static_cast<std::uint8_t>(jpeg[pos + 3]));
    }
    return 0;
}

namespace {

raster decode_jpeg_as(std::string_view jpeg, J_COLOR_SPACE space, int channels, int scale_denom) {
    jpeg_decompress_struct cinfo{};
    jpeg_error_mgr err{};
    cinfo.err = jpeg_std_error(&err);
    err.error_exit = throw_jpeg_error;
    err.emit_message = ignore_jpeg_message;
    jpeg_create_decompress(&cinfo);
    try {
        jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(jpeg.data()),
                     static_cast<unsigned long>(jpeg.size()));
        jpeg_read_header(&cinfo, TRUE);
        cinfo.out_color_space = space;
        cinfo.scale_num = 1;
        cinfo.scale_denom = static_cast<unsigned>(scale_denom);
        jpeg_start_decompress(&cinfo);
        raster out(static_cast<int>(cinfo.output_width), static_cast<int>(cinfo.output_height),
                   channels);
        while (cinfo.output_scanline < cinfo.output_height) {
            JSAMPROW row = out.at(0, static_cast<int>(cinfo.output_scanline));
            jpeg_read_scanlines(&cinfo, &row, 1);
        }
        jpeg_finish_decompress(&cinfo);
        jpeg_destroy_decompress(&cinfo);
        return out;
    } catch (...) {
        jpeg_destroy_decompress(&cinfo);
        throw;
    }
}

}  // namespace

raster decode_jpeg_gray(std::string_view jpeg, int scale_denom) {
    return decode_jpeg_as(jpeg, JCS_GRAYSCALE, 1, scale_denom);
}

raster decode_jpeg_rgb(std::string_view jpeg) {
    return decode_jpeg_as(jpeg, JCS_RGB, 3, 1);
}

std::array<double, 3> mean_rgb(const raster& rgb, int x0, int y0, int x1, int y1) {
    std::array<double, 3> sum{};
    for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) {
            for (int c = 0; c < 3; ++c) {
                sum[static_cast<std::size_t>(c)] += rgb.at(x, y)[c];
            }
        }
    }
    const double count = static_cast<double>(x1 - x0) * (y1 - y0);
    for (double& v : sum) {
        v /= count;
    }
    return sum;
}

std::string exif_payload(int orientation, bool big_endian, bool with_gps) {
    std::string tiff(big_endian ? "MM" : "II");
    put_u16(&tiff, 42, big_endian);
    put_u32(&tiff, 8, big_endian);
    const unsigned entries = (orientation > 0 ? 1U : 0U) + (with_gps ? 2U : 0U);
    put_u16(&tiff, entries, big_endian);
    const std::uint32_t after_ifd0 = 8 + 2 + 12 * entries + 4;
    if (with_gps) {
        ifd_entry(&tiff, 0x010F, 2, 6, after_ifd0, big_endian);  // Make, "Nikon\0"
    }
    if (orientation > 0) {
        ifd_entry(&tiff, 0x0112, 3, 1, static_cast<std::uint32_t>(orientation), big_endian);
    }
    if (with_gps) {
        ifd_entry(&tiff, 0x8825, 4, 1, after_ifd0 + 6, big_endian);  // GPS IFD pointer
    }
    put_u32(&tiff, 0, big_endian);
    if (with_gps) {
        tiff.append("Nikon\0", 6);
        put_u16(&tiff, 1, big_endian);                            // one GPS entry:
        ifd_entry(&tiff, 0x0001, 2, 2, 0x4E000000U, big_endian);  // GPSLatitudeRef "N"
        put_u32(&tiff, 0, big_endian);
        tiff += "GPS 43N 11E";  // a marker the output must not carry
    }
    return std::string("Exif\0\0", 6) + tiff;
}

std::string icc_payload() {
    std::string payload("ICC_PROFILE\0", 12);
    payload += '\x01';
    payload += '\x01';
    payload += std::string(128, '\x2A');
    return payload;
}

std::vector<int> jpeg_markers(std::string_view jpeg) {
    std::vector<int> markers;
    std::size_t pos = 2;
    auto byte = [&](std::size_t at) { return static_cast<std::uint8_t>(jpeg[at]); };
    while (pos + 4 <= jpeg.size() && byte(pos) == 0xFF) {
        const int marker = byte(pos + 1);
        markers.push_back(marker);
        if (marker == 0xD9) {
            return markers;
        }
        const std::size_t length = static_cast<std::size_t>(byte(pos + 2)) << 8 | byte(pos + 3);
        pos += 2 + length;
        if (marker == 0xDA) {
            // Skip entropy-coded data: stuffed 0xFF00 and restart markers belong to it.
            while (pos + 1 < jpeg.size() && !(byte(pos) == 0xFF && byte(pos + 1) != 0x00 &&
                                              (byte(pos + 1) < 0xD0 || byte(pos + 1) > 0xD7))) {
                ++pos;
            }
            if (pos + 1 < jpeg.size() && byte(pos + 1) == 0xD9) {
                markers.push_back(0xD9);
                return markers;
            }
        }
    }
    return markers;
}

std::string encode_png(const raster& image, int bit_depth) {
    static constexpr std::array<int, 5> color_type{0, 0, 4, 2, 6};  // by channel count
    std::string header;
    put_be32(&header, static_cast<std::uint32_t>(image.width));
    put_be32(&header, static_cast<std::uint32_t>(image.height));
    header += static_cast<char>(bit_depth);
    header += static_cast<char>(color_type.at(static_cast<std::size_t>(image.channels)));
    header.append(3, '\0');
    std::string raw;
    for (int y = 0; y < image.height; ++y) {
        raw += '\0';  // filter: none
        for (int x = 0; x < image.width; ++x) {
            for (int c = 0; c < image.channels; ++c) {
                const char sample = static_cast<char>(image.at(x, y)[c]);
                raw += sample;
                if (bit_depth == 16) {
                    raw += sample;  // v * 257: the same value at 16 bits
                }
            }
        }
    }
    std::string png("\x89PNG\r\n\x1a\n", 8);
    png_chunk(&png, "IHDR", header);
    png_chunk(&png, "IDAT", zlib_stored(raw));
    png_chunk(&png, "IEND", "");
    return png;
}

std::string encode_gif(const raster& rgb, const std::vector<std::uint8_t>& transparent_mask,
                       bool interlaced) {
    std::string out;
    int error = 0;
    GifFileType* gif = EGifOpen(&out, gif_write, &error);
    if (gif == nullptr) {
        throw std::runtime_error("giflib: cannot open writer");
    }
    ColorMapObject* colors = GifMakeMapObject(256, nullptr);
    for (int i = 0; i < 256; ++i) {
        colors->Colors[i].Red = static_cast<GifByteType>((i >> 5) * 255 / 7);
        colors->Colors[i].Green = static_cast<GifByteType>(((i >> 2) & 7) * 255 / 7);
        colors->Colors[i].Blue = static_cast<GifByteType>((i & 3) * 255 / 3);
    }
    const int transparent = 0;  // index 0 (black) doubles as the transparent colour
    EGifSetGifVersion(gif, true);
    EGifPutScreenDesc(gif, rgb.width, rgb.height, 8, 0, colors);
    if (!transparent_mask.empty()) {
        GraphicsControlBlock gcb{};
        gcb.TransparentColor = transparent;
        GifByteType block[4];
        const std::size_t n = EGifGCBToExtension(&gcb, block);
        EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(n), block);
    }
    EGifPutImageDesc(gif, 0, 0, rgb.width, rgb.height, interlaced, nullptr);
    std::vector<int> rows;
    for (int y = 0; y < rgb.height; ++y) {
        rows.push_back(y);
    }
    if (interlaced) {
        rows.clear();
        for (const auto& [start, step] : {std::pair{0, 8}, {4, 8}, {2, 4}, {1, 2}}) {
            for (int y = start; y < rgb.height; y += step) {
                rows.push_back(y);
            }
        }
    }
    std::vector<GifPixelType> line(static_cast<std::size_t>(rgb.width));
    for (const int y : rows) {
        for (int x = 0; x < rgb.width; ++x) {
            const std::uint8_t* p = rgb.at(x, y);
            int index = (p[0] >> 5) << 5 | (p[1] >> 5) << 2 | p[2] >> 6;
            const std::size_t at = static_cast<std::size_t>(y * rgb.width + x);
            if (!transparent_mask.empty() && transparent_mask[at] != 0) {
                index = transparent;
            } else if (!transparent_mask.empty() && index == transparent) {
                index = 1;
            }
            line[static_cast<std::size_t>(x)] = static_cast<GifPixelType>(index);
        }
        EGifPutLine(gif, line.data(), rgb.width);
    }
    EGifCloseFile(gif, &error);
    GifFreeMapObject(colors);
    return out;
}

char ean13_check_digit(const std::string& twelve_digits) {
    int sum = 0;
    for (std::size_t i = 0; i < 12; ++i) {
        sum += (twelve_digits.at(i) - '0') * (i % 2 == 0 ? 1 : 3);
    }
    return static_cast<char>('0' + (10 - sum % 10) % 10);
}

std::vector<int> ean13_modules(const std::string& digits) {
    const std::string code = digits.size() == 12 ? digits + ean13_check_digit(digits) : digits;
    std::vector<int> modules;
    append_modules(&modules, "101");
    const char* parity = ean_parity.at(static_cast<std::size_t>(code.at(0) - '0'));
    for (std::size_t i = 1; i <= 6; ++i) {
        const auto d = static_cast<std::size_t>(code.at(i) - '0');
        append_modules(&modules, parity[i - 1] == 'L' ? ean_l.at(d) : ean_g.at(d));
    }
    append_modules(&modules, "01010");
    for (std::size_t i = 7; i <= 12; ++i) {
        append_modules(&modules, ean_r.at(static_cast<std::size_t>(code.at(i) - '0')));
    }
    append_modules(&modules, "101");
    return modules;
}

raster draw_ean13(const std::string& digits, int module, int height) {
    const std::vector<int> modules = ean13_modules(digits);
    const int quiet = 11 * module;
    const int width = static_cast<int>(modules.size()) * module + 2 * quiet;
    raster out(width, height + 2 * quiet, 1, 255);
    for (std::size_t i = 0; i < modules.size(); ++i) {
        if (modules[i] == 0) {
            continue;
        }
        for (int y = quiet; y < quiet + height; ++y) {
            for (int dx = 0; dx < module; ++dx) {
                out.at(quiet + static_cast<int>(i) * module + dx, y)[0] = 0;
            }
        }
    }
    return out;
}

void paste(raster* into, const raster& part, int x, int y) {
    for (int py = 0; py < part.height; ++py) {
        for (int px = 0; px < part.width; ++px) {
            std::uint8_t* dst = into->at(x + px, y + py);
            for (int c = 0; c < into->channels; ++c) {
                dst[c] = part.at(px, py)[0];
            }
        }
    }
}

}  // namespace boomer::image::test
