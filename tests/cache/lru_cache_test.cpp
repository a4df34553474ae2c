// The sharded LRU: deep sizes, TTL on a manual clock, eviction order, caps under ten times the
// capacity, and its metrics.
#include "cache/lru_cache.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace boomer;
using namespace boomer::cache;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds one_day{24 * 3600 * 1000};

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (l == line) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("deep size: strings, vectors and maps count their heap payload", "[cache]") {
    std::string small = "abc";
    CHECK(heap_size(small) == 0);  // inside the string object
    std::string big(1000, 'x');
    CHECK(heap_size(big) == big.capacity() + 1);
    CHECK(deep_size(big) == sizeof(std::string) + big.capacity() + 1);

    std::vector<std::string> list;
    list.reserve(4);
    list.push_back(big);
    list.push_back(small);
    CHECK(heap_size(list) == 4 * sizeof(std::string) + big.capacity() + 1);

    std::map<std::string, std::string> m{{"k", big}};
    CHECK(heap_size(m) ==
          sizeof(std::pair<const std::string, std::string>) + node_overhead + big.capacity() + 1);
    std::optional<std::string> none;
    CHECK(heap_size(none) == 0);
}

TEST_CASE("lru cache: values live until their TTL", "[cache]") {
    manual_clock time;
    lru_cache<std::string> c("t", {.max_entries = 10, .max_bytes = 1 << 20, .shards = 2}, time);
    REQUIRE(c.put("a", "apple", milliseconds(1000)));
    REQUIRE(c.get("a"));
    CHECK(*c.get("a") == "apple");
    time.advance_ms(999);
    CHECK(c.get("a"));
    time.advance_ms(1);
    CHECK_FALSE(c.get("a"));
    CHECK(c.entries() == 0);
    CHECK(c.bytes() == 0);
    CHECK_FALSE(c.put("b", "zero ttl", milliseconds(0)));
}

TEST_CASE("lru cache: the least recently used entry is evicted first", "[cache]") {
    manual_clock time;
    lru_cache<std::string> c("t", {.max_entries = 3, .max_bytes = 1 << 20, .shards = 1}, time);
    c.put("a", "1", one_day);
    c.put("b", "2", one_day);
    c.put("c", "3", one_day);
    CHECK(c.get("a"));  // a is now the most recent; b the least
    c.put("d", "4", one_day);
    CHECK_FALSE(c.get("b"));
    CHECK(c.get("a"));
    CHECK(c.get("c"));
    CHECK(c.get("d"));
    CHECK(c.entries() == 3);
}

TEST_CASE("lru cache: replacing a key does not count it twice", "[cache]") {
    manual_clock time;
    lru_cache<std::string> c("t", {.max_entries = 4, .max_bytes = 1 << 20, .shards = 1}, time);
    c.put("k", std::string(500, 'a'), one_day);
    auto first = c.bytes();
    c.put("k", std::string(500, 'b'), one_day);
    CHECK(c.entries() == 1);
    CHECK(c.bytes() == first);
    CHECK((*c.get("k"))[0] == 'b');
}

TEST_CASE("lru cache: ten times the capacity with one-day TTLs never exceeds the caps", "[cache]") {
    manual_clock time;
    const std::size_t max_entries = 200;
    const std::size_t max_bytes = 64 * 1024;
    lru_cache<std::vector<std::string>> c(
        "t", {.max_entries = max_entries, .max_bytes = max_bytes, .shards = 8}, time);
    std::size_t stored = 0;
    for (std::size_t i = 0; i < 10 * max_entries; ++i) {
        // Values from a few bytes to several hundred, mostly on the heap.
        std::vector<std::string> value(1 + i % 3, std::string(20 + (i * 37) % 400, 'v'));
        stored += c.put("key-" + std::to_string(i), std::move(value), one_day) ? 1 : 0;
        REQUIRE(c.entries() <= max_entries);
        REQUIRE(c.bytes() <= max_bytes);
    }
    CHECK(stored == 10 * max_entries);
    CHECK(c.entries() > 0);
    // The bytes counted are the deep sizes: far more than the object headers alone.
    CHECK(c.bytes() > c.entries() * (sizeof(std::vector<std::string>) + 100));
}

TEST_CASE("lru cache: a value larger than a shard's byte cap is not stored", "[cache]") {
    manual_clock time;
    lru_cache<std::string> c("t", {.max_entries = 10, .max_bytes = 4096, .shards = 2}, time);
    CHECK_FALSE(c.put("huge", std::string(3000, 'x'), one_day));
    CHECK(c.entries() == 0);
    CHECK(c.put("fits", std::string(1000, 'x'), one_day));
}

TEST_CASE("lru cache: lookups, entries and bytes are exported", "[cache]") {
    manual_clock time;
    metrics::registry registry;
    lru_cache<std::string> c("vision", {.max_entries = 10, .max_bytes = 1 << 20, .shards = 1}, time,
                             nullptr, &registry);
    c.put("a", std::string(100, 'a'), one_day);
    c.get("a");
    c.get("a");
    c.get("missing");
    auto text = registry.render();
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision",outcome="hit"} 2)"));
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision",outcome="miss"} 1)"));
    CHECK(has_line(text, R"(boomer_cache_entries{cache="vision"} 1)"));
    CHECK(has_line(text, "boomer_cache_bytes{cache=\"vision\"} " + std::to_string(c.bytes())));
}
