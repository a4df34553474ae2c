// byte_budget: grants in arrival order while the bytes fit, lets one oversized request through
// alone, gives back what a cancelled waiter was granted, and never holds more than its capacity
// under threads.
#include "pipeline/byte_budget.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

using boomer::pipeline::byte_budget;
namespace asio = boost::asio;

namespace {

// (The first tests poll the io_context: a waiter's pending receive would keep run() going.)
// take acquires `bytes`, notes `name` in `order` when granted, and keeps the hold in `out`.
asio::awaitable<void> take(byte_budget& budget, std::int64_t bytes, std::string name,
                           std::vector<std::string>& order, std::optional<byte_budget::hold>& out) {
    auto hold = co_await budget.acquire(bytes);
    order.push_back(name);
    out.emplace(std::move(hold));
}

}  // namespace

TEST_CASE("byte budget: grants while the bytes fit, then first come first served", "[pipeline]") {
    asio::io_context io;
    byte_budget budget(100);
    std::vector<std::string> order;
    std::optional<byte_budget::hold> a, b, c;
    asio::co_spawn(io, take(budget, 80, "a", order, a), asio::detached);
    io.poll();
    io.restart();
    CHECK(budget.held() == 80);
    // b does not fit; c would, but waits behind b.
    asio::co_spawn(io, take(budget, 50, "b", order, b), asio::detached);
    asio::co_spawn(io, take(budget, 10, "c", order, c), asio::detached);
    io.poll();
    io.restart();
    CHECK(order == std::vector<std::string>{"a"});
    CHECK(budget.waiting() == 2);

    a->release();
    io.poll();
    io.restart();
    CHECK(order == std::vector<std::string>{"a", "b", "c"});
    CHECK(budget.held() == 60);
    CHECK(budget.waiting() == 0);
    b.reset();
    c.reset();
    CHECK(budget.held() == 0);
}

TEST_CASE("byte budget: a request larger than the budget goes through alone", "[pipeline]") {
    asio::io_context io;
    byte_budget budget(100);
    std::vector<std::string> order;
    std::optional<byte_budget::hold> big, small;
    asio::co_spawn(io, take(budget, 500, "big", order, big), asio::detached);
    asio::co_spawn(io, take(budget, 1, "small", order, small), asio::detached);
    io.poll();
    io.restart();
    CHECK(order == std::vector<std::string>{"big"});
    CHECK(budget.held() == 500);
    big.reset();
    io.poll();
    CHECK(order == std::vector<std::string>{"big", "small"});
    CHECK(budget.held() == 1);

    byte_budget unbounded(0);
    std::optional<byte_budget::hold> any;
    asio::io_context other;
    asio::co_spawn(other, take(unbounded, 1'000'000, "any", order, any), asio::detached);
    other.poll();
    CHECK(any);
    CHECK(unbounded.held() == 0);
}

TEST_CASE("byte budget: a cancelled waiter leaves the queue and takes nothing", "[pipeline]") {
    using namespace asio::experimental::awaitable_operators;
    asio::io_context io;
    byte_budget budget(100);
    std::vector<std::string> order;
    std::optional<byte_budget::hold> first, after;
    asio::co_spawn(io, take(budget, 100, "first", order, first), asio::detached);
    io.run();
    io.restart();
    bool timed_out = false;
    auto impatient = [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, std::chrono::milliseconds(10));
        auto won = co_await (budget.acquire(60) || timer.async_wait(asio::use_awaitable));
        timed_out = won.index() == 1;
    };
    asio::co_spawn(io, impatient(), asio::detached);
    io.run();
    io.restart();
    CHECK(timed_out);
    CHECK(budget.waiting() == 0);
    first.reset();
    CHECK(budget.held() == 0);
    asio::co_spawn(io, take(budget, 100, "after", order, after), asio::detached);
    io.run();
    CHECK(order == std::vector<std::string>{"first", "after"});
}

TEST_CASE("byte budget: never more than the capacity held from four threads", "[pipeline]") {
    asio::thread_pool pool(4);
    byte_budget budget(1'000);
    std::atomic<std::int64_t> inside{0};
    std::atomic<std::int64_t> most{0};
    std::atomic<int> done{0};
    auto worker = [&](int seed) -> asio::awaitable<void> {
        for (int i = 0; i < 500; ++i) {
            std::int64_t want = 50 + (seed * 131 + i * 37) % 400;
            auto hold = co_await budget.acquire(want);
            auto now = inside += want;
            auto seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            inside -= want;
        }
        ++done;
    };
    for (int t = 0; t < 8; ++t) {
        asio::co_spawn(pool, worker(t), asio::detached);
    }
    pool.join();
    CHECK(done == 8);
    CHECK(most.load() <= 1'000);
    CHECK(most.load() > 400);  // requests did overlap
    CHECK(budget.held() == 0);
}
