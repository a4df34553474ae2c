// Turns an uploaded photo (JPEG, PNG, WebP, GIF, HEIC/HEIF, AVIF) into the one form the rest of
// the pipeline uses: an upright sRGB JPEG, long edge bounded, no metadata at all (no EXIF, GPS or
// ICC), with its SHA-256 and perceptual hash. Runs on the CPU pool: plain blocking calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "pipeline/image/failure_codes.hpp"
#include "pipeline/image/probe.hpp"

namespace boomer::image {

// Bounds on the work normalize does and what it produces.
struct normalize_limits {
    std::uint64_t max_pixels = 50'000'000;  // refuse larger sources before decoding (> 0)
    int max_long_edge = 1568;               // output long edge at most this (>= 16)
    int jpeg_quality = 85;                  // output JPEG quality, 1..100
};

// A normalized photo.
struct normalized_image {
    std::string jpeg;  // baseline JPEG, JFIF header only, upright
    int width = 0;     // of `jpeg`
    int height = 0;
    int source_width = 0;  // of the original as stored in the file (before orientation)
    int source_height = 0;
    image_format source_format = image_format::unknown;
    int exif_orientation = 1;  // 1..8 as found in the original (1 if none); already applied
    std::string sha256;        // of `jpeg`, lowercase hex
    std::string phash;         // 64-bit perceptual hash of the pixels, 16 lowercase hex chars
};

// normalize decodes `bytes`, applies EXIF orientation (JPEG, WebP; HEIF comes upright from its
// decoder), composites transparency onto white, scales down with area averaging so the long edge
// is at most limits.max_long_edge (never up), and encodes a JPEG without any metadata. Large
// JPEGs are decoded at a reduced DCT scale when that still leaves enough pixels.
// Errors (never retryable: the same bytes fail the same way):
//   unsupported_format  not an image we recognise, or a variant we cannot decode;
//   too_many_pixels     the header declares more than limits.max_pixels; checked before decoding;
//   corrupt_image       truncated or damaged data, including a JPEG libjpeg can only half decode.
// Precondition: `limits` within the ranges above, else std::invalid_argument (a configuration
// bug). `bytes` need only live during the call. Thread-safe: no shared mutable state; OpenCV may
// use its own worker threads inside a call unless the process sets cv::setNumThreads.
result<normalized_image> normalize(std::string_view bytes, const normalize_limits& limits = {});

// What phash_distance returns when a hash is malformed: farther than any two real hashes.
inline constexpr unsigned phash_incomparable = 65;

// phash_distance returns the Hamming distance (0..64) between two hashes as produced in
// normalized_image::phash (case-insensitive hex), or phash_incomparable when either is not 16
// hex characters. Thread-safe.
unsigned phash_distance(std::string_view a_hex, std::string_view b_hex);

}  // namespace boomer::image
