// Finds regions that look like 1-D barcodes: many strong edges in one direction and few in the
// other, packed into a compact block. Used only to decide where a higher-resolution retry reads.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "pipeline/image/detail/barcodes.hpp"

namespace boomer::image::detail {
namespace {

// A region counts when its edge energy across the bars is this many times that along them
// (text and textures have edges both ways), it covers at least this share of the image, and a
// line across it crosses at least this many dark and light runs (the shortest EAN-8 has 43).
constexpr double min_anisotropy = 2.5;
constexpr double min_area_share = 0.0005;
constexpr int min_runs = 20;

struct oriented {
    cv::Mat gray;
    cv::Mat across;  // |gradient| across the bars
    cv::Mat along;   // |gradient| along the bars
    bool vertical_bars = true;
};

// Candidate mask for bars of one orientation: where `across` dominates `along`, smoothed and
// closed into blocks.
cv::Mat candidate_mask(const oriented& g) {
    cv::Mat diff = g.across - g.along;
    cv::Mat smooth;
    cv::blur(diff, smooth, cv::Size(9, 9));
    cv::Scalar mean;
    cv::Scalar stddev;
    cv::meanStdDev(smooth, mean, stddev);
    cv::Mat mask = smooth > std::max(mean[0] + 2 * stddev[0], 40.0);
    const cv::Size close = g.vertical_bars ? cv::Size(21, 7) : cv::Size(7, 21);
    cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, close));
    cv::erode(mask, mask, cv::Mat(), cv::Point(-1, -1), 2);
    cv::dilate(mask, mask, cv::Mat(), cv::Point(-1, -1), 4);
    return mask;
}

double anisotropy(const oriented& g, const cv::Rect& r) {
    const double across = cv::sum(g.across(r))[0];
    const double along = cv::sum(g.along(r))[0];
    return across / std::max(along, 1.0);
}

// Dark and light runs along one line, split at the midpoint of the line's own range.
int runs_along(const cv::Mat& line) {
    double low = 0;
    double high = 0;
    cv::minMaxLoc(line, &low, &high);
    if (high - low < 32) {
        return 0;
    }
    const double middle = (low + high) / 2;
    int runs = 0;
    bool previous_dark = false;
    for (int i = 0; i < static_cast<int>(line.total()); ++i) {
        const bool dark = line.at<std::uint8_t>(i) < middle;
        runs += (i == 0 || dark != previous_dark) ? 1 : 0;
        previous_dark = dark;
    }
    return runs;
}

// The most runs crossed by three lines across the bars (a quarter, half and three quarters in).
int most_runs(const oriented& g, const cv::Rect& box) {
    int most = 0;
    for (const double at : {0.25, 0.5, 0.75}) {
        if (g.vertical_bars) {
            most = std::max(most, runs_along(g.gray(box).row(static_cast<int>(box.height * at))));
        } else {
            const cv::Mat column = g.gray(box).col(static_cast<int>(box.width * at)).clone();
            most = std::max(most, runs_along(column));
        }
    }
    return most;
}

void collect(const oriented& g, std::vector<cv::Rect>* out) {
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(candidate_mask(g), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    const double min_area = min_area_share * static_cast<double>(g.across.total());
    for (const auto& contour : contours) {
        const cv::Rect box = cv::boundingRect(contour);
        if (box.area() >= min_area && anisotropy(g, box) >= min_anisotropy &&
            most_runs(g, box) >= min_runs) {
            out->push_back(box);
        }
    }
}

// Grows a region by 15 % on each side (quiet zones, bars the mask cut short), inside bounds.
cv::Rect with_margin(const cv::Rect& r, const cv::Size& bounds) {
    const int dx = static_cast<int>(std::ceil(0.15 * r.width));
    const int dy = static_cast<int>(std::ceil(0.15 * r.height));
    const cv::Rect grown(r.x - dx, r.y - dy, r.width + 2 * dx, r.height + 2 * dy);
    return grown & cv::Rect(cv::Point(0, 0), bounds);
}

}  // namespace

std::vector<cv::Rect> barcode_regions(const cv::Mat& gray, int max_regions) {
    if (gray.empty() || max_regions <= 0) {
        return {};
    }
    cv::Mat gx;
    cv::Mat gy;
    cv::Sobel(gray, gx, CV_16S, 1, 0);
    cv::Sobel(gray, gy, CV_16S, 0, 1);
    cv::Mat ax;
    cv::Mat ay;
    cv::convertScaleAbs(gx, ax);
    cv::convertScaleAbs(gy, ay);

    std::vector<cv::Rect> found;
    collect(oriented{gray, ax, ay, true}, &found);
    collect(oriented{gray, ay, ax, false}, &found);
    std::sort(found.begin(), found.end(),
              [](const cv::Rect& a, const cv::Rect& b) { return a.area() > b.area(); });
    if (found.size() > static_cast<std::size_t>(max_regions)) {
        found.resize(static_cast<std::size_t>(max_regions));
    }
    for (cv::Rect& r : found) {
        r = with_margin(r, gray.size());
    }
    return found;
}

}  // namespace boomer::image::detail
