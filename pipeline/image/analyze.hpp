// Local analysis of a photo before any paid model sees it: exposure and sharpness checks that
// tell the seller to retake a bad photo, barcodes and QR codes read from the pixels, and
// near-duplicate detection within an item. Runs on the CPU pool: plain blocking calls.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "pipeline/image/normalize.hpp"

namespace boomer::image {

// Stable warning codes in image_analysis::warnings (API output and metrics labels).
namespace warnings {
inline constexpr std::string_view too_dark = "too_dark";          // mean luma < 45
inline constexpr std::string_view too_bright = "too_bright";      // mean luma > 235, > 70 % clipped
inline constexpr std::string_view blurry = "blurry";              // sharpness < 50
inline constexpr std::string_view too_small = "too_small";        // source long edge < 500 px
inline constexpr std::string_view low_contrast = "low_contrast";  // luma standard deviation < 20
}  // namespace warnings

// One decoded barcode. `symbology` is one of our stable names: "EAN-13", "EAN-8", "UPC-A",
// "UPC-E", "ISBN-13", "I2/5", "CODABAR", "CODE-39", "CODE-93", "CODE-128", "QR-Code". A UPC-A is
// reported as UPC-A (12 digits), not as the EAN-13 with a leading 0 it also is; a Bookland EAN-13
// (978/979) as ISBN-13 with its 13 digits.
struct barcode {
    std::string symbology;
    std::string text;
    bool operator==(const barcode&) const = default;
};

// What the pixels say about the photo. The measures are taken on the normalized image scaled so
// its long edge is at most 1024 px, so they compare across source sizes.
struct image_analysis {
    double sharpness = 0;               // variance of the Laplacian of luma (higher is sharper)
    double mean_luma = 0;               // 0..255
    double contrast = 0;                // standard deviation of luma, 0..~128
    double dark_fraction = 0;           // share of pixels with luma < 32
    double bright_fraction = 0;         // share of pixels with luma > 235
    std::vector<std::string> warnings;  // codes from boomer::image::warnings, in that order
    std::vector<barcode> barcodes;      // distinct (symbology, text), in the order found
};

// A normalized photo with its analysis.
struct processed_image {
    normalized_image image;
    image_analysis analysis;
};

// process normalizes `original_bytes` (see normalize) and analyses the result. Barcodes are read
// from the normalized pixels; when none is found there but a barcode-like region is seen and the
// original had at least 1.5 times the pixels per edge, the original is decoded again at higher
// resolution (never more than limits.max_pixels) and those regions are read there.
// Errors: as normalize. Thread-safe; `original_bytes` need only live during the call.
result<processed_image> process(std::string_view original_bytes,
                                const normalize_limits& limits = {});

// analyze measures an already normalized image (decoding image.jpeg again): exposure, sharpness,
// warnings and barcodes at the normalized resolution. A JPEG that does not decode yields an
// analysis with zero measures and no barcodes. Thread-safe.
image_analysis analyze(const normalized_image& image);

// near_duplicates returns the index pairs (i < j) of `phashes` whose phash_distance is at most
// `max_distance` (about 10 of 64 bits catches re-shot or re-cropped copies of the same photo).
// Malformed hashes match nothing. Thread-safe.
std::vector<std::pair<int, int>> near_duplicates(const std::vector<std::string>& phashes,
                                                 unsigned max_distance);

}  // namespace boomer::image
