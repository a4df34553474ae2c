// Decoder dispatch and the pixel conversions every format shares: to 8-bit BGR, alpha onto
// white, EXIF orientation. PNG and WebP go through OpenCV's codecs.
#include "pipeline/image/detail/decode.hpp"

#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "fmt/format.h"
#include "pipeline/image/byte_reader.hpp"
#include "pipeline/image/exif.hpp"
#include "pipeline/image/failure_codes.hpp"

namespace boomer::image::detail {
namespace {

// VP8X flag bit 1 marks an animation, which OpenCV's WebP decoder cannot read.
bool is_animated_webp(std::string_view bytes) {
    const byte_reader r(bytes);
    return r.equals(12, "VP8X") && (r.u8(20).value_or(0) & 0x02u) != 0;
}

double megapixels(std::uint64_t pixels) {
    return static_cast<double>(pixels) / 1e6;
}

}  // namespace

unexpected<failure> too_many_pixels_failure(std::uint64_t width, std::uint64_t height,
                                            std::uint64_t max_pixels) {
    return fail(std::string(codes::too_many_pixels),
                fmt::format("the image is {}x{} pixels ({:.1f} megapixels); the limit is {:.1f} "
                            "megapixels: resize it and upload again",
                            width, height, megapixels(width * height), megapixels(max_pixels)));
}

cv::Mat composite_on_white(const cv::Mat& bgra) {
    CV_Assert(bgra.type() == CV_8UC4);
    cv::Mat bgr(bgra.rows, bgra.cols, CV_8UC3);
    for (int y = 0; y < bgra.rows; ++y) {
        const auto* src = bgra.ptr<std::uint8_t>(y);
        auto* dst = bgr.ptr<std::uint8_t>(y);
        for (int x = 0; x < bgra.cols; ++x, src += 4, dst += 3) {
            const int alpha = src[3];
            const int white = 255 * (255 - alpha);
            for (int c = 0; c < 3; ++c) {
                dst[c] = static_cast<std::uint8_t>((src[c] * alpha + white + 127) / 255);
            }
        }
    }
    return bgr;
}

cv::Mat to_bgr8(const cv::Mat& pixels) {
    cv::Mat eight = pixels;
    if (pixels.depth() == CV_16U) {
        pixels.convertTo(eight, CV_MAKETYPE(CV_8U, pixels.channels()), 1.0 / 257.0);
    } else if (pixels.depth() != CV_8U) {
        pixels.convertTo(eight, CV_MAKETYPE(CV_8U, pixels.channels()));
    }
    switch (eight.channels()) {
        case 1: {
            cv::Mat bgr;
            cv::cvtColor(eight, bgr, cv::COLOR_GRAY2BGR);
            return bgr;
        }
        case 4:
            return composite_on_white(eight);
        default:
            return eight;
    }
}

cv::Mat apply_orientation(const cv::Mat& pixels, int orientation) {
    cv::Mat out;
    switch (orientation) {
        case 2:
            cv::flip(pixels, out, 1);
            return out;
        case 3:
            cv::rotate(pixels, out, cv::ROTATE_180);
            return out;
        case 4:
            cv::flip(pixels, out, 0);
            return out;
        case 5:
            cv::transpose(pixels, out);
            return out;
        case 6:
            cv::rotate(pixels, out, cv::ROTATE_90_CLOCKWISE);
            return out;
        case 7:
            cv::transpose(pixels, out);
            cv::flip(out, out, -1);
            return out;
        case 8:
            cv::rotate(pixels, out, cv::ROTATE_90_COUNTERCLOCKWISE);
            return out;
        default:
            return pixels;
    }
}

result<decoded> decode_png_or_webp(std::string_view bytes, const probe_info& info) {
    if (info.format == image_format::webp && is_animated_webp(bytes)) {
        return fail(std::string(codes::unsupported_format),
                    "animated WebP images are not supported; upload a still photo");
    }
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        return fail(std::string(codes::unsupported_format), "the file is too large to decode");
    }
    const cv::_InputArray buffer(reinterpret_cast<const uchar*>(bytes.data()),
                                 static_cast<int>(bytes.size()));
    // IMREAD_UNCHANGED keeps alpha and 16-bit samples, and OpenCV applies no EXIF orientation
    // with it (4.6 reads EXIF from JPEG only anyway): orientation is applied once, by normalize.
    cv::Mat pixels;
    try {
        pixels = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception&) {
        pixels.release();
    }
    if (pixels.empty()) {
        return fail(std::string(codes::corrupt_image),
                    fmt::format("the {} image data is truncated or corrupt; upload the complete "
                                "file",
                                format_name(info.format)));
    }
    const int orientation = info.format == image_format::webp ? webp_exif_orientation(bytes) : 1;
    return decoded{to_bgr8(pixels), orientation};
}

result<decoded> decode(std::string_view bytes, const probe_info& info, const decode_options& opt) {
    switch (info.format) {
        case image_format::jpeg:
            return decode_jpeg(bytes, opt);
        case image_format::png:
        case image_format::webp:
            return decode_png_or_webp(bytes, info);
        case image_format::gif:
            return decode_gif(bytes, opt);
        case image_format::heic:
        case image_format::heif:
        case image_format::avif:
            return decode_heif(bytes, opt);
        case image_format::unknown:
            break;
    }
    return fail(std::string(codes::unsupported_format),
                "the file is not a JPEG, PNG, WebP, GIF, HEIC or AVIF image");
}

}  // namespace boomer::image::detail
