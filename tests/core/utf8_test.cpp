// valid_utf8: well-formed text passes unchanged; every kind of malformed sequence is replaced.
#include "core/utf8.hpp"

#include <catch2/catch.hpp>

using boomer::valid_utf8;

TEST_CASE("utf8: well-formed text is unchanged", "[core]") {
    for (std::string_view s : {"", "plain ascii", "caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC",
                               "\xF0\x9F\x93\xB7 camera", "\xEF\xBF\xBD"}) {
        CHECK(valid_utf8(s) == s);
    }
}

TEST_CASE("utf8: malformed sequences become U+FFFD", "[core]") {
    const std::string r = "\xEF\xBF\xBD";
    CHECK(valid_utf8("bad\xFF\xFE.jpg") == "bad" + r + r + ".jpg");
    CHECK(valid_utf8("\x80x") == r + "x");                   // stray continuation byte
    CHECK(valid_utf8("\xC0\xAF") == r + r);                  // overlong '/'
    CHECK(valid_utf8("\xED\xA0\x80") == r + r + r);          // surrogate
    CHECK(valid_utf8("\xF4\x90\x80\x80") == r + r + r + r);  // past U+10FFFF
    CHECK(valid_utf8("end\xE6\x97") == "end" + r + r);       // truncated at the end
}
