// base64: round trips, the tolerated forms (no padding, line breaks) and every refused one.
#include "core/base64.hpp"

#include <catch2/catch.hpp>
#include <string>

using boomer::base64_decode;
using boomer::base64_encode;

TEST_CASE("base64: encoding and decoding round-trip every length and byte", "[core]") {
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        bytes.push_back(static_cast<char>(i * 7 % 256));
        auto encoded = base64_encode(bytes);
        CHECK(encoded.size() % 4 == 0);
        auto decoded = base64_decode(encoded);
        REQUIRE(decoded);
        CHECK(*decoded == bytes);
        CHECK(boomer::base64_decoded_size_bound(encoded.size()) >= bytes.size());
    }
}

TEST_CASE("base64: known vectors, with and without padding and with line breaks", "[core]") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64_decode("Zm9vYg==") == std::string("foob"));
    CHECK(base64_decode("Zm9vYg") == std::string("foob"));
    CHECK(base64_decode("Zm9v\r\nYmFy\n") == std::string("foobar"));
    CHECK(base64_decode("") == std::string());
}

TEST_CASE("base64: malformed text is refused", "[core]") {
    CHECK_FALSE(base64_decode("Zm9v$mFy"));   // a character outside the alphabet
    CHECK_FALSE(base64_decode("Zm9v-_Fy"));   // the URL-safe alphabet is not this one
    CHECK_FALSE(base64_decode("Zm9vY"));      // a lone character in the last group
    CHECK_FALSE(base64_decode("Zm9vYg="));    // padding that does not complete the group
    CHECK_FALSE(base64_decode("Zm9vYg==x"));  // data after the padding
    CHECK_FALSE(base64_decode("Zm9vYh=="));   // bits set after the last byte
    CHECK_FALSE(base64_decode("===="));
}
