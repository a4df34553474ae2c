// The vision answer store: memory first, then the database's shared cache table, so an answer
// paid for once is found by this process without SQL and by any other process through the table.
#include "service/vision_answers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "store/sqlite_store.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> read_into(clients::answer_store& answers, const std::string& key,
                                std::optional<std::string>* out) {
    *out = co_await answers.get(key);
}

asio::awaitable<void> write(clients::answer_store& answers, const std::string& key,
                            const std::string& value) {
    co_await answers.put(key, value);
}

std::optional<std::string> read(clients::answer_store& answers, const std::string& key) {
    asio::io_context io;
    std::optional<std::string> out;
    asio::co_spawn(io, read_into(answers, key, &out), asio::detached);
    io.run();
    return out;
}

void put(clients::answer_store& answers, const std::string& key, const std::string& value) {
    asio::io_context io;
    asio::co_spawn(io, write(answers, key, value), asio::detached);
    io.run();
}

}  // namespace

TEST_CASE("vision answers: memory answers first, the shared table serves other processes",
          "[service]") {
    test::temp_dir dir;
    auto db = store::open_sqlite_store((dir.path() / "db").string(), {});
    asio::thread_pool pool(1);
    metrics::registry registry;
    const auto& time = system_clock::instance();
    auto mine =
        service::make_vision_answers(*db, pool, time, std::chrono::hours(24), {}, &registry);
    CHECK_FALSE(read(*mine, "claude:k1"));
    put(*mine, "claude:k1", R"({"v":1})");

    // Another replica (fresh memory) finds the answer in the table.
    auto other = service::make_vision_answers(*db, pool, time, std::chrono::hours(24));
    CHECK(read(*other, "claude:k1") == R"({"v":1})");

    // This process answers from memory: a change made behind its back in the table is not seen
    // until the entry leaves memory, while a fresh reader sees the table.
    db->cache_put("claude:k1", R"({"v":2})", time.now_ms() + 60'000);
    CHECK(read(*mine, "claude:k1") == R"({"v":1})");
    auto third = service::make_vision_answers(*db, pool, time, std::chrono::hours(24));
    CHECK(read(*third, "claude:k1") == R"({"v":2})");

    auto text = registry.render();
    CHECK(
        text.find(R"(boomer_cache_lookups_total{cache="vision_answers_memory",outcome="hit"} 1)") !=
        std::string::npos);
    pool.join();
}

TEST_CASE("vision answers: memory holds no more entries than its cap", "[service]") {
    test::temp_dir dir;
    auto db = store::open_sqlite_store((dir.path() / "db").string(), {});
    asio::thread_pool pool(1);
    const auto& time = system_clock::instance();
    cache::lru_options small{.max_entries = 2, .max_bytes = 1 << 20, .shards = 1};
    auto mine = service::make_vision_answers(*db, pool, time, std::chrono::hours(24), small);
    for (int i = 0; i < 5; ++i) {
        put(*mine, "claude:k" + std::to_string(i), "v" + std::to_string(i));
    }
    // The table has all five; memory only the last two, so an early key comes from the table.
    db->cache_put("claude:k0", "from the table", time.now_ms() + 60'000);
    db->cache_put("claude:k4", "from the table", time.now_ms() + 60'000);
    CHECK(read(*mine, "claude:k0") == "from the table");
    CHECK(read(*mine, "claude:k4") == "v4");
    pool.join();
}
