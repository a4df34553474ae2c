// The second-level cache table, run against every store engine: put and get, replacement,
// expiry at the exact instant, purge, large values, two stores on one database, and claims.
#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;

STORE_TEST("cache: a stored value is read back until it expires", "[store][cache]") {
    CHECK_FALSE(s.cache_get("comps:ipod", t0));
    s.cache_put("comps:ipod", R"({"comps":[1,2,3]})", t0 + 1'000);

    auto got = s.cache_get("comps:ipod", t0);
    REQUIRE(got);
    CHECK(*got == R"({"comps":[1,2,3]})");
    CHECK(s.cache_get("comps:ipod", t0 + 999) == got);
    CHECK_FALSE(s.cache_get("comps:other", t0));
}

STORE_TEST("cache: an entry is invisible from the instant it expires", "[store][cache]") {
    s.cache_put("k", "v", t0 + 500);
    CHECK(s.cache_get("k", t0 + 499));
    CHECK_FALSE(s.cache_get("k", t0 + 500));
    CHECK_FALSE(s.cache_get("k", t0 + 501));
}

STORE_TEST("cache: a put replaces the value and the expiry", "[store][cache]") {
    s.cache_put("k", "first", t0 + 100);
    s.cache_put("k", "second", t0 + 10'000);
    CHECK(s.cache_get("k", t0 + 5'000) == std::optional<std::string>("second"));

    // Replacing with an earlier expiry shortens the entry's life too.
    s.cache_put("k", "third", t0 + 200);
    CHECK(s.cache_get("k", t0 + 100) == std::optional<std::string>("third"));
    CHECK_FALSE(s.cache_get("k", t0 + 200));

    // An expired entry can be stored again.
    s.cache_put("k", "fourth", t0 + 20'000);
    CHECK(s.cache_get("k", t0 + 15'000) == std::optional<std::string>("fourth"));
}

STORE_TEST("cache: values of 100 KB with quotes and backslashes survive", "[store][cache]") {
    std::string value = "{\"text\":\"";
    while (value.size() < 100'000) {
        value += "a \\\"quoted\\\" \\\\ line, caf\xc3\xa9\\n";
    }
    value += "\"}";
    s.cache_put("big", value, t0 + 1'000);
    auto got = s.cache_get("big", t0);
    REQUIRE(got);
    CHECK(got->size() == value.size());
    CHECK(*got == value);
}

STORE_TEST("cache: the purge removes exactly the expired entries", "[store][cache]") {
    s.cache_put("a", "1", t0 + 100);
    s.cache_put("b", "2", t0 + 200);
    s.cache_put("c", "3", t0 + 300);

    CHECK(s.cache_purge_expired(t0 + 99) == 0);
    CHECK(s.cache_purge_expired(t0 + 200) == 2);
    CHECK(s.cache_purge_expired(t0 + 200) == 0);
    CHECK(s.cache_get("c", t0 + 250) == std::optional<std::string>("3"));
    CHECK_FALSE(s.cache_get("a", t0));  // gone, not just expired
}

STORE_TEST("cache: two stores on one database share entries", "[store][cache]") {
    auto other = e.open(dir);
    s.cache_put("shared", "from the first", t0 + 1'000);
    CHECK(other->cache_get("shared", t0) == std::optional<std::string>("from the first"));

    other->cache_put("shared", "from the second", t0 + 2'000);
    CHECK(s.cache_get("shared", t0 + 1'500) == std::optional<std::string>("from the second"));
    CHECK(other->cache_purge_expired(t0 + 2'000) == 1);
    CHECK_FALSE(s.cache_get("shared", t0));
}

STORE_TEST("cache: a claim stores only where no entry is visible", "[store][cache]") {
    CHECK(s.cache_claim("claim:k", "mine", t0 + 1'000, t0));
    CHECK(s.cache_get("claim:k", t0) == std::optional<std::string>("mine"));
    // Held: another claim fails and changes nothing, up to the instant it expires.
    CHECK_FALSE(s.cache_claim("claim:k", "theirs", t0 + 5'000, t0 + 999));
    CHECK(s.cache_get("claim:k", t0 + 999) == std::optional<std::string>("mine"));
    CHECK(s.cache_claim("claim:k", "theirs", t0 + 5'000, t0 + 1'000));
    CHECK(s.cache_get("claim:k", t0 + 4'999) == std::optional<std::string>("theirs"));
    // A put that ends an entry now (a release) lets the next claim in at once.
    s.cache_put("claim:k", "", t0 + 2'000);
    CHECK(s.cache_claim("claim:k", "again", t0 + 3'000, t0 + 2'000));
}

STORE_TEST("cache: of claims on one key from two stores at once, exactly one wins",
           "[store][cache]") {
    auto other = e.open(dir);
    for (int round = 0; round < 20; ++round) {
        const std::string key = "claim:race" + std::to_string(round);
        std::atomic<int> won{0};
        std::thread a([&] { won += s.cache_claim(key, "a", t0 + 1'000, t0) ? 1 : 0; });
        std::thread b([&] { won += other->cache_claim(key, "b", t0 + 1'000, t0) ? 1 : 0; });
        a.join();
        b.join();
        CHECK(won.load() == 1);
    }
}
