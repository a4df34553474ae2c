// Exposure, contrast and sharpness measures, barcode reading (with a higher-resolution retry on
// barcode-like regions), and near-duplicate pairs.
#include "pipeline/image/analyze.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pipeline/image/detail/barcodes.hpp"
#include "pipeline/image/detail/frame.hpp"

namespace boomer::image {
namespace {

// Measures are taken at this long edge at most, so they do not depend on the source size.
constexpr int measure_long_edge = 1024;
constexpr int dark_luma = 32;
constexpr int bright_luma = 235;

// Warning thresholds (see the codes in analyze.hpp), set on our test photos: night shots and a
// black-and-white concert photo (mean luma 39) are too dark, product shots on black (50..58) are
// not; a cut-out on white (mean 231, 82 % clipped) is not too bright; the two blurred barcode
// photos (sharpness 17 and 35) are blurry, a macro shot with soft background (65) is not.
constexpr double too_dark_mean = 45;
constexpr double too_bright_mean = 235;
constexpr double too_bright_clipped = 0.7;
constexpr double blurry_sharpness = 50;
constexpr int too_small_long_edge = 500;
constexpr double low_contrast_stddev = 20;

// A higher-resolution barcode retry is worth it when the original has this many times the
// normalized pixels per edge.
constexpr double retry_min_gain = 1.5;

cv::Mat to_gray(const cv::Mat& bgr) {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    return gray;
}

cv::Mat shrink_to(const cv::Mat& gray, int long_edge) {
    const int current = std::max(gray.cols, gray.rows);
    if (current <= long_edge) {
        return gray;
    }
    const double scale = static_cast<double>(long_edge) / current;
    cv::Mat out;
    cv::resize(gray, out, cv::Size(), scale, scale, cv::INTER_AREA);
    return out;
}

double share_of(const cv::Mat& mask) {
    return mask.empty() ? 0.0 : static_cast<double>(cv::countNonZero(mask)) / mask.total();
}

void measure(const cv::Mat& gray, image_analysis* out) {
    const cv::Mat small = shrink_to(gray, measure_long_edge);
    cv::Scalar mean;
    cv::Scalar stddev;
    cv::meanStdDev(small, mean, stddev);
    out->mean_luma = mean[0];
    out->contrast = stddev[0];
    out->dark_fraction = share_of(small < dark_luma);
    out->bright_fraction = share_of(small > bright_luma);

    cv::Mat laplacian;
    cv::Laplacian(small, laplacian, CV_32F);
    cv::meanStdDev(laplacian, mean, stddev);
    out->sharpness = stddev[0] * stddev[0];
}

void add_warnings(int source_long_edge, image_analysis* out) {
    auto add = [out](std::string_view code) { out->warnings.emplace_back(code); };
    if (out->mean_luma < too_dark_mean) {
        add(warnings::too_dark);
    }
    if (out->mean_luma > too_bright_mean && out->bright_fraction > too_bright_clipped) {
        add(warnings::too_bright);
    }
    if (out->sharpness < blurry_sharpness) {
        add(warnings::blurry);
    }
    if (source_long_edge < too_small_long_edge) {
        add(warnings::too_small);
    }
    if (out->contrast < low_contrast_stddev) {
        add(warnings::low_contrast);
    }
}

image_analysis analyze_gray(const cv::Mat& gray, int source_long_edge) {
    image_analysis out;
    measure(gray, &out);
    add_warnings(source_long_edge, &out);
    out.barcodes = detail::read_barcodes(gray);
    return out;
}

// Decodes the original again, larger than the normalized image, and reads the barcode-like
// regions found at normalized scale there.
std::vector<barcode> retry_at_higher_resolution(std::string_view bytes, const cv::Mat& gray,
                                                const normalize_limits& limits,
                                                const std::vector<cv::Rect>& regions) {
    const auto info = probe(bytes);
    if (!info) {
        return {};
    }
    const int source_long_edge = std::max(info->width, info->height);
    const auto source = detail::decode_upright(
        bytes, *info, detail::decode_options{limits.max_pixels, source_long_edge});
    if (!source) {
        return {};
    }
    const cv::Mat big = to_gray(*source);
    const double sx = static_cast<double>(big.cols) / gray.cols;
    const double sy = static_cast<double>(big.rows) / gray.rows;
    std::vector<barcode> found;
    for (const cv::Rect& r : regions) {
        const cv::Rect scaled(
            cv::Point(static_cast<int>(r.x * sx), static_cast<int>(r.y * sy)),
            cv::Size(static_cast<int>(r.width * sx), static_cast<int>(r.height * sy)));
        const cv::Rect inside = scaled & cv::Rect(0, 0, big.cols, big.rows);
        for (barcode& code : detail::read_barcodes(big(inside))) {
            if (std::find(found.begin(), found.end(), code) == found.end()) {
                found.push_back(std::move(code));
            }
        }
    }
    return found;
}

}  // namespace

result<processed_image> process(std::string_view original_bytes, const normalize_limits& limits) {
    auto frame = detail::normalize_frame(original_bytes, limits);
    if (!frame) {
        return make_unexpected(frame.error());
    }
    const normalized_image& image = frame->image;
    const cv::Mat gray = to_gray(frame->bgr);
    const int source_long_edge = std::max(image.source_width, image.source_height);
    image_analysis analysis = analyze_gray(gray, source_long_edge);

    const double gain = static_cast<double>(source_long_edge) / std::max(gray.cols, gray.rows);
    if (analysis.barcodes.empty() && gain >= retry_min_gain) {
        const auto regions = detail::barcode_regions(gray);
        if (!regions.empty()) {
            analysis.barcodes = retry_at_higher_resolution(original_bytes, gray, limits, regions);
        }
    }
    return processed_image{std::move(frame->image), std::move(analysis)};
}

image_analysis analyze(const normalized_image& image) {
    const cv::_InputArray buffer(reinterpret_cast<const uchar*>(image.jpeg.data()),
                                 static_cast<int>(image.jpeg.size()));
    const cv::Mat gray = cv::imdecode(buffer, cv::IMREAD_GRAYSCALE);
    if (gray.empty()) {
        return {};
    }
    return analyze_gray(gray, std::max(image.source_width, image.source_height));
}

std::vector<std::pair<int, int>> near_duplicates(const std::vector<std::string>& phashes,
                                                 unsigned max_distance) {
    std::vector<std::pair<int, int>> pairs;
    const int count = static_cast<int>(phashes.size());
    for (int i = 0; i < count; ++i) {
        for (int j = i + 1; j < count; ++j) {
            const unsigned d = phash_distance(phashes[static_cast<std::size_t>(i)],
                                              phashes[static_cast<std::size_t>(j)]);
            if (d != phash_incomparable && d <= max_distance) {
                pairs.emplace_back(i, j);
            }
        }
    }
    return pairs;
}

}  // namespace boomer::image
