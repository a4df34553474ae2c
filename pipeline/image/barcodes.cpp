// Barcode and QR reading: ZBar on the grey image, then OpenCV's WeChat QR reader when finder
// patterns suggest a QR code ZBar could not read (ZBar fails on strongly tilted QR photos).
#include "pipeline/image/detail/barcodes.hpp"

#include <zbar.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <opencv2/wechat_qrcode.hpp>
#include <string>

namespace boomer::image::detail {
namespace {

constexpr const char* qr_name = "QR-Code";

// QR finder patterns are searched for at this long edge at most (cheap, and finders survive it).
constexpr int qr_search_long_edge = 800;

// The QR reader gets each candidate area at most this large: 3 px per module even for a
// version-25 code, and the reader's cost grows with the pixel count.
constexpr int qr_read_long_edge = 480;
constexpr int max_qr_candidates = 2;

// ZBar scans every n-th row and column. Measured on our test photos: density 2 reads every 1-D
// code density 1 reads at about a third of the time (1568 px photo: ~90 vs ~300 ms); the QR code
// it then misses on the rice-cracker photo is read by the WeChat fallback.
constexpr int zbar_density = 2;

// The symbologies we read, and our stable names for them. ISBN-10 stays off: ZBar would then
// rewrite a Bookland EAN-13 into the 10-digit ISBN and lose the barcode's own digits. DataBar
// (fresh food, coupons) stays off: ZBar's DataBar decoder prints internal assertion warnings on
// ordinary photos.
struct symbology_name {
    zbar::zbar_symbol_type_t type;
    const char* name;
};
constexpr symbology_name symbologies[] = {
    {zbar::ZBAR_EAN13, "EAN-13"},    {zbar::ZBAR_EAN8, "EAN-8"},
    {zbar::ZBAR_UPCA, "UPC-A"},      {zbar::ZBAR_UPCE, "UPC-E"},
    {zbar::ZBAR_ISBN13, "ISBN-13"},  {zbar::ZBAR_I25, "I2/5"},
    {zbar::ZBAR_CODABAR, "CODABAR"}, {zbar::ZBAR_CODE39, "CODE-39"},
    {zbar::ZBAR_CODE93, "CODE-93"},  {zbar::ZBAR_CODE128, "CODE-128"},
    {zbar::ZBAR_QRCODE, qr_name},
};

const char* name_of(zbar::zbar_symbol_type_t type) {
    for (const auto& s : symbologies) {
        if (s.type == type) {
            return s.name;
        }
    }
    return nullptr;
}

void add_unique(std::vector<barcode>* found, barcode code) {
    if (std::find(found->begin(), found->end(), code) == found->end()) {
        found->push_back(std::move(code));
    }
}

void read_with_zbar(const cv::Mat& gray, std::vector<barcode>* found) {
    const cv::Mat pixels = gray.isContinuous() ? gray : gray.clone();
    zbar::ImageScanner scanner;
    scanner.set_config(zbar::ZBAR_NONE, zbar::ZBAR_CFG_ENABLE, 0);
    for (const auto& s : symbologies) {
        scanner.set_config(s.type, zbar::ZBAR_CFG_ENABLE, 1);
    }
    scanner.set_config(zbar::ZBAR_NONE, zbar::ZBAR_CFG_X_DENSITY, zbar_density);
    scanner.set_config(zbar::ZBAR_NONE, zbar::ZBAR_CFG_Y_DENSITY, zbar_density);
    zbar::Image image(static_cast<unsigned>(pixels.cols), static_cast<unsigned>(pixels.rows),
                      "Y800", pixels.data, pixels.total());
    scanner.scan(image);
    for (auto it = image.symbol_begin(); it != image.symbol_end(); ++it) {
        if (const char* name = name_of(it->get_type())) {
            add_unique(found, barcode{name, it->get_data()});
        }
    }
}

double shrink_factor(const cv::Mat& gray, int long_edge) {
    return std::min(1.0, static_cast<double>(long_edge) / std::max(gray.cols, gray.rows));
}

cv::Mat at_most(const cv::Mat& gray, int long_edge) {
    const double shrink = shrink_factor(gray, long_edge);
    if (shrink >= 1.0) {
        return gray;
    }
    cv::Mat out;
    cv::resize(gray, out, cv::Size(), shrink, shrink, cv::INTER_AREA);
    return out;
}

// Reads QR codes where finder patterns were seen, each area cut from the full-size image.
void read_qr_with_wechat(const cv::Mat& gray, std::vector<barcode>* found) {
    const double shrink = shrink_factor(gray, qr_search_long_edge);
    const cv::Rect image(0, 0, gray.cols, gray.rows);
    for (const cv::Rect& area :
         qr_candidates(at_most(gray, qr_search_long_edge), max_qr_candidates)) {
        const cv::Rect full(
            cv::Point(static_cast<int>(area.x / shrink), static_cast<int>(area.y / shrink)),
            cv::Size(static_cast<int>(area.width / shrink),
                     static_cast<int>(area.height / shrink)));
        cv::wechat_qrcode::WeChatQRCode reader;  // no model files: the classic detector
        const cv::Mat crop = at_most(gray(full & image), qr_read_long_edge);
        for (std::string& text : reader.detectAndDecode(crop)) {
            if (!text.empty()) {
                add_unique(found, barcode{qr_name, std::move(text)});
            }
        }
    }
}

bool has_qr(const std::vector<barcode>& found) {
    return std::any_of(found.begin(), found.end(),
                       [](const barcode& b) { return b.symbology == qr_name; });
}

}  // namespace

std::vector<barcode> read_barcodes(const cv::Mat& gray) {
    std::vector<barcode> found;
    if (gray.empty()) {
        return found;
    }
    read_with_zbar(gray, &found);
    if (!has_qr(found)) {
        read_qr_with_wechat(gray, &found);
    }
    return found;
}

}  // namespace boomer::image::detail
