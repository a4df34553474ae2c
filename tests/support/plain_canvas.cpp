// Small-object shots on a plain canvas, drawn with OpenCV.
#include "tests/support/plain_canvas.hpp"

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <vector>

namespace boomer::test {

std::string on_plain_canvas(const std::string& photo, int long_edge) {
    const cv::Mat bytes(1, static_cast<int>(photo.size()), CV_8UC1,
                        const_cast<char*>(photo.data()));
    const cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);
    if (decoded.empty()) {
        throw std::runtime_error("on_plain_canvas: the photo does not decode");
    }
    const double scale = static_cast<double>(long_edge) / std::max(decoded.cols, decoded.rows);
    cv::Mat object;
    cv::resize(decoded, object, cv::Size(), scale, scale,
               scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);

    constexpr int side = 1200;
    cv::Mat canvas(side, side, CV_8UC3, cv::Scalar(0xf4, 0xf4, 0xf4));
    object.copyTo(canvas(
        cv::Rect((side - object.cols) / 2, (side - object.rows) / 2, object.cols, object.rows)));
    std::vector<uchar> out;
    cv::imencode(".jpg", canvas, out, {cv::IMWRITE_JPEG_QUALITY, 90});
    return std::string(out.begin(), out.end());
}

}  // namespace boomer::test
