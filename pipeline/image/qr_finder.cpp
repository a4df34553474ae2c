// A cheap test for "this picture probably holds a QR code": find QR finder patterns (the three
// nested squares, which any line through their centre crosses as dark-light-dark-light-dark runs
// in 1:1:3:1:1 proportion) and look for three of them at the corners of a rough right angle.
#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <vector>

#include "pipeline/image/detail/barcodes.hpp"

namespace boomer::image::detail {
namespace {

struct finder {
    float x = 0;
    float y = 0;
    float module = 0;  // estimated module size in pixels
    int hits = 0;      // scan rows that confirmed it
};

using five_runs = std::array<int, 5>;

// Whether runs are close to 1:1:3:1:1 (a generous tolerance, for tilted photos); sets the
// module size.
bool finder_ratio(const five_runs& runs, float* module) {
    int total = 0;
    for (const int r : runs) {
        total += r;
    }
    if (total < 7) {
        return false;
    }
    const float m = static_cast<float>(total) / 7.0F;
    constexpr std::array<float, 5> want{1, 1, 3, 1, 1};
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const float tolerance = (i == 2 ? 1.1F : 0.75F) * m;
        if (std::abs(static_cast<float>(runs[i]) - want[i] * m) > tolerance) {
            return false;
        }
    }
    *module = m;
    return true;
}

// Counts pixels of the wanted darkness from (x, y) stepping by dy; *end_y is the first other.
int run_length(const cv::Mat& dark, int x, int y, int dy, bool want_dark, int* end_y) {
    int count = 0;
    while (y >= 0 && y < dark.rows && (dark.at<std::uint8_t>(y, x) != 0) == want_dark) {
        ++count;
        y += dy;
    }
    *end_y = y;
    return count;
}

// Checks the column through (x, y), inside a candidate's centre run, for the same pattern at a
// similar scale; sets the vertical centre.
bool vertical_check(const cv::Mat& dark, int x, int y, float module, float* centre_y) {
    five_runs runs{};
    int at = y;
    runs[2] = run_length(dark, x, at, -1, true, &at);
    runs[1] = run_length(dark, x, at, -1, false, &at);
    runs[0] = run_length(dark, x, at, -1, true, &at);
    const int top = at + 1;
    int down = y + 1;
    runs[2] += run_length(dark, x, down, 1, true, &down);
    runs[3] = run_length(dark, x, down, 1, false, &down);
    runs[4] = run_length(dark, x, down, 1, true, &down);
    float vertical_module = 0;
    if (std::find(runs.begin(), runs.end(), 0) != runs.end() ||
        !finder_ratio(runs, &vertical_module)) {
        return false;
    }
    if (vertical_module > 2.5F * module || module > 2.5F * vertical_module) {
        return false;
    }
    *centre_y = static_cast<float>(top + runs[0] + runs[1]) + static_cast<float>(runs[2]) / 2.0F;
    return true;
}

void add_finder(std::vector<finder>* found, float x, float y, float module) {
    for (finder& f : *found) {
        if (std::abs(f.x - x) < 3 * module && std::abs(f.y - y) < 3 * module) {
            ++f.hits;
            return;
        }
    }
    found->push_back(finder{x, y, module, 1});
}

struct run {
    int start;
    int length;
    bool dark;
};

std::vector<run> row_runs(const cv::Mat& dark, int y) {
    std::vector<run> runs;
    const auto* row = dark.ptr<std::uint8_t>(y);
    int x = 0;
    while (x < dark.cols) {
        const int start = x;
        const bool is_dark = row[x] != 0;
        while (x < dark.cols && (row[x] != 0) == is_dark) {
            ++x;
        }
        runs.push_back(run{start, x - start, is_dark});
    }
    return runs;
}

// Scans every other row for the pattern and confirms each hit down its column.
std::vector<finder> find_finders(const cv::Mat& dark) {
    std::vector<finder> found;
    for (int y = 0; y < dark.rows; y += 2) {
        const std::vector<run> runs = row_runs(dark, y);
        for (std::size_t i = 0; i + 4 < runs.size(); ++i) {
            if (!runs[i].dark) {
                continue;
            }
            const five_runs lengths{runs[i].length, runs[i + 1].length, runs[i + 2].length,
                                    runs[i + 3].length, runs[i + 4].length};
            float module = 0;
            float centre_y = 0;
            const int centre_x = runs[i + 2].start + runs[i + 2].length / 2;
            if (finder_ratio(lengths, &module) &&
                vertical_check(dark, centre_x, y, module, &centre_y)) {
                add_finder(&found, static_cast<float>(centre_x), centre_y, module);
            }
        }
    }
    std::erase_if(found, [](const finder& f) { return f.hits < 2; });
    return found;
}

// Whether `corner` sees the other two at a rough right angle (perspective allowed), at
// similar distances of at least 7 modules (the smallest QR code has 14 between finders).
bool right_angle_at(const finder& corner, const finder& u, const finder& v, float module) {
    const float ux = u.x - corner.x;
    const float uy = u.y - corner.y;
    const float vx = v.x - corner.x;
    const float vy = v.y - corner.y;
    const float lu = std::hypot(ux, uy);
    const float lv = std::hypot(vx, vy);
    if (lu < 7 * module || lv < 7 * module || lu > 2 * lv || lv > 2 * lu) {
        return false;
    }
    return std::abs((ux * vx + uy * vy) / (lu * lv)) < 0.5F;  // angle within 60..120 degrees
}

// The area a QR code with finders at corner, u and v covers: the parallelogram they span,
// grown by a quarter for the finders' own size and for perspective.
cv::Rect code_area(const finder& corner, const finder& u, const finder& v) {
    const float fourth_x = u.x + v.x - corner.x;
    const float fourth_y = u.y + v.y - corner.y;
    const float left = std::min({corner.x, u.x, v.x, fourth_x});
    const float right = std::max({corner.x, u.x, v.x, fourth_x});
    const float top = std::min({corner.y, u.y, v.y, fourth_y});
    const float bottom = std::max({corner.y, u.y, v.y, fourth_y});
    const float margin = 0.25F * std::max(right - left, bottom - top);
    return cv::Rect(cv::Point(static_cast<int>(left - margin), static_cast<int>(top - margin)),
                    cv::Point(static_cast<int>(right + margin), static_cast<int>(bottom + margin)));
}

bool is_dark_at(const cv::Mat& dark, float x, float y) {
    const int col = static_cast<int>(std::lround(x));
    const int row = static_cast<int>(std::lround(y));
    return col >= 0 && row >= 0 && col < dark.cols && row < dark.rows &&
           dark.at<std::uint8_t>(row, col) != 0;
}

// Whether the timing pattern (alternating modules on row 6, three modules inside the line
// through two finder centres) runs from `corner` towards `end`, on the side of `other`. Random
// textures rarely alternate so regularly; every real QR code has this.
bool timing_pattern(const cv::Mat& dark, const finder& corner, const finder& end,
                    const finder& other, float module) {
    const float dx = end.x - corner.x;
    const float dy = end.y - corner.y;
    const float length = std::hypot(dx, dy);
    const float ux = dx / length;
    const float uy = dy / length;
    // Unit normal pointing towards the third finder.
    float nx = -uy;
    float ny = ux;
    if (nx * (other.x - corner.x) + ny * (other.y - corner.y) < 0) {
        nx = -nx;
        ny = -ny;
    }
    const float offset = 3 * module;
    int transitions = 0;
    bool previous = false;  // the separator module before the pattern is light
    for (float t = 4.5F * module; t <= length - 4.5F * module; t += module / 2) {
        const bool now =
            is_dark_at(dark, corner.x + ux * t + nx * offset, corner.y + uy * t + ny * offset);
        transitions += now != previous ? 1 : 0;
        previous = now;
    }
    // A real pattern changes about once per module; textures that pass the finder test (windows,
    // typewriter keys, print) change far less regularly. Measured on our photos: real codes
    // 0.7..1.2 of the expected count, false finds 0.5..0.7 of a larger one.
    const float expected = length / module - 8;
    const float below = std::max(2.0F, 0.25F * expected);
    const float above = std::max(3.0F, 0.5F * expected);
    return transitions >= 3 && static_cast<float>(transitions) >= expected - below &&
           static_cast<float>(transitions) <= expected + above;
}

std::optional<cv::Rect> qr_corner(const cv::Mat& dark, const finder& a, const finder& b,
                                  const finder& c) {
    const float smallest = std::min({a.module, b.module, c.module});
    const float largest = std::max({a.module, b.module, c.module});
    if (largest > 2 * smallest) {
        return std::nullopt;
    }
    const float module = (a.module + b.module + c.module) / 3;
    const std::array<std::array<const finder*, 3>, 3> orders{
        {{&a, &b, &c}, {&b, &a, &c}, {&c, &a, &b}}};
    for (const auto& [corner, u, v] : orders) {
        if (right_angle_at(*corner, *u, *v, module) &&
            timing_pattern(dark, *corner, *u, *v, module) &&
            timing_pattern(dark, *corner, *v, *u, module)) {
            return code_area(*corner, *u, *v);
        }
    }
    return std::nullopt;
}

void add_area(std::vector<cv::Rect>* areas, const cv::Rect& area) {
    for (const cv::Rect& known : *areas) {
        if ((known & area).area() > area.area() / 2) {
            return;  // the same code seen through another triple
        }
    }
    areas->push_back(area);
}

}  // namespace

std::vector<cv::Rect> qr_candidates(const cv::Mat& gray, int max_candidates) {
    std::vector<cv::Rect> areas;
    if (gray.empty() || max_candidates <= 0) {
        return areas;
    }
    cv::Mat dark;
    cv::adaptiveThreshold(gray, dark, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, 51,
                          10);
    std::vector<finder> finders = find_finders(dark);
    std::sort(finders.begin(), finders.end(),
              [](const finder& a, const finder& b) { return a.hits > b.hits; });
    const std::size_t n = std::min<std::size_t>(finders.size(), 40);  // bounds the triple loop
    const cv::Rect image(0, 0, gray.cols, gray.rows);
    for (std::size_t a = 0; a < n; ++a) {
        for (std::size_t b = a + 1; b < n; ++b) {
            for (std::size_t c = b + 1; c < n; ++c) {
                if (const auto area = qr_corner(dark, finders[a], finders[b], finders[c])) {
                    add_area(&areas, *area & image);
                    if (areas.size() >= static_cast<std::size_t>(max_candidates)) {
                        return areas;
                    }
                }
            }
        }
    }
    return areas;
}

}  // namespace boomer::image::detail
