// iso8601_utc and parse_iso8601: the timestamps of upstream objects read back to the millisecond,
// with fractions, zones and malformed text.
#include "core/clock.hpp"

#include <catch2/catch.hpp>

using boomer::iso8601_utc;
using boomer::parse_iso8601;

TEST_CASE("clock: timestamps written by iso8601_utc read back exactly", "[core]") {
    for (std::int64_t ms :
         {std::int64_t{0}, std::int64_t{1'796'400'635'123}, std::int64_t{951'782'400'999}}) {
        CHECK(parse_iso8601(iso8601_utc(ms)) == ms);
    }
}

TEST_CASE("clock: RFC 3339 fractions and zone offsets", "[core]") {
    const std::int64_t base = 1'724'179'044'000;  // 2024-08-20T18:37:24Z
    CHECK(parse_iso8601("2024-08-20T18:37:24Z") == base);
    CHECK(parse_iso8601("2024-08-20T18:37:24.100435Z") == base + 100);  // microseconds
    CHECK(parse_iso8601("2024-08-20T18:37:24.5Z") == base + 500);
    CHECK(parse_iso8601("2024-08-20t18:37:24z") == base);
    CHECK(parse_iso8601("2024-08-20T20:37:24+02:00") == base);
    CHECK(parse_iso8601("2024-08-20T13:07:24-05:30") == base);
}

TEST_CASE("clock: malformed timestamps read as none", "[core]") {
    for (const char* bad :
         {"", "2024-08-20", "2024-08-20T18:37:24", "2024-08-20 18:37:24Z", "2024-13-20T18:37:24Z",
          "2024-08-20T24:00:00Z", "2024-08-20T18:37:24.Z", "2024-08-20T18:37:24+0200",
          "2024-08-20T18:37:24Zjunk", "20x4-08-20T18:37:24Z"}) {
        INFO(bad);
        CHECK_FALSE(parse_iso8601(bad));
    }
}
