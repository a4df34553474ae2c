// The wake-up thread of the Postgres engine: it calls back soon after another store object
// queues a job, comes back after its connection is killed, and keeps retrying (and stops
// promptly) while no server answers.
#include "store/postgres_wakeups.hpp"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "tests/store/postgres_support.hpp"
#include "tests/store/store_engines.hpp"

using namespace boomer::store;
using namespace boomer::store::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

// wait_until polls `done` every millisecond until it holds or `limit` passes.
template <class Fn>
bool wait_until(Fn&& done, std::chrono::milliseconds limit) {
    auto until = steady::now() + limit;
    while (!done()) {
        if (steady::now() > until) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

}  // namespace

TEST_CASE("postgres wakeups: another store's create_item calls back within milliseconds",
          "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    auto writer = open_postgres_store(pg_dsn(), pg_options(schema.name()));
    std::atomic<int> calls{0};
    wakeup_options options;
    options.wait = 2'000ms;  // a wake-up must come from the notification, not a timeout
    postgres_wakeups wakeups(
        pg_dsn(), pg_options(schema.name()), [&] { ++calls; }, {}, options);

    // The first connection calls back once: jobs queued before it may be waiting.
    REQUIRE(wait_until([&] { return calls.load() == 1 && wakeups.connected(); }, 5'000ms));
    std::this_thread::sleep_for(50ms);
    CHECK(calls.load() == 1);

    auto started = steady::now();
    add_item(*writer, "t", priority::normal, t0);
    REQUIRE(wait_until([&] { return calls.load() == 2; }, 1'500ms));
    auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
    CHECK(latency < 500ms);
}

TEST_CASE("postgres wakeups: a killed connection is replaced and calls back", "[store][pg]") {
    if (!pg_ready()) {
        return;
    }
    scoped_schema schema;
    auto writer = open_postgres_store(pg_dsn(), pg_options(schema.name()));
    auto options = pg_options(schema.name());
    options.application_name = "boomer-test-wakeups-" + std::to_string(::getpid());
    std::atomic<int> calls{0};
    wakeup_options fast;
    fast.wait = 50ms;
    postgres_wakeups wakeups(
        pg_dsn(), options, [&] { ++calls; }, {}, fast);
    REQUIRE(wait_until([&] { return wakeups.connected(); }, 5'000ms));

    std::this_thread::sleep_for(100ms);
    int before = calls.load();
    auto killed = pg_rows(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
        options.application_name + "'");
    REQUIRE(killed.size() == 1);
    REQUIRE(wait_until([&] { return calls.load() > before; }, 5'000ms));

    // Listening again: a new job calls back.
    std::this_thread::sleep_for(100ms);
    before = calls.load();
    add_item(*writer, "t", priority::normal, t0);
    CHECK(wait_until([&] { return calls.load() > before; }, 5'000ms));
}

TEST_CASE("postgres wakeups: with no server it reports once, keeps trying and stops promptly",
          "[store]") {
    std::mutex mutex;
    std::vector<std::string> errors;
    std::atomic<int> calls{0};
    wakeup_options fast;
    fast.backoff_min = 5ms;
    fast.backoff_max = 20ms;
    auto on_error = [&](const std::string& what) {
        std::lock_guard lock(mutex);
        errors.push_back(what);
    };
    auto dsn = "postgresql://boomer:hunter2@/postgres?host=/nonexistent-boomer-socket-dir";
    postgres_wakeups wakeups(
        dsn, {}, [&] { ++calls; }, on_error, fast);
    std::this_thread::sleep_for(200ms);

    auto started = steady::now();
    wakeups.stop();
    CHECK(steady::now() - started < 1s);
    CHECK_FALSE(wakeups.connected());
    CHECK(calls.load() == 0);
    std::lock_guard lock(mutex);
    REQUIRE(errors.size() == 1);  // once per outage, not once per attempt
    CHECK_THAT(errors[0], !Catch::Contains("hunter2"));
    CHECK_FALSE(errors[0].empty());
}
