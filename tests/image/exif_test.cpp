// The EXIF orientation reader on JPEG, WebP and TIFF blocks, including malformed ones.
#include "pipeline/image/exif.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "tests/image/image_fixtures.hpp"
#include "tests/support/paths.hpp"

namespace img = boomer::image;
namespace fx = boomer::image::test;

namespace {

std::string tiff_of(const std::string& app1_payload) {
    return app1_payload.substr(6);
}

}  // namespace

TEST_CASE("exif: reads every orientation in both byte orders", "[image]") {
    for (int orientation = 1; orientation <= 8; ++orientation) {
        CHECK(img::tiff_orientation(tiff_of(fx::exif_payload(orientation, true))) == orientation);
        CHECK(img::tiff_orientation(tiff_of(fx::exif_payload(orientation, false))) == orientation);
    }
}

TEST_CASE("exif: finds the orientation among other tags and after other segments", "[image]") {
    const fx::raster picture = fx::asymmetric_picture(16, 16);
    const std::string jpeg =
        fx::encode_jpeg(picture, 80,
                        {{0xE0, std::string("JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 14)},
                         {0xE2, fx::icc_payload()},
                         {0xE1, fx::exif_payload(8, true, true)}});
    CHECK(img::jpeg_exif_orientation(jpeg) == 8);
}

TEST_CASE("exif: defaults to 1 when the tag is missing, invalid or cut off", "[image]") {
    CHECK(img::tiff_orientation("") == 1);
    CHECK(img::tiff_orientation("MM") == 1);
    CHECK(img::tiff_orientation("XX\0*\0\0\0\x08") == 1);
    CHECK(img::tiff_orientation(tiff_of(fx::exif_payload(0))) == 1);  // no orientation tag
    CHECK(img::tiff_orientation(tiff_of(fx::exif_payload(9))) == 1);  // out of range
    CHECK(img::tiff_orientation(tiff_of(fx::exif_payload(0xFFFF))) == 1);
    const std::string whole = tiff_of(fx::exif_payload(6));
    for (std::size_t cut = 0; cut < whole.size(); ++cut) {
        const int found = img::tiff_orientation(whole.substr(0, cut));
        CHECK((found == 1 || found == 6));
    }
    CHECK(img::jpeg_exif_orientation("") == 1);
    CHECK(img::jpeg_exif_orientation(fx::encode_jpeg(fx::asymmetric_picture(8, 8))) == 1);
    CHECK(img::webp_exif_orientation("RIFF") == 1);
}

TEST_CASE("exif: reads the EXIF chunk of a WebP file", "[image]") {
    const std::string webp =
        boomer::test::read_file(boomer::test::data_dir() / "images" / "webp-photo-denali.webp");
    CHECK(img::webp_exif_orientation(webp) == 1);

    // The same file with orientation 6 patched into its EXIF chunk: find the TIFF block (after
    // the chunk header and an optional "Exif\0\0"), then the Orientation entry (tag 0x0112).
    const std::size_t chunk = webp.find("EXIF");
    REQUIRE(chunk != std::string::npos);
    std::size_t tiff = chunk + 8;
    if (webp.compare(tiff, 6, std::string("Exif\0\0", 6)) == 0) {
        tiff += 6;
    }
    const bool big_endian = webp.compare(tiff, 2, "MM") == 0;
    const std::string tag = big_endian ? std::string("\x01\x12", 2) : std::string("\x12\x01", 2);
    const std::size_t entry = webp.find(tag, tiff + 8);
    REQUIRE(entry != std::string::npos);
    std::string patched = webp;
    patched[entry + 8] = big_endian ? '\0' : '\x06';
    patched[entry + 9] = big_endian ? '\x06' : '\0';
    CHECK(img::webp_exif_orientation(patched) == 6);
}

TEST_CASE("exif: survives random mutations of EXIF segments", "[image][fuzz]") {
    const fx::raster picture = fx::asymmetric_picture(8, 8);
    const std::string seed =
        fx::encode_jpeg(picture, 50, {{0xE1, fx::exif_payload(3, false, true)}});
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; ++i) {
        std::string bytes = seed;
        for (int f = 0; f < 6; ++f) {
            bytes[2 + rng() % 120] = static_cast<char>(rng() & 0xFF);
        }
        const int orientation = img::jpeg_exif_orientation(bytes);
        REQUIRE(orientation >= 1);
        REQUIRE(orientation <= 8);
    }
}
