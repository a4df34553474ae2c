// Test fixtures for the image module: small synthetic images in every format we read (JPEG with
// chosen EXIF/ICC segments, PNG at any bit depth, GIF), an EAN-13 renderer, and readers for what
// normalize writes (JPEG pixels, JPEG segment markers). Built on libjpeg and giflib, which the
// image module links, so the tests need no OpenCV headers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace boomer::image::test {

// An 8-bit image: 1 (grey), 3 (RGB) or 4 (RGBA) interleaved channels, rows top to bottom.
struct raster {
    int width = 0;
    int height = 0;
    int channels = 3;
    std::vector<std::uint8_t> pixels;

    raster() = default;
    raster(int w, int h, int c, std::uint8_t fill = 0)
        : width(w),
          height(h),
          channels(c),
          pixels(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) *
                     static_cast<std::size_t>(c),
                 fill) {}

    std::uint8_t* at(int x, int y) {
        return pixels.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                                static_cast<std::size_t>(x)) *
                                   static_cast<std::size_t>(channels);
    }
    const std::uint8_t* at(int x, int y) const { return const_cast<raster*>(this)->at(x, y); }
};

// A colourful picture with no symmetry (a dark block top-left, a red bar along the bottom, a
// diagonal gradient), so every flip and rotation of it looks different.
raster asymmetric_picture(int width, int height);

// The picture a file must store so that EXIF `orientation` (1..8) displays `upright`.
raster stored_for_orientation(const raster& upright, int orientation);

// to_gray converts RGB(A) to luma; grey stays as is.
raster to_gray(const raster& image);

// shrink_gray averages a grey raster down by an integer factor (for comparing pictures).
raster shrink_gray(const raster& gray, int factor);

// mean_abs_diff between two grey rasters of the same size (0..255).
double mean_abs_diff(const raster& a, const raster& b);

// A JPEG segment to insert after SOI: marker (0xE1 for APP1, ...) and payload.
struct jpeg_segment {
    int marker = 0;
    std::string payload;
};

// encode_jpeg writes a baseline (or progressive) JPEG of a grey or RGB raster with libjpeg.
std::string encode_jpeg(const raster& image, int quality = 90,
                        const std::vector<jpeg_segment>& segments = {}, bool progressive = false);

// encode_cmyk_jpeg writes an RGB raster as a four-channel CMYK JPEG the way Adobe software does
// (inverted samples, an Adobe APP14 marker).
std::string encode_cmyk_jpeg(const raster& rgb, int quality = 95);

// jpeg_components returns the component count of a JPEG's first frame header (0 if none).
int jpeg_components(std::string_view jpeg);

// decode_jpeg_gray decodes a JPEG to grey with libjpeg, optionally at 1/2, 1/4 or 1/8 scale.
// Throws std::runtime_error when libjpeg fails.
raster decode_jpeg_gray(std::string_view jpeg, int scale_denom = 1);

// decode_jpeg_rgb decodes a JPEG to RGB with libjpeg. Throws std::runtime_error on failure.
raster decode_jpeg_rgb(std::string_view jpeg);

// mean_rgb of the pixels in [x0, x1) x [y0, y1) of an RGB raster.
std::array<double, 3> mean_rgb(const raster& rgb, int x0, int y0, int x1, int y1);

// exif_payload builds an APP1 payload ("Exif\0\0" + big- or little-endian TIFF) with an
// Orientation tag (unless orientation is 0) and, when asked, a Make tag and a GPS IFD.
std::string exif_payload(int orientation, bool big_endian = true, bool with_gps = false);

// icc_payload builds an APP2 ICC_PROFILE payload around a dummy profile.
std::string icc_payload();

// The markers (second byte after 0xFF) of a JPEG's segments in order: those before the first
// scan, the scan itself (0xDA), any between scans, and EOI (0xD9) when present.
std::vector<int> jpeg_markers(std::string_view jpeg);

// encode_png writes a PNG (stored deflate blocks: no zlib needed). bit_depth 8 or 16; channels 1
// (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA). For 16 bits each 8-bit sample is widened.
std::string encode_png(const raster& image, int bit_depth = 8);

// encode_gif writes a one-frame GIF of an RGB raster (colours quantised to 3-3-2 bits); pixels
// whose `transparent_mask` byte is non-zero are written transparent. Optionally interlaced.
std::string encode_gif(const raster& rgb, const std::vector<std::uint8_t>& transparent_mask = {},
                       bool interlaced = false);

// EAN-13 modules (1 = bar) for 12 or 13 digits (the check digit is computed when 12 are given).
std::vector<int> ean13_modules(const std::string& digits);

// ean13_check_digit of the first 12 digits.
char ean13_check_digit(const std::string& twelve_digits);

// draw_ean13 renders an EAN-13 with quiet zones on white: `module` px per module, bars `height`
// px tall, as grey.
raster draw_ean13(const std::string& digits, int module, int height);

// paste copies `part` (grey) into `into` (grey or RGB) at (x, y).
void paste(raster* into, const raster& part, int x, int y);

}  // namespace boomer::image::test
