// fetch_photos over a scripted fetcher: all URLs at once under one deadline, bytes in request
// order, answers that are not images refused, and the failure of the first failing photo
// reported rather than the others it stopped; the budgets of items within the server's pool.
#include "pipeline/photo_fetch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>

#include "core/base64.hpp"

using namespace boomer;
namespace asio = boost::asio;

namespace {

// A 1x1 PNG.
std::string tiny_png() {
    return *base64_decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+"
        "M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");
}

// Answers each URL as scripted: bytes, or a failure code. "wait:" URLs first wait for the
// budget to be stopped by another photo, as a real download would notice between pieces.
class scripted_fetcher final : public pipeline::photo_fetcher {
public:
    std::map<std::string, result<std::string>> answers;
    int calls = 0;
    std::chrono::steady_clock::time_point deadline_seen;

    asio::awaitable<result<std::string>> fetch(pipeline::fetch_request request) override {
        ++calls;
        deadline_seen = request.deadline;
        if (request.url.starts_with("wait:")) {
            auto executor = co_await asio::this_coro::executor;
            asio::steady_timer tick(executor);
            while (!request.budget->stopped()) {
                tick.expires_after(std::chrono::milliseconds(1));
                co_await tick.async_wait(asio::use_awaitable);
            }
            co_return fail(std::string(pipeline::fetch_error::stopped), "stopped");
        }
        co_return answers.at(request.url);
    }
};

using fetch_outcome = result<std::vector<std::string>, pipeline::photo_failure>;

asio::awaitable<void> collect(scripted_fetcher* f, std::vector<std::string> urls,
                              std::optional<fetch_outcome>* out) {
    pipeline::fetch_limits limits;
    out->emplace(co_await pipeline::fetch_photos(*f, std::move(urls), limits));
}

fetch_outcome run(scripted_fetcher& f, std::vector<std::string> urls) {
    asio::io_context io;
    std::optional<fetch_outcome> out;
    asio::co_spawn(io, collect(&f, std::move(urls), &out), [](std::exception_ptr e) {
        if (e) {
            std::rethrow_exception(e);
        }
    });
    io.run();
    return std::move(*out);
}

}  // namespace

TEST_CASE("photo fetch: every URL is fetched and the bytes come back in order", "[pipeline]") {
    scripted_fetcher f;
    auto png = tiny_png();
    f.answers.emplace("a", png + "a");
    f.answers.emplace("b", png + "b");
    auto start = std::chrono::steady_clock::now();
    auto got = run(f, {"a", "b"});
    REQUIRE(got);
    REQUIRE(got->size() == 2);
    CHECK((*got)[0] == png + "a");
    CHECK((*got)[1] == png + "b");
    CHECK(f.calls == 2);
    CHECK(f.deadline_seen > start);
}

TEST_CASE("photo fetch: an answer that is not an image is refused with its photo", "[pipeline]") {
    scripted_fetcher f;
    f.answers.emplace("a", tiny_png());
    f.answers.emplace("page", std::string("<html></html>"));
    auto got = run(f, {"a", "page"});
    REQUIRE_FALSE(got);
    CHECK(got.error().what.code == "url_not_image");
    CHECK(got.error().photo == 1);
}

TEST_CASE("photo fetch: the failing photo is reported, not the ones it stopped", "[pipeline]") {
    scripted_fetcher f;
    f.answers.emplace("gone", fail("url_fetch_failed", "404"));
    auto got = run(f, {"wait:1", "gone", "wait:2"});
    REQUIRE_FALSE(got);
    CHECK(got.error().what.code == "url_fetch_failed");
    CHECK(got.error().photo == 1);
}

TEST_CASE("photo fetch: the server's pool bounds the bytes of every item's fetches together",
          "[pipeline]") {
    auto pool = std::make_shared<pipeline::fetch_pool>(100);
    {
        pipeline::fetch_budget first(1'000, pool);
        pipeline::fetch_budget second(1'000, pool);
        CHECK(first.take(60));
        CHECK(second.take(40));
        CHECK(pool->held() == 100);
        CHECK_FALSE(second.take(1));  // the pool is full
        CHECK(second.pool_full());
        CHECK(pool->held() == 100);  // a refused piece is not counted
        // The oldest item downloading may pass the pool, so that a photo larger than it, or a
        // burst of items over it, still makes progress.
        CHECK(first.take(50));
        CHECK_FALSE(first.pool_full());
        CHECK(pool->held() == 150);
        {
            pipeline::fetch_budget third(1'000, pool);
            CHECK_FALSE(third.take(1));
        }
    }
    CHECK(pool->held() == 0);  // each item's bytes come back when its fetches have ended

    // Once the oldest has ended, the next in age has the exception.
    auto older = std::make_unique<pipeline::fetch_budget>(1'000, pool);
    pipeline::fetch_budget younger(1'000, pool);
    CHECK(older->take(100));
    CHECK_FALSE(younger.take(10));
    older.reset();
    CHECK(younger.take(150));
    CHECK(pool->held() == 150);

    // The item's own limit still holds, and says so rather than the pool.
    pipeline::fetch_budget own(10);
    CHECK_FALSE(own.take(11));
    CHECK_FALSE(own.pool_full());
}
