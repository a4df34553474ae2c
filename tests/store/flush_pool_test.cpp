// The flush pool: a group of tasks runs side by side, run_all waits for all of them, and a
// failure is reported once every task has finished.
#include "store/flush_pool.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

using boomer::store::flush_pool;

namespace {

// wait_for_all makes each task wait (up to 30 s) until `n` tasks have started.
bool wait_for_all(std::atomic<int>& started, int n) {
    ++started;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (started.load() < n && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return started.load() >= n;
}

}  // namespace

TEST_CASE("flush pool: the tasks of one run_all run side by side", "[store]") {
    flush_pool pool(4);
    std::atomic<int> started{0};
    std::atomic<int> met{0};
    std::vector<std::function<void()>> tasks;
    for (int i = 0; i < 4; ++i) {
        // Each task waits for the others: run one after another, none would see all four.
        tasks.emplace_back([&] { met += wait_for_all(started, 4) ? 1 : 0; });
    }
    pool.run_all(tasks);
    CHECK(met == 4);
}

TEST_CASE("flush pool: run_all returns after every task, rethrowing the first failure", "[store]") {
    flush_pool pool(2);
    std::atomic<int> finished{0};
    std::vector<std::function<void()>> tasks;
    tasks.emplace_back([&] { ++finished; });
    tasks.emplace_back([&] {
        ++finished;
        throw std::runtime_error("first");
    });
    for (int i = 0; i < 6; ++i) {
        tasks.emplace_back([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            ++finished;
        });
    }
    tasks.emplace_back([&] {
        ++finished;
        throw std::logic_error("second");
    });

    CHECK_THROWS_WITH(pool.run_all(tasks), "first");
    CHECK(finished == 9);
    pool.run_all({});
}
