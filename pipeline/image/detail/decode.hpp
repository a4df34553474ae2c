// Internal to boomer_image: format decoders that turn file bytes into 8-bit BGR pixels.
// Includes OpenCV, so it must not be included from outside pipeline/image (the module adds
// OpenCV's include directories privately).
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string_view>

#include "core/result.hpp"
#include "pipeline/image/probe.hpp"

namespace boomer::image::detail {

// What a decoder produced: pixels as stored in the file (CV_8UC3, BGR, never empty) and the EXIF
// orientation (1..8) still to be applied to them. Formats whose decoder already turns the image
// upright (HEIF family) or that carry no orientation (PNG, GIF) report 1.
struct decoded {
    cv::Mat bgr;
    int orientation = 1;
};

// How much to decode. min_long_edge > 0 lets a JPEG decode at a reduced DCT scale (1/2, 1/4,
// 1/8) as long as the long edge stays at or above it; 0 asks for full size.
struct decode_options {
    std::uint64_t max_pixels = 0;
    int min_long_edge = 0;
};

// decode dispatches on `info.format` (as found by probe). Errors: too_many_pixels when the decoder
// finds more pixels than allowed, unsupported_format for variants we cannot decode (12-bit or
// lossless JPEG, animated WebP, AVIF without a decoder), corrupt_image for damaged or truncated
// data. `bytes` need only live during the call. Thread-safe.
result<decoded> decode(std::string_view bytes, const probe_info& info, const decode_options& opt);

// The per-format decoders behind decode, same contract.
result<decoded> decode_jpeg(std::string_view bytes, const decode_options& opt);
result<decoded> decode_gif(std::string_view bytes, const decode_options& opt);
result<decoded> decode_heif(std::string_view bytes, const decode_options& opt);
result<decoded> decode_png_or_webp(std::string_view bytes, const probe_info& info);

// too_many_pixels_failure is the failure for an image of width x height over `max_pixels`, with a
// message that gives both.
unexpected<failure> too_many_pixels_failure(std::uint64_t width, std::uint64_t height,
                                            std::uint64_t max_pixels);

// to_bgr8 converts what OpenCV's decoders return (1, 3 or 4 channels, 8 or 16 bits) to CV_8UC3:
// 16-bit samples are scaled down, gray is expanded, alpha is composited onto white.
cv::Mat to_bgr8(const cv::Mat& pixels);

// composite_on_white blends a CV_8UC4 BGRA image onto an opaque white background.
cv::Mat composite_on_white(const cv::Mat& bgra);

// apply_orientation turns pixels stored with EXIF orientation `orientation` (1..8) upright.
cv::Mat apply_orientation(const cv::Mat& pixels, int orientation);

}  // namespace boomer::image::detail
