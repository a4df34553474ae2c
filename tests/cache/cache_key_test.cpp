// Cache keys: every generation parameter changes the key, and an answer from a fallback model is
// never found under the primary model's key.
#include "cache/cache_key.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "cache/tiered_cache.hpp"

using namespace boomer;
using namespace boomer::cache;
namespace asio = boost::asio;

namespace {

struct generation {
    std::string model = "claude-haiku-4-5";
    int max_tokens = 2048;
    std::optional<double> temperature;
    std::string prompt_version = "identify-v1";
    std::vector<std::string> images = {"\xff\xd8 jpeg one", "\xff\xd8 jpeg two"};
    std::string tool_schema = R"({"name":"record_identification"})";
};

std::string key_of(const generation& g) {
    cache_key_builder b("vision");
    b.add("model", g.model)
        .add("max_tokens", g.max_tokens)
        .add("temperature", g.temperature)
        .add("prompt_version", g.prompt_version)
        .add("tool_schema", g.tool_schema)
        .add("images", static_cast<std::int64_t>(g.images.size()));
    for (const auto& image : g.images) {
        b.add_digest("image", image);
    }
    return b.build();
}

asio::awaitable<void> ask(tiered_cache<std::string>& cache, const std::string& key,
                          const tiered_cache<std::string>::loader& load,
                          std::optional<result<std::string>>* out) {
    out->emplace(co_await cache.get_or_load(key, load));
}

asio::awaitable<result<std::string>> answer_with(std::string text, int* calls) {
    ++*calls;
    co_return text;
}

}  // namespace

TEST_CASE("cache key: requests differing in one generation parameter never share a key",
          "[cache]") {
    generation base;
    std::vector<generation> variants(8, base);
    variants[1].model = "claude-sonnet-4-5";
    variants[2].max_tokens = 2049;
    variants[3].temperature = 0.0;  // set to zero is not unset
    variants[4].prompt_version = "identify-v2";
    variants[5].images[1] += " ";  // one byte more in one image
    variants[6].tool_schema = R"({"name":"record_identification","x":1})";
    variants[7].images = {variants[7].images[1], variants[7].images[0]};  // order matters
    std::set<std::string> keys;
    for (const auto& v : variants) {
        keys.insert(key_of(v));
    }
    CHECK(keys.size() == variants.size());
    CHECK(key_of(base) == key_of(generation{}));  // the same request, the same key
    CHECK(key_of(base).rfind("vision:", 0) == 0);
    CHECK(key_of(base).size() == 7 + 64);
}

TEST_CASE("cache key: fields cannot run into each other", "[cache]") {
    auto ab = cache_key_builder("k").add("a", "bc").add("d", "").build();
    auto abc = cache_key_builder("k").add("a", "b").add("cd", "").build();
    CHECK(ab != abc);
    auto close = cache_key_builder("k").add("t", std::optional<double>(0.1)).build();
    auto same = cache_key_builder("k").add("t", std::optional<double>(1.0 / 10.0)).build();
    auto next =
        cache_key_builder("k").add("t", std::optional<double>(std::nextafter(0.1, 1.0))).build();
    CHECK(close == same);  // the same double
    CHECK(close != next);  // the next representable double is another key
}

TEST_CASE("cache key: a fallback model's answer never fills the primary's entry", "[cache]") {
    manual_clock time;
    tiered_options<std::string> options;
    options.name = "vision";
    tiered_cache<std::string> cache(options, time, nullptr, nullptr, nullptr);
    generation primary;
    generation fallback;
    fallback.model = "claude-sonnet-4-5";
    auto primary_key = key_of(primary);
    auto fallback_key = key_of(fallback);

    // The primary failed and the fallback answered: the answer goes under the fallback's key.
    asio::io_context io;
    std::string fallback_answer = "from sonnet";
    asio::co_spawn(io, cache.put(fallback_key, fallback_answer), asio::detached);
    io.run();

    int calls = 0;
    tiered_cache<std::string>::loader load_primary = [&calls] {
        return answer_with("from haiku", &calls);
    };
    std::optional<result<std::string>> got;
    asio::co_spawn(io, ask(cache, primary_key, load_primary, &got), asio::detached);
    io.restart();
    io.run();
    CHECK(calls == 1);  // a miss: the primary's own loader ran
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK(got->value() == "from haiku");
    REQUIRE(cache.memory().peek(fallback_key));
    CHECK(*cache.memory().peek(fallback_key) == "from sonnet");
}
