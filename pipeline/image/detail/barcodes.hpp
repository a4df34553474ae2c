// Internal to boomer_image: barcode and QR reading on grey pixels (ZBar first, OpenCV's WeChat QR
// reader when QR finder patterns are seen but ZBar read nothing), and a finder of barcode-like
// regions that decides when a higher-resolution retry is worth it. Includes OpenCV:
// module-internal only.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "pipeline/image/analyze.hpp"

namespace boomer::image::detail {

// read_barcodes reads a CV_8UC1 image with ZBar; when ZBar finds no QR code but the image shows
// QR finder patterns, OpenCV's WeChat QR reader (better with perspective) reads those areas.
// Results are distinct (symbology, text) pairs in the order found. Thread-safe.
std::vector<barcode> read_barcodes(const cv::Mat& gray);

// qr_candidates returns up to `max_candidates` areas of a CV_8UC1 image where three QR finder
// patterns (1:1:3:1:1 dark and light runs across and down, similar sizes) sit at the corners of
// a rough right angle: where a QR code probably is. Cheap (a few ms at 800 px); it tells the
// costly QR reader where to look. Thread-safe.
std::vector<cv::Rect> qr_candidates(const cv::Mat& gray, int max_candidates = 3);

// barcode_regions returns up to `max_regions` rectangles of a CV_8UC1 image that look like 1-D
// barcodes (dense edges in one direction, few in the other), largest first, with a margin.
// Thread-safe.
std::vector<cv::Rect> barcode_regions(const cv::Mat& gray, int max_regions = 3);

}  // namespace boomer::image::detail
