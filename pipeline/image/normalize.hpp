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
    // The share (0..1) of the frame that the bounding box of its content covers: on a 64x64
    // grey thumbnail (the grey picture the hash sees, area-averaged so JPEG noise and fine
    // texture average out), the pixels more than content_contrast levels from the median grey
    // of the border pixels (the background, when there is one). 0 for a uniform picture.
    double content_fraction = 1.0;
    // Set when content_fraction is below phash_unsure_below: the hash then mostly describes the
    // background, and photos of different small things on the same backdrop hash alike.
    bool phash_unsure = false;
};

// How far from the background's grey a thumbnail pixel must be to count as content.
inline constexpr int content_contrast = 16;

// Photos whose content box covers less of the frame than this are phash_unsure. Basis (the
// "[.survey]" cases of tests/image/phash_survey_test.cpp): the 22 item photos of the shared set,
// each scaled to a long edge of 250, 300, 400, 500 or 600 px and centred on a plain 1200x1200
// #f4f4f4 canvas. Pairs of different objects hashed within the reuse distance (5 bits) at 250 px
// (10 pairs; boxes of 2-5% of the frame), 300 px (12 pairs, one at 1 bit; 3-6%) and 400 px (1
// pair; 5-11%); at 500 px (7-18%) and 600 px (10-25%) no pair came within 8 bits. The real item
// photos cover 50% to 100%. 0.15 marks every composite size that collided, with margin above
// its largest box (11%), and stays a third of the smallest real photo's.
inline constexpr double phash_unsure_below = 0.15;

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
