// Internal to boomer_image: normalize's result together with its pixels, so that analysis can
// run on them without decoding the JPEG again. Includes OpenCV: module-internal only.
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "core/result.hpp"
#include "pipeline/image/detail/decode.hpp"
#include "pipeline/image/normalize.hpp"

namespace boomer::image::detail {

// A normalized image and the upright CV_8UC3 pixels its JPEG was encoded from.
struct normalized_frame {
    normalized_image image;
    cv::Mat bgr;
};

// normalize_frame is normalize() keeping the pixels. Same errors and thread-safety.
result<normalized_frame> normalize_frame(std::string_view bytes, const normalize_limits& limits);

// decode_upright decodes `bytes` (already probed as `info`) and applies its EXIF orientation.
result<cv::Mat> decode_upright(std::string_view bytes, const probe_info& info,
                               const decode_options& opt);

}  // namespace boomer::image::detail
