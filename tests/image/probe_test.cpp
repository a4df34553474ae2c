// probe and sniff_format: every format's header, garbage, truncation, and a mutation fuzz loop.
#include "pipeline/image/probe.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <random>
#include <string>

#include "tests/image/image_fixtures.hpp"
#include "tests/support/paths.hpp"

namespace img = boomer::image;
namespace fx = boomer::image::test;

namespace {

std::string data_image(const std::string& name) {
    return boomer::test::read_file(boomer::test::data_dir() / "images" / name);
}

// A JPEG whose frame header declares width x height, with no image data after it.
std::string jpeg_header_only(int width, int height) {
    std::string jpeg("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20);
    jpeg += std::string("\xFF\xC0\x00\x0B\x08", 5);
    jpeg += static_cast<char>(height >> 8);
    jpeg += static_cast<char>(height & 0xFF);
    jpeg += static_cast<char>(width >> 8);
    jpeg += static_cast<char>(width & 0xFF);
    jpeg += std::string("\x01\x01\x11\x00", 4);
    return jpeg;
}

}  // namespace

TEST_CASE("probe: reads the size of synthetic JPEG, PNG and GIF files", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(123, 45);

    const auto jpeg = img::probe(fx::encode_jpeg(picture));
    REQUIRE(jpeg);
    CHECK(jpeg->format == img::image_format::jpeg);
    CHECK(jpeg->width == 123);
    CHECK(jpeg->height == 45);
    CHECK(jpeg->media_type == "image/jpeg");

    const auto png = img::probe(fx::encode_png(picture, 16));
    REQUIRE(png);
    CHECK(png->format == img::image_format::png);
    CHECK((png->width == 123 && png->height == 45));
    CHECK(png->media_type == "image/png");

    const auto gif = img::probe(fx::encode_gif(picture));
    REQUIRE(gif);
    CHECK(gif->format == img::image_format::gif);
    CHECK((gif->width == 123 && gif->height == 45));
    CHECK(gif->media_type == "image/gif");
}

TEST_CASE("probe: reads a JPEG frame header after EXIF and ICC segments", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(64, 200);
    const std::string jpeg = fx::encode_jpeg(
        picture, 80, {{0xE1, fx::exif_payload(6, true, true)}, {0xE2, fx::icc_payload()}}, true);
    const auto info = img::probe(jpeg);
    REQUIRE(info);
    CHECK(info->width == 64);
    CHECK(info->height == 200);
}

TEST_CASE("probe: reads a 20000x14000 declaration without image data", "[image]") {
    const auto info = img::probe(jpeg_header_only(20000, 14000));
    REQUIRE(info);
    CHECK(info->width == 20000);
    CHECK(info->height == 14000);
}

TEST_CASE("probe: reads WebP and HEIC headers from the data folder", "[image]") {
    const auto webp = img::probe(data_image("webp-photo-denali.webp"));
    REQUIRE(webp);
    CHECK(webp->format == img::image_format::webp);
    CHECK((webp->width == 600 && webp->height == 315));
    CHECK(webp->media_type == "image/webp");

    const auto lossless_alpha = img::probe(data_image("ean13-isbn-gray-photo-01.webp"));
    REQUIRE(lossless_alpha);
    CHECK((lossless_alpha->width == 480 && lossless_alpha->height == 360));

    const auto heic = img::probe(data_image("iphone7-heic-with-gps.heic"));
    REQUIRE(heic);
    CHECK(heic->format == img::image_format::heic);
    CHECK((heic->width == 4032 && heic->height == 3024));
    CHECK(heic->media_type == "image/heic");
}

TEST_CASE("probe: refuses empty input, garbage and foreign formats", "[image]") {
    CHECK_FALSE(img::probe(""));
    CHECK_FALSE(img::probe(std::string(1, '\xFF')));
    CHECK_FALSE(img::probe("hello, this is not an image at all"));
    CHECK_FALSE(img::probe("%PDF-1.7\n1 0 obj"));
    CHECK_FALSE(img::probe(std::string("BM\x36\x00\x00\x00", 6)));  // BMP: not ours
    CHECK_FALSE(
        img::probe(std::string("\x00\x00\x00\x18"
                               "ftypmp42",
                               12)));  // MP4 video
    CHECK(img::sniff_format("") == img::image_format::unknown);
    CHECK(img::media_type(img::image_format::unknown) == "application/octet-stream");
}

TEST_CASE("probe: refuses truncated headers of every format", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(40, 30);
    const std::string jpeg = jpeg_header_only(40, 30);
    const std::string png = fx::encode_png(picture);
    const std::string gif = fx::encode_gif(picture);
    const std::string webp = data_image("webp-photo-denali.webp");

    // Cut inside the size fields: the format is still recognised, the size is not.
    CHECK_FALSE(img::probe(jpeg.substr(0, jpeg.size() - 5)));
    CHECK_FALSE(img::probe(png.substr(0, 20)));
    CHECK_FALSE(img::probe(gif.substr(0, 8)));
    CHECK_FALSE(img::probe(webp.substr(0, 27)));
    CHECK(img::sniff_format(png.substr(0, 20)) == img::image_format::png);
    CHECK(img::sniff_format(jpeg.substr(0, 3)) == img::image_format::jpeg);

    // A JPEG whose scan starts before any frame header declares no size.
    CHECK_FALSE(img::probe(std::string("\xFF\xD8\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 12)));
    // A segment length that runs past the end.
    CHECK_FALSE(
        img::probe(std::string("\xFF\xD8\xFF\xE1\xFF\xF0"
                               "Exif",
                               10)));
}

TEST_CASE("probe: refuses zero sizes", "[image]") {
    CHECK_FALSE(img::probe(jpeg_header_only(0, 30)));
    CHECK_FALSE(img::probe(jpeg_header_only(30, 0)));
    std::string gif("GIF89a\x00\x00\x10\x00\x00\x00\x00", 13);
    CHECK_FALSE(img::probe(gif));
}

TEST_CASE("probe: survives random mutations of real headers", "[image][fuzz]") {
    const fx::raster picture = fx::asymmetric_picture(48, 32);
    const std::vector<std::string> seeds{
        fx::encode_jpeg(picture, 80, {{0xE1, fx::exif_payload(6)}}),
        fx::encode_png(picture),
        fx::encode_gif(picture),
        data_image("webp-photo-denali.webp").substr(0, 4096),
        data_image("ean13-isbn-gray-photo-01.webp"),
        data_image("iphone7-heic-with-gps.heic").substr(0, 8192),
    };
    std::mt19937 rng(20240611);
    int recognised = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string bytes = seeds[static_cast<std::size_t>(i) % seeds.size()];
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) {
            const std::size_t at = rng() % std::min<std::size_t>(bytes.size(), 256);
            bytes[at] = static_cast<char>(rng() & 0xFF);
        }
        if (rng() % 3 == 0) {
            bytes.resize(rng() % bytes.size());
        }
        const auto info = img::probe(bytes);
        if (info) {
            ++recognised;
            REQUIRE(info->width > 0);
            REQUIRE(info->height > 0);
            REQUIRE(info->format != img::image_format::unknown);
            REQUIRE(info->media_type == img::media_type(info->format));
        }
    }
    CHECK(recognised > 100);  // the mutations did not just break every header
}
