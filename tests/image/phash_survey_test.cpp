// The perceptual hash on real photos: how far a photo's hash moves when the same photo comes back
// resized, re-encoded at another JPEG quality, slightly brightened or rotated through EXIF, and
// how far apart the hashes of photos of different things are. These distances justify the
// near-duplicate default in pipeline/near_duplicate.hpp. Photos come from tests/data/images and
// the shared set (../shared/testdata/images, see its SOURCES.md; cases that need it WARN and
// skip when it is missing). The hidden "[.survey]" cases print the whole distributions. The
// small-object cases measure what normalized_image::phash_unsure is for: on a plain backdrop the
// hash mostly describes the backdrop.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "pipeline/image/normalize.hpp"
#include "pipeline/near_duplicate.hpp"
#include "tests/image/image_fixtures.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/plain_canvas.hpp"

namespace img = boomer::image;
namespace fx = boomer::image::test;
namespace fs = std::filesystem;
namespace nd = boomer::pipeline;

namespace {

img::normalized_image normalized(const std::string& bytes, const std::string& name) {
    auto out = img::normalize(bytes);
    if (!out) {
        FAIL(name << ": " << out.error().code << ": " << out.error().message);
    }
    return std::move(out).value();
}

// Bilinear resampling of an RGB raster to width x height.
fx::raster resized(const fx::raster& in, int width, int height) {
    fx::raster out(width, height, 3);
    for (int y = 0; y < height; ++y) {
        const double sy = std::clamp((y + 0.5) * in.height / height - 0.5, 0.0, in.height - 1.0);
        const int y0 = static_cast<int>(sy);
        const int y1 = std::min(y0 + 1, in.height - 1);
        for (int x = 0; x < width; ++x) {
            const double sx = std::clamp((x + 0.5) * in.width / width - 0.5, 0.0, in.width - 1.0);
            const int x0 = static_cast<int>(sx);
            const int x1 = std::min(x0 + 1, in.width - 1);
            const double fx_ = sx - x0;
            const double fy = sy - y0;
            for (int c = 0; c < 3; ++c) {
                const double top = in.at(x0, y0)[c] * (1 - fx_) + in.at(x1, y0)[c] * fx_;
                const double bottom = in.at(x0, y1)[c] * (1 - fx_) + in.at(x1, y1)[c] * fx_;
                out.at(x, y)[c] =
                    static_cast<std::uint8_t>(std::lround(top * (1 - fy) + bottom * fy));
            }
        }
    }
    return out;
}

fx::raster brightened(fx::raster in, int delta) {
    for (auto& v : in.pixels) {
        v = static_cast<std::uint8_t>(std::clamp(v + delta, 0, 255));
    }
    return in;
}

fx::raster cropped(const fx::raster& in, double share) {
    const int dx = static_cast<int>(in.width * share);
    const int dy = static_cast<int>(in.height * share);
    fx::raster out(in.width - 2 * dx, in.height - 2 * dy, 3);
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            std::copy_n(in.at(x + dx, y + dy), 3, out.at(x, y));
        }
    }
    return out;
}

// The copies of a photo a seller may send again, by name, as files.
std::map<std::string, std::string> copies_of(const img::normalized_image& original) {
    const fx::raster upright = fx::decode_jpeg_rgb(original.jpeg);
    const int w = upright.width;
    const int h = upright.height;
    std::map<std::string, std::string> out;
    out["resized to 50%"] = fx::encode_jpeg(resized(upright, w / 2, h / 2), 90);
    out["resized to 150%"] = fx::encode_jpeg(resized(upright, w * 3 / 2, h * 3 / 2), 90);
    out["jpeg quality 40"] = fx::encode_jpeg(upright, 40);
    out["jpeg quality 95"] = fx::encode_jpeg(upright, 95);
    out["png"] = fx::encode_png(upright);
    out["brightened +15"] = fx::encode_jpeg(brightened(upright, 15), 90);
    out["darkened -15"] = fx::encode_jpeg(brightened(upright, -15), 90);
    for (int orientation : {3, 6, 8}) {
        const fx::raster stored = fx::stored_for_orientation(upright, orientation);
        out["exif orientation " + std::to_string(orientation)] =
            fx::encode_jpeg(stored, 90, {{0xE1, fx::exif_payload(orientation)}});
    }
    return out;
}

// Variants beyond what the reuse must catch, reported by the survey only.
std::map<std::string, std::string> harder_copies_of(const img::normalized_image& original) {
    const fx::raster upright = fx::decode_jpeg_rgb(original.jpeg);
    std::map<std::string, std::string> out;
    out["cropped 3% each side"] = fx::encode_jpeg(cropped(upright, 0.03), 90);
    out["cropped 8% each side"] = fx::encode_jpeg(cropped(upright, 0.08), 90);
    out["brightened +40"] = fx::encode_jpeg(brightened(upright, 40), 90);
    return out;
}

unsigned distance(const std::string& a, const std::string& b) {
    return img::phash_distance(a, b);
}

// Photos of distinct scenes: every photo of the shared set's items, labels, barcodes and formats
// folders that normalizes (the orientation examples are one scene, the truncated and oversized
// files do not normalize), by name.
std::map<std::string, std::string> distinct_photos(const fs::path& shared) {
    std::map<std::string, std::string> hashes;
    for (const char* folder : {"items", "labels", "barcodes", "formats"}) {
        for (const auto& entry : fs::directory_iterator(shared / folder)) {
            const auto ext = entry.path().extension().string();
            if (ext == ".txt" || entry.path().filename().string().starts_with("truncated") ||
                entry.path().filename().string().starts_with("pixel-bomb")) {
                continue;
            }
            auto out = img::normalize(boomer::test::read_file(entry.path()));
            if (out) {
                hashes[std::string(folder) + "/" + entry.path().filename().string()] = out->phash;
            }
        }
    }
    return hashes;
}

std::vector<fs::path> item_photos(const fs::path& shared) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(shared / "items")) {
        out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

fs::path shared_or_warn() {
    const fs::path dir = boomer::test::shared_images_dir();
    if (dir.empty()) {
        WARN("../shared/testdata/images is missing: skipping this shared-image case");
    }
    return dir;
}

}  // namespace

TEST_CASE("phash: copies of a photo from the data folder stay within the reuse distance",
          "[image]") {
    const fs::path dir = boomer::test::data_dir() / "images";
    for (const char* name : {"upca-candy-bag-photo-01.png", "ean13-can-photo-01.png",
                             "webp-photo-denali.webp", "qr-printed-paper-photo-01.jpg"}) {
        const auto original = normalized(boomer::test::read_file(dir / name), name);
        for (const auto& [what, bytes] : copies_of(original)) {
            INFO(name << ", " << what);
            CHECK(distance(original.phash, normalized(bytes, what).phash) <=
                  static_cast<unsigned>(nd::near_duplicate_default_distance));
        }
    }
}

TEST_CASE("phash: the EXIF orientation examples are one photo within the reuse distance",
          "[image]") {
    const fs::path dir = boomer::test::data_dir() / "images";
    const auto upright =
        normalized(boomer::test::read_file(dir / "orientation-1-landscape.jpg"), "orientation 1");
    for (int o : {2, 3, 5, 6, 8}) {
        const std::string name = "orientation-" + std::to_string(o) + "-landscape.jpg";
        INFO(name);
        CHECK(
            distance(upright.phash, normalized(boomer::test::read_file(dir / name), name).phash) <=
            static_cast<unsigned>(nd::near_duplicate_default_distance));
    }
}

TEST_CASE("phash: copies of every shared item photo stay within the reuse distance", "[image]") {
    const fs::path shared = shared_or_warn();
    if (shared.empty()) {
        return;
    }
    for (const auto& path : item_photos(shared)) {
        const std::string name = path.filename().string();
        const auto original = normalized(boomer::test::read_file(path), name);
        for (const auto& [what, bytes] : copies_of(original)) {
            INFO(name << ", " << what);
            CHECK(distance(original.phash, normalized(bytes, what).phash) <=
                  static_cast<unsigned>(nd::near_duplicate_default_distance));
        }
    }
}

TEST_CASE("phash: photos of different things are far beyond the largest reuse distance",
          "[image]") {
    const fs::path shared = shared_or_warn();
    if (shared.empty()) {
        return;
    }
    const auto hashes = distinct_photos(shared);
    REQUIRE(hashes.size() >= 40);
    for (auto a = hashes.begin(); a != hashes.end(); ++a) {
        for (auto b = std::next(a); b != hashes.end(); ++b) {
            INFO(a->first << " vs " << b->first);
            CHECK(distance(a->second, b->second) >
                  3 * static_cast<unsigned>(nd::near_duplicate_distance_limit));
        }
    }
}

TEST_CASE("phash: survey of distances on the shared photos", "[.survey]") {
    const fs::path shared = shared_or_warn();
    if (shared.empty()) {
        return;
    }
    std::map<std::string, std::map<unsigned, int>> by_variant;
    std::map<unsigned, int> same_all;
    for (const auto& path : item_photos(shared)) {
        const std::string name = path.filename().string();
        const auto original = normalized(boomer::test::read_file(path), name);
        auto copies = copies_of(original);
        copies.merge(harder_copies_of(original));
        for (const auto& [what, bytes] : copies) {
            const unsigned d = distance(original.phash, normalized(bytes, what).phash);
            ++by_variant[what][d];
        }
    }
    std::map<unsigned, int> different;
    const auto hashes = distinct_photos(shared);
    std::vector<std::pair<unsigned, std::string>> closest;
    for (auto a = hashes.begin(); a != hashes.end(); ++a) {
        for (auto b = std::next(a); b != hashes.end(); ++b) {
            const unsigned d = distance(a->second, b->second);
            ++different[d];
            closest.emplace_back(d, a->first + " vs " + b->first);
        }
    }
    std::sort(closest.begin(), closest.end());
    auto line = [](const std::map<unsigned, int>& histogram) {
        std::string out;
        for (const auto& [d, n] : histogram) {
            out += " " + std::to_string(d) + ":" + std::to_string(n);
        }
        return out;
    };
    std::cout << "copies of " << item_photos(shared).size()
              << " item photos, distance:count per variant\n";
    for (const auto& [what, histogram] : by_variant) {
        std::cout << "  " << what << ":" << line(histogram) << "\n";
    }
    std::cout << hashes.size() << " distinct photos, " << closest.size()
              << " pairs, distance:count\n " << line(different) << "\n closest pairs:\n";
    for (std::size_t i = 0; i < std::min<std::size_t>(5, closest.size()); ++i) {
        std::cout << "  " << closest[i].first << " " << closest[i].second << "\n";
    }
    CHECK(!closest.empty());
}

TEST_CASE("phash: item photos are sure, small objects on a plain canvas are not", "[image]") {
    const fs::path shared = shared_or_warn();
    if (shared.empty()) {
        return;
    }
    for (const auto& path : item_photos(shared)) {
        const std::string name = path.filename().string();
        const std::string bytes = boomer::test::read_file(path);
        const auto real = normalized(bytes, name);
        INFO(name << ": " << real.content_fraction);
        CHECK_FALSE(real.phash_unsure);
        CHECK(real.content_fraction >= 3 * img::phash_unsure_below);
        for (int edge : {250, 400}) {
            const auto small = normalized(boomer::test::on_plain_canvas(bytes, edge), name);
            INFO(edge << " px: " << small.content_fraction);
            CHECK(small.phash_unsure);
        }
    }
    // A blank frame has no content at all.
    const auto empty = normalized(fx::encode_jpeg(fx::raster(800, 600, 3, 0xf4), 90), "blank");
    CHECK(empty.content_fraction == 0.0);
    CHECK(empty.phash_unsure);
}

TEST_CASE("phash: survey of content fractions, real and small-object photos", "[.survey]") {
    const fs::path shared = shared_or_warn();
    if (shared.empty()) {
        return;
    }
    for (int edge : {0, 250, 300, 400, 500, 600}) {
        std::vector<std::pair<std::string, img::normalized_image>> shots;
        for (const auto& path : item_photos(shared)) {
            const std::string name = path.filename().string();
            const std::string bytes = boomer::test::read_file(path);
            shots.emplace_back(
                name,
                normalized(edge == 0 ? bytes : boomer::test::on_plain_canvas(bytes, edge), name));
        }
        std::map<unsigned, int> close;
        for (auto a = shots.begin(); a != shots.end(); ++a) {
            for (auto b = std::next(a); b != shots.end(); ++b) {
                ++close[std::min(distance(a->second.phash, b->second.phash), 9U)];
            }
        }
        std::cout << (edge == 0 ? std::string("real photos") : std::to_string(edge) + " px")
                  << ": content fraction";
        for (const auto& [name, shot] : shots) {
            std::cout << " " << std::lround(shot.content_fraction * 100) << "%";
        }
        std::cout << "\n  pair distances (9: 9 or more):";
        for (const auto& [d, n] : close) {
            std::cout << " " << d << ":" << n;
        }
        std::cout << "\n";
    }
    CHECK(true);
}
