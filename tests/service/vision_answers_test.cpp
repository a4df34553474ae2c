// The vision answer store on the database's shared cache table: what one process writes every
// other process reads, entries expire, and the blocking calls run on the store's pool.
#include "service/vision_answers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "store/sqlite_store.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> read_into(clients::answer_store& answers, std::string key,
                                std::int64_t now_ms, std::optional<std::string>* out,
                                std::thread::id* ran_on) {
    *out = co_await clients::read_answer(answers, key, now_ms);
    *ran_on = std::this_thread::get_id();
}

asio::awaitable<void> write(clients::answer_store& answers, std::string key, std::string value,
                            std::int64_t expires_at_ms) {
    co_await clients::write_answer(answers, key, value, expires_at_ms);
}

// The caller's io_context must outlive the store's pool: the pool's thread may still be inside
// its post to `io` when the run returns.
std::optional<std::string> read(asio::io_context& io, clients::answer_store& answers,
                                const std::string& key, std::int64_t now_ms) {
    std::optional<std::string> out;
    std::thread::id resumed_on;
    asio::co_spawn(io, read_into(answers, key, now_ms, &out, &resumed_on), asio::detached);
    io.restart();
    io.run();
    CHECK(resumed_on == std::this_thread::get_id());  // back on the caller's executor
    return out;
}

void put(asio::io_context& io, clients::answer_store& answers, const std::string& key,
         const std::string& value, std::int64_t expires_at_ms) {
    asio::co_spawn(io, write(answers, key, value, expires_at_ms), asio::detached);
    io.restart();
    io.run();
}

}  // namespace

TEST_CASE("vision answers: the shared table serves other processes until the entry expires",
          "[service]") {
    test::temp_dir dir;
    auto db = store::open_sqlite_store((dir.path() / "db").string(), {});
    asio::io_context io;  // before the pool, so that the pool is joined first
    asio::thread_pool pool(1);
    auto mine = service::make_vision_answers(*db, pool);
    CHECK(mine->pool() == &pool);
    CHECK_FALSE(read(io, *mine, "claude:k1", 1'000));
    put(io, *mine, "claude:k1", R"({"v":1})", 5'000);

    // Another replica finds the answer in the table, until it expires.
    auto other = service::make_vision_answers(*db, pool);
    CHECK(read(io, *other, "claude:k1", 4'999) == R"({"v":1})");
    CHECK_FALSE(read(io, *other, "claude:k1", 5'000));

    // A later write replaces the entry (a cleared batch record, say).
    put(io, *other, "claude:k1", R"({"v":2})", 10'000);
    CHECK(read(io, *mine, "claude:k1", 6'000) == R"({"v":2})");
    CHECK(db->cache_get("claude:k1", 6'000) == R"({"v":2})");
    pool.join();
}
