// normalize on synthetic images: orientation, metadata removal, sizes, every format, limits,
// damaged files, hashes.
#include "pipeline/image/normalize.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "core/hash.hpp"
#include "tests/image/image_fixtures.hpp"
#include "tests/support/paths.hpp"

namespace img = boomer::image;
namespace fx = boomer::image::test;

namespace {

std::string data_image(const std::string& name) {
    return boomer::test::read_file(boomer::test::data_dir() / "images" / name);
}

img::normalized_image normalized(const std::string& bytes,
                                 const img::normalize_limits& limits = {}) {
    auto result = img::normalize(bytes, limits);
    if (!result) {
        FAIL("normalize failed: " << result.error().code << ": " << result.error().message);
    }
    return std::move(result).value();
}

std::string failure_code(const std::string& bytes, const img::normalize_limits& limits = {}) {
    const auto result = img::normalize(bytes, limits);
    return result ? std::string("ok") : result.error().code;
}

// Segments allowed in what normalize writes: JFIF APP0, tables, frame, scan, end.
bool only_plain_segments(const std::string& jpeg) {
    static const std::set<int> allowed{0xE0, 0xDB, 0xC0, 0xC4, 0xDA, 0xD9};
    const std::vector<int> markers = fx::jpeg_markers(jpeg);
    return !markers.empty() && markers.back() == 0xD9 &&
           std::all_of(markers.begin(), markers.end(), [](int m) { return allowed.count(m) == 1; });
}

std::string jpeg_header_only(int width, int height) {
    std::string jpeg("\xFF\xD8\xFF\xC0\x00\x0B\x08", 7);
    for (const int v : {height, width}) {
        jpeg += static_cast<char>(v >> 8);
        jpeg += static_cast<char>(v & 0xFF);
    }
    return jpeg + std::string("\x01\x01\x11\x00", 4);
}

}  // namespace

TEST_CASE("normalize: turns every EXIF orientation upright", "[image]") {
    const fx::raster upright = fx::asymmetric_picture(240, 160);
    const fx::raster upright_gray = fx::to_gray(upright);
    for (int orientation = 1; orientation <= 8; ++orientation) {
        CAPTURE(orientation);
        const fx::raster stored = fx::stored_for_orientation(upright, orientation);
        const std::string jpeg = fx::encode_jpeg(
            stored, 95, {{0xE1, fx::exif_payload(orientation, orientation % 2 == 0)}});
        const img::normalized_image out = normalized(jpeg);
        CHECK(out.exif_orientation == orientation);
        REQUIRE(out.width == 240);
        REQUIRE(out.height == 160);
        CHECK(out.source_width == stored.width);
        CHECK(out.source_height == stored.height);

        const fx::raster got = fx::decode_jpeg_gray(out.jpeg);
        CHECK(fx::mean_abs_diff(got, upright_gray) < 6);
        // A mirrored or upside-down result would be far off.
        for (const int wrong : {2, 3, 4}) {
            CHECK(fx::mean_abs_diff(got, fx::to_gray(fx::stored_for_orientation(upright, wrong))) >
                  20);
        }
    }
}

TEST_CASE("normalize: writes no metadata (EXIF, GPS, ICC) whatever came in", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(300, 200);
    const std::string jpeg = fx::encode_jpeg(picture, 90,
                                             {{0xE1, fx::exif_payload(1, true, true)},
                                              {0xE2, fx::icc_payload()},
                                              {0xFE, "a comment with GPS 43N 11E"}});
    REQUIRE(jpeg.find("GPS") != std::string::npos);
    const img::normalized_image out = normalized(jpeg);
    CHECK(only_plain_segments(out.jpeg));
    CHECK(out.jpeg.find("Exif") == std::string::npos);
    CHECK(out.jpeg.find("GPS") == std::string::npos);
    CHECK(out.jpeg.find("ICC_PROFILE") == std::string::npos);
}

TEST_CASE("normalize: bounds the long edge and keeps the aspect ratio", "[image]") {
    const std::string landscape = fx::encode_jpeg(fx::asymmetric_picture(3000, 2000), 80);
    const img::normalized_image big = normalized(landscape);
    CHECK((big.width == 1568 && big.height == 1045));
    CHECK((big.source_width == 3000 && big.source_height == 2000));

    const img::normalized_image small = normalized(landscape, {50'000'000, 800, 85});
    CHECK((small.width == 800 && small.height == 533));

    const std::string portrait = fx::encode_png(fx::asymmetric_picture(1000, 2500));
    const img::normalized_image tall = normalized(portrait);
    CHECK((tall.width == 627 && tall.height == 1568));

    // Never enlarged.
    const img::normalized_image tiny = normalized(fx::encode_jpeg(fx::asymmetric_picture(90, 60)));
    CHECK((tiny.width == 90 && tiny.height == 60));
}

TEST_CASE("normalize: a DCT-scaled decode gives the same picture as a full one", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(4000, 3000);
    const std::string jpeg = fx::encode_jpeg(picture, 90);
    const img::normalized_image out = normalized(jpeg);
    REQUIRE((out.width == 1568 && out.height == 1176));
    const fx::raster expected = fx::shrink_gray(fx::to_gray(picture), 25);  // 160x120
    const fx::raster got = fx::decode_jpeg_gray(out.jpeg, 8);               // 196x147
    fx::raster got_small(160, 120, 1);
    for (int y = 0; y < 120; ++y) {
        for (int x = 0; x < 160; ++x) {
            got_small.at(x, y)[0] = got.at(x * 196 / 160, y * 147 / 120)[0];
        }
    }
    CHECK(fx::mean_abs_diff(got_small, expected) < 8);
}

TEST_CASE("normalize: refuses too many pixels before decoding", "[image]") {
    // Only a header: decoding it would fail as corrupt, so too_many_pixels proves no decode ran.
    const auto bomb = img::normalize(jpeg_header_only(20000, 14000));
    REQUIRE_FALSE(bomb);
    CHECK(bomb.error().code == img::codes::too_many_pixels);
    CHECK_FALSE(bomb.error().retryable);
    CHECK_THAT(bomb.error().message, Catch::Contains("20000x14000") && Catch::Contains("50.0"));

    const std::string real = fx::encode_png(fx::asymmetric_picture(200, 100));
    CHECK(failure_code(real, {19'999, 1568, 85}) == img::codes::too_many_pixels);
    CHECK(failure_code(real, {20'000, 1568, 85}) == "ok");
}

TEST_CASE("normalize: refuses a GIF frame over the limit on a small screen", "[image]") {
    // A 10x10 screen whose first frame declares 8000x8000 pixels (clipped on display, but LZW
    // data could still make us expand all of them).
    std::string gif("GIF89a\x0A\x00\x0A\x00\x80\x00\x00", 13);
    gif += std::string("\x00\x00\x00\xFF\xFF\xFF", 6);                   // two colours
    gif += std::string("\x2C\x00\x00\x00\x00\x40\x1F\x40\x1F\x00", 10);  // 8000x8000
    gif += std::string("\x02\x02\x4C\x01\x00\x3B", 6);
    REQUIRE(img::probe(gif));
    CHECK(failure_code(gif) == img::codes::too_many_pixels);
}

TEST_CASE("normalize: refuses truncated and damaged files as corrupt_image", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(400, 300);
    for (const bool progressive : {false, true}) {
        const std::string jpeg = fx::encode_jpeg(picture, 90, {}, progressive);
        const auto cut = img::normalize(jpeg.substr(0, jpeg.size() / 2));
        REQUIRE_FALSE(cut);
        CHECK(cut.error().code == img::codes::corrupt_image);
        CHECK_THAT(cut.error().message, Catch::Contains("truncated or corrupt"));
        // Cut before the frame header: known format, unreadable header.
        CHECK(failure_code(jpeg.substr(0, 10)) == img::codes::corrupt_image);
    }
    const std::string png = fx::encode_png(picture);
    CHECK(failure_code(png.substr(0, png.size() / 2)) == img::codes::corrupt_image);
    const std::string gif = fx::encode_gif(picture);
    CHECK(failure_code(gif.substr(0, gif.size() / 2)) == img::codes::corrupt_image);
    const std::string heic = data_image("iphone7-heic-with-gps.heic");
    CHECK(failure_code(heic.substr(0, heic.size() / 2)) == img::codes::corrupt_image);
}

TEST_CASE("normalize: refuses what is not an image as unsupported_format", "[image]") {
    CHECK(failure_code("") == img::codes::unsupported_format);
    CHECK(failure_code("just some text") == img::codes::unsupported_format);
    CHECK(failure_code(std::string("BM\x36\x00\x00\x00\x00\x00", 8)) ==
          img::codes::unsupported_format);
}

TEST_CASE("normalize: reads PNG at 8 and 16 bits, grey, and with alpha onto white", "[image]") {
    fx::raster rgba(120, 80, 4);
    const fx::raster picture = fx::asymmetric_picture(120, 80);
    fx::raster on_white = picture;  // what compositing onto white must give
    for (int y = 0; y < 80; ++y) {
        for (int x = 0; x < 120; ++x) {
            std::copy_n(picture.at(x, y), 3, rgba.at(x, y));
            rgba.at(x, y)[3] = x < 60 ? 255 : 0;  // right half fully transparent
            if (x >= 60) {
                std::fill_n(on_white.at(x, y), 3, 255);
            }
        }
    }
    for (const int depth : {8, 16}) {
        CAPTURE(depth);
        const img::normalized_image out = normalized(fx::encode_png(rgba, depth));
        CHECK(out.source_format == img::image_format::png);
        const fx::raster rgb = fx::decode_jpeg_rgb(out.jpeg);
        const auto right = fx::mean_rgb(rgb, 70, 5, 115, 60);
        CHECK((right[0] > 245 && right[1] > 245 && right[2] > 245));
        CHECK(fx::mean_abs_diff(fx::to_gray(rgb), fx::to_gray(on_white)) < 6);

        const img::normalized_image opaque = normalized(fx::encode_png(picture, depth));
        CHECK(fx::mean_abs_diff(fx::decode_jpeg_gray(opaque.jpeg), fx::to_gray(picture)) < 6);
    }
    fx::raster gray_alpha(50, 40, 2, 0);  // black, fully transparent: must come out white
    const fx::raster white = fx::decode_jpeg_rgb(normalized(fx::encode_png(gray_alpha)).jpeg);
    CHECK(fx::mean_rgb(white, 0, 0, 50, 40)[1] > 250);
    const fx::raster gray = fx::to_gray(picture);
    CHECK(fx::mean_abs_diff(fx::decode_jpeg_gray(normalized(fx::encode_png(gray)).jpeg), gray) < 6);
}

TEST_CASE("normalize: reads the first GIF frame, transparency on white, interlaced too",
          "[image]") {
    const fx::raster picture = fx::asymmetric_picture(160, 120);
    std::vector<std::uint8_t> mask(160 * 120, 0);
    fx::raster on_white = picture;
    for (int y = 0; y < 120; ++y) {
        for (int x = 120; x < 160; ++x) {
            mask[static_cast<std::size_t>(y * 160 + x)] = 1;
            std::fill_n(on_white.at(x, y), 3, 255);
        }
    }
    for (const bool interlaced : {false, true}) {
        CAPTURE(interlaced);
        const img::normalized_image out = normalized(fx::encode_gif(picture, mask, interlaced));
        CHECK(out.source_format == img::image_format::gif);
        REQUIRE((out.width == 160 && out.height == 120));
        const fx::raster rgb = fx::decode_jpeg_rgb(out.jpeg);
        const auto clear = fx::mean_rgb(rgb, 125, 5, 155, 90);
        CHECK((clear[0] > 245 && clear[1] > 245 && clear[2] > 245));
        // 3-3-2 colour quantisation costs some accuracy, not the picture.
        const fx::raster got = fx::shrink_gray(fx::to_gray(rgb), 8);
        const fx::raster expected = fx::shrink_gray(fx::to_gray(on_white), 8);
        CHECK(fx::mean_abs_diff(got, expected) < 12);
        CHECK(fx::mean_rgb(rgb, 0, 0, 40, 30)[0] < 40);
    }
}

TEST_CASE("normalize: turns CMYK JPEG into the right colours, not their inverse", "[image]") {
    fx::raster patches(120, 40, 3);
    for (int y = 0; y < 40; ++y) {
        for (int x = 0; x < 120; ++x) {
            std::uint8_t* p = patches.at(x, y);
            p[0] = x < 40 ? 220 : 20;  // red | green | blue
            p[1] = x >= 40 && x < 80 ? 200 : 20;
            p[2] = x >= 80 ? 210 : 20;
        }
    }
    const img::normalized_image out = normalized(fx::encode_cmyk_jpeg(patches));
    CHECK(fx::jpeg_components(out.jpeg) == 3);
    const fx::raster rgb = fx::decode_jpeg_rgb(out.jpeg);
    const auto red = fx::mean_rgb(rgb, 5, 5, 35, 35);
    const auto green = fx::mean_rgb(rgb, 45, 5, 75, 35);
    const auto blue = fx::mean_rgb(rgb, 85, 5, 115, 35);
    CHECK((red[0] > 180 && red[1] < 60 && red[2] < 60));
    CHECK((green[1] > 160 && green[0] < 60 && green[2] < 60));
    CHECK((blue[2] > 170 && blue[0] < 60 && blue[1] < 60));
}

TEST_CASE("normalize: grey JPEG comes out as three-channel JPEG", "[image]") {
    const img::normalized_image out = normalized(data_image("grayscale-jpeg-concert.jpg"));
    CHECK((out.width == 400 && out.height == 267));
    CHECK(fx::jpeg_components(out.jpeg) == 3);
    CHECK(out.source_format == img::image_format::jpeg);
}

TEST_CASE("normalize: WebP and HEIC from the data folder, HEIC without its GPS", "[image]") {
    const img::normalized_image webp = normalized(data_image("webp-photo-denali.webp"));
    CHECK((webp.width == 600 && webp.height == 315));
    CHECK(webp.source_format == img::image_format::webp);
    CHECK(only_plain_segments(webp.jpeg));

    const std::string heic_bytes = data_image("iphone7-heic-with-gps.heic");
    REQUIRE(heic_bytes.find("Exif") != std::string::npos);
    const img::normalized_image heic = normalized(heic_bytes);
    CHECK((heic.width == 1568 && heic.height == 1176));
    CHECK((heic.source_width == 4032 && heic.source_height == 3024));
    CHECK(heic.source_format == img::image_format::heic);
    CHECK(only_plain_segments(heic.jpeg));
    CHECK(heic.jpeg.find("Exif") == std::string::npos);
    CHECK(heic.jpeg.find("GPS") == std::string::npos);
}

TEST_CASE("normalize: applies a WebP file's EXIF orientation once", "[image]") {
    // The data folder's WebP with its EXIF orientation patched from 1 to 6 (rotate 90 degrees
    // clockwise to display): OpenCV's WebP reader ignores EXIF, so we must turn it, once.
    const std::string webp = data_image("webp-photo-denali.webp");
    const std::size_t chunk = webp.find("EXIF");
    REQUIRE(chunk != std::string::npos);
    std::size_t tiff = chunk + 8;
    if (webp.compare(tiff, 6, std::string("Exif\0\0", 6)) == 0) {
        tiff += 6;
    }
    const bool big_endian = webp.compare(tiff, 2, "MM") == 0;
    const std::size_t entry =
        webp.find(big_endian ? std::string("\x01\x12", 2) : std::string("\x12\x01", 2), tiff + 8);
    REQUIRE(entry != std::string::npos);
    std::string rotated = webp;
    rotated[entry + (big_endian ? 9 : 8)] = '\x06';

    const img::normalized_image plain = normalized(webp);
    const img::normalized_image turned = normalized(rotated);
    CHECK(turned.exif_orientation == 6);
    REQUIRE((turned.width == 315 && turned.height == 600));
    // Turning the plain output clockwise by hand gives the same picture.
    const fx::raster upright = fx::decode_jpeg_gray(plain.jpeg);
    const fx::raster expected = fx::stored_for_orientation(upright, 8);  // stored 8 = shown 6
    CHECK(fx::mean_abs_diff(fx::decode_jpeg_gray(turned.jpeg), expected) < 4);
}

TEST_CASE("normalize: hashes the output, and similar pictures hash close", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(640, 480);
    const img::normalized_image a = normalized(fx::encode_jpeg(picture, 95));
    CHECK(a.sha256 == boomer::sha256_hex(a.jpeg));
    REQUIRE(a.phash.size() == 16);
    CHECK(a.phash.find_first_not_of("0123456789abcdef") == std::string::npos);

    const img::normalized_image again = normalized(fx::encode_png(picture));
    CHECK(img::phash_distance(a.phash, again.phash) <= 4);
    const img::normalized_image rotated =
        normalized(fx::encode_jpeg(fx::stored_for_orientation(picture, 3), 95));
    CHECK(img::phash_distance(a.phash, rotated.phash) > 16);
}

TEST_CASE("normalize: phash_distance counts differing bits, refuses malformed hashes", "[image]") {
    CHECK(img::phash_distance("0000000000000000", "0000000000000000") == 0);
    CHECK(img::phash_distance("0000000000000000", "ffffffffffffffff") == 64);
    CHECK(img::phash_distance("0f00000000000001", "0000000000000000") == 5);
    CHECK(img::phash_distance("ABCDEF0000000000", "abcdef0000000000") == 0);
    CHECK(img::phash_distance("xyz", "0000000000000000") == img::phash_incomparable);
    CHECK(img::phash_distance("000000000000000g", "0000000000000000") == img::phash_incomparable);
}

TEST_CASE("normalize: refuses limits outside their ranges", "[image]") {
    const std::string jpeg = fx::encode_jpeg(fx::asymmetric_picture(20, 20));
    CHECK_THROWS_AS(img::normalize(jpeg, {0, 1568, 85}), std::invalid_argument);
    CHECK_THROWS_AS(img::normalize(jpeg, {1000, 8, 85}), std::invalid_argument);
    CHECK_THROWS_AS(img::normalize(jpeg, {1000, 1568, 101}), std::invalid_argument);
}

TEST_CASE("normalize: survives random damage to small files of every format", "[image][fuzz]") {
    const fx::raster picture = fx::asymmetric_picture(64, 48);
    const std::vector<std::string> seeds{
        fx::encode_jpeg(picture, 80, {{0xE1, fx::exif_payload(6)}}),
        fx::encode_jpeg(picture, 80, {}, true),
        fx::encode_png(picture),
        fx::encode_gif(picture, {}, true),
        data_image("ean13-isbn-gray-photo-01.webp"),
    };
    const std::set<std::string> codes{std::string(img::codes::corrupt_image),
                                      std::string(img::codes::unsupported_format),
                                      std::string(img::codes::too_many_pixels)};
    std::mt19937 rng(99);
    int decoded = 0;
    for (int i = 0; i < 600; ++i) {
        std::string bytes = seeds[static_cast<std::size_t>(i) % seeds.size()];
        for (int f = 0; f < 4; ++f) {
            bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xFF);
        }
        const auto result = img::normalize(bytes);
        if (result) {
            ++decoded;
            REQUIRE(result->width > 0);
            REQUIRE(result->height > 0);
            REQUIRE(fx::jpeg_markers(result->jpeg).back() == 0xD9);
        } else {
            REQUIRE(codes.count(result.error().code) == 1);
            REQUIRE_FALSE(result.error().message.empty());
        }
    }
    CHECK(decoded > 0);
}
