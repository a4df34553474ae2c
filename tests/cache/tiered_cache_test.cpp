// Single flight and the two-level cache: one loader call for 100 concurrent misses, errors and
// empty answers never cached or passed on, the second level read before the loader, a value's own
// time to live, where each caller's answer came from, and a caller that stops waiting for
// another's load at its max wait while that load goes on, and two processes sharing the second
// level loading a key once between them (claims). The second level here is an in-test map, so
// that a case can see and change what it holds.
#include "cache/tiered_cache.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "resilience/sleeper.hpp"

using namespace boomer;
using namespace boomer::cache;
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

using text_result = result<std::string>;
using text_cache = tiered_cache<std::string>;

// A loader that takes a little real time (so that callers pile up) and counts its calls.
struct counting_loader {
    int calls = 0;
    text_result answer = std::string("Acme X1 camera");
};

asio::awaitable<text_result> slow_load(counting_loader& l) {
    ++l.calls;
    co_await resilience::timer_sleeper::instance().sleep_for(milliseconds(5));
    co_return l.answer;
}

asio::awaitable<void> ask(text_cache& cache, const std::string& key, const text_cache::loader& load,
                          std::optional<text_result>* out) {
    out->emplace(co_await cache.get_or_load(key, load));
}

asio::awaitable<void> ask_where(text_cache& cache, const std::string& key,
                                const text_cache::loader& load, std::optional<text_result>* out,
                                found_in* where) {
    out->emplace(co_await cache.get_or_load(key, load, where));
}

// Runs `n` concurrent lookups of `key` on `io` to the end and returns their results. A test
// whose cache has a pool declares `io` before the pool: the pool's thread posts results to `io`
// and may still be leaving that post when `io` runs out of work, so it must be joined before
// `io` is destroyed.
std::vector<std::optional<text_result>> ask_many_on(asio::io_context& io, text_cache& cache,
                                                    const std::string& key,
                                                    const text_cache::loader& load, int n) {
    std::vector<std::optional<text_result>> out(static_cast<std::size_t>(n));
    for (auto& slot : out) {
        asio::co_spawn(io, ask(cache, key, load, &slot), asio::detached);
    }
    io.restart();
    io.run();
    return out;
}

// The same on a context of its own, for caches without a pool.
std::vector<std::optional<text_result>> ask_many(text_cache& cache, const std::string& key,
                                                 const text_cache::loader& load, int n) {
    asio::io_context io;
    return ask_many_on(io, cache, key, load, n);
}

// The same, with the context run by four threads at once.
std::vector<std::optional<text_result>> ask_many_threads(text_cache& cache, const std::string& key,
                                                         const text_cache::loader& load, int n) {
    asio::io_context io;
    std::vector<std::optional<text_result>> out(static_cast<std::size_t>(n));
    for (auto& slot : out) {
        asio::co_spawn(io, ask(cache, key, load, &slot), asio::detached);
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&io] { io.run(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    return out;
}

// A second level in memory, counting its calls.
struct map_level final : second_level {
    std::mutex mutex;
    std::map<std::string, std::pair<std::string, std::int64_t>, std::less<>> rows;
    int gets = 0;
    int puts = 0;

    std::optional<std::string> get(std::string_view key, std::int64_t now_ms) override {
        std::lock_guard lock(mutex);
        ++gets;
        auto it = rows.find(key);
        if (it == rows.end() || it->second.second <= now_ms) {
            return std::nullopt;
        }
        return it->second.first;
    }
    void put(std::string_view key, std::string_view value, std::int64_t expires_at_ms) override {
        std::lock_guard lock(mutex);
        ++puts;
        rows[std::string(key)] = {std::string(value), expires_at_ms};
    }
    bool shared() const override { return shares; }
    bool claim(std::string_view key, std::string_view value, std::int64_t expires_at_ms,
               std::int64_t now_ms) override {
        std::lock_guard lock(mutex);
        ++claims;
        auto it = rows.find(key);
        if (it != rows.end() && it->second.second > now_ms) {
            return false;
        }
        rows[std::string(key)] = {std::string(value), expires_at_ms};
        return true;
    }
    int claims = 0;
    bool shares = false;  // as if other processes saw it too: claims are made
};

tiered_options<std::string> text_options(std::string name = "vision") {
    tiered_options<std::string> o;
    o.name = std::move(name);
    o.memory = {.max_entries = 100, .max_bytes = 1 << 20, .shards = 4};
    o.encode = [](const std::string& v) { return "text:" + v; };
    o.decode = [](std::string_view t) -> std::optional<std::string> {
        if (t.substr(0, 5) != "text:") {
            return std::nullopt;
        }
        return std::string(t.substr(5));
    };
    return o;
}

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

TEST_CASE("tiered cache: 100 concurrent identical loads on a cold cache call the loader once",
          "[cache]") {
    manual_clock time;
    metrics::registry registry;
    text_cache cache(text_options(), time, nullptr, nullptr, &registry);
    counting_loader l;
    text_cache::loader load = [&l] { return slow_load(l); };
    std::string key = "vision:abc";
    auto results = ask_many(cache, key, load, 100);
    CHECK(l.calls == 1);
    for (const auto& r : results) {
        REQUIRE(r);
        REQUIRE(r->has_value());
        CHECK(r->value() == "Acme X1 camera");
    }
    // Later callers are served from memory.
    ask_many(cache, key, load, 10);
    CHECK(l.calls == 1);
    // One miss loaded; the 99 callers that joined it shared its value: not misses.
    const auto text = registry.render();
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision",outcome="miss"} 1)"));
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision",outcome="shared"} 99)"));
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision",outcome="hit"} 10)"));
}

TEST_CASE("tiered cache: concurrent loads on four threads still make one loader call", "[cache]") {
    manual_clock time;
    text_cache cache(text_options(), time, nullptr, nullptr, nullptr);
    counting_loader l;
    std::atomic<int> calls{0};
    text_cache::loader load = [&l, &calls] {
        ++calls;
        return slow_load(l);
    };
    std::string key = "vision:threads";
    auto results = ask_many_threads(cache, key, load, 100);
    CHECK(calls == 1);
    for (const auto& r : results) {
        REQUIRE(r);
        REQUIRE(r->has_value());
        CHECK(r->value() == "Acme X1 camera");
    }
}

TEST_CASE("tiered cache: an error is shared within its flight only, and never cached", "[cache]") {
    manual_clock time;
    text_cache cache(text_options(), time, nullptr, nullptr, nullptr);
    counting_loader l;
    l.answer = fail("vision_overloaded", "Claude is overloaded.", true);
    text_cache::loader load = [&l] { return slow_load(l); };
    std::string key = "vision:err";
    auto results = ask_many(cache, key, load, 20);
    CHECK(l.calls == 1);
    for (const auto& r : results) {
        REQUIRE(r);
        REQUIRE_FALSE(r->has_value());
        CHECK(r->error().code == "vision_overloaded");
    }
    CHECK(cache.memory().entries() == 0);
    // The next caller starts a new flight and gets the new answer.
    l.answer = std::string("Acme X1 camera");
    auto later = ask_many(cache, key, load, 1);
    CHECK(l.calls == 2);
    REQUIRE(later[0]->has_value());
    CHECK(later[0]->value() == "Acme X1 camera");
}

TEST_CASE("tiered cache: empty answers are never cached", "[cache]") {
    manual_clock time;
    map_level level2;
    text_cache cache(text_options(), time, &level2, nullptr, nullptr);
    counting_loader l;
    l.answer = std::string();
    text_cache::loader load = [&l] { return slow_load(l); };
    std::string key = "vision:empty";
    ask_many(cache, key, load, 1);
    ask_many(cache, key, load, 1);
    CHECK(l.calls == 2);
    CHECK(cache.memory().entries() == 0);
    CHECK(level2.puts == 0);
}

TEST_CASE("tiered cache: memory, then the second level, then the loader", "[cache]") {
    manual_clock time;
    metrics::registry registry;
    map_level level2;
    counting_loader l;
    text_cache::loader load = [&l] { return slow_load(l); };
    std::string key = "vision:two-levels";
    {
        text_cache first(text_options(), time, &level2, nullptr, &registry);
        ask_many(first, key, load, 1);
        CHECK(l.calls == 1);
        CHECK(level2.puts == 1);
        CHECK(level2.rows.at(key).first == "text:Acme X1 camera");
        CHECK(level2.rows.at(key).second == time.now_ms() + 24 * 3600 * 1000);
    }
    // A new process (empty memory) on the same second level: no loader call.
    text_cache second(text_options(), time, &level2, nullptr, &registry);
    auto r = ask_many(second, key, load, 1);
    CHECK(l.calls == 1);
    REQUIRE(r[0]->has_value());
    CHECK(r[0]->value() == "Acme X1 camera");
    ask_many(second, key, load, 1);  // now from memory
    CHECK(level2.gets == 2);
    auto text = registry.render();
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision",outcome="miss"} 2)"));
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision",outcome="hit"} 1)"));
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision_store",outcome="miss"} 1)"));
    CHECK(has_line(text, R"(boomer_cache_lookups_total{cache="vision_store",outcome="hit"} 1)"));

    // Expired rows in the second level are not used.
    time.advance_ms(24 * 3600 * 1000);
    text_cache third(text_options(), time, &level2, nullptr, nullptr);
    ask_many(third, key, load, 1);
    CHECK(l.calls == 2);
}

TEST_CASE("tiered cache: blocking second-level calls run on the pool given", "[cache]") {
    manual_clock time;
    map_level level2;
    asio::io_context io;  // before the pool, which posts to it: see ask_many_on
    asio::thread_pool pool(1);
    counting_loader l;
    text_cache::loader load = [&l] { return slow_load(l); };
    std::string key = "vision:pool";
    {
        text_cache first(text_options(), time, &level2, &pool, nullptr);
        ask_many_on(io, first, key, load, 1);
    }
    text_cache second(text_options(), time, &level2, &pool, nullptr);
    auto r = ask_many_on(io, second, key, load, 3);
    CHECK(l.calls == 1);
    for (const auto& one : r) {
        REQUIRE(one->has_value());
        CHECK(one->value() == "Acme X1 camera");
    }
    pool.join();
}

TEST_CASE("tiered cache: a value's own time to live, at both levels", "[cache]") {
    manual_clock time;
    map_level level2;
    auto o = text_options();
    o.ttl_of = [](const std::string& v) {
        return milliseconds(v.find("sold") != std::string::npos ? 6 * 3'600'000 : 15 * 60'000);
    };
    text_cache cache(o, time, &level2, nullptr, nullptr);
    counting_loader l;
    text_cache::loader load = [&l] { return slow_load(l); };
    std::string active = "comps:active";
    std::string sold = "comps:sold";
    ask_many(cache, active, load, 1);
    l.answer = std::string("sold only");
    ask_many(cache, sold, load, 1);
    CHECK(level2.rows.at(active).second == time.now_ms() + 15 * 60'000);
    CHECK(level2.rows.at(sold).second == time.now_ms() + 6 * 3'600'000);
    time.advance_ms(15 * 60'000);
    ask_many(cache, active, load, 1);  // expired at both levels: loaded again
    ask_many(cache, sold, load, 1);    // still in memory
    CHECK(l.calls == 3);
}

TEST_CASE("tiered cache: callers learn where their answer came from", "[cache]") {
    manual_clock time;
    map_level level2;
    counting_loader l;
    text_cache::loader load = [&l] { return slow_load(l); };
    std::string key = "vision:where";
    text_cache first(text_options(), time, &level2, nullptr, nullptr);
    asio::io_context io;
    std::vector<found_in> where(5, found_in::memory);
    std::vector<std::optional<text_result>> out(5);
    for (std::size_t i = 0; i < 3; ++i) {
        asio::co_spawn(io, ask_where(first, key, load, &out[i], &where[i]), asio::detached);
    }
    io.run();
    io.restart();
    CHECK(l.calls == 1);
    CHECK(std::count(where.begin(), where.begin() + 3, found_in::loader) == 1);
    CHECK(std::count(where.begin(), where.begin() + 3, found_in::flight) == 2);
    asio::co_spawn(io, ask_where(first, key, load, &out[3], &where[3]), asio::detached);
    text_cache second(text_options(), time, &level2, nullptr, nullptr);
    asio::co_spawn(io, ask_where(second, key, load, &out[4], &where[4]), asio::detached);
    io.run();
    for (const auto& r : out) {
        REQUIRE(r);
        REQUIRE(r->has_value());
        CHECK(r->value() == "Acme X1 camera");
    }
    CHECK(where[3] == found_in::memory);
    CHECK(where[4] == found_in::second);
    CHECK(l.calls == 1);
}

namespace {

// A loader held until `open` (polled on a real timer; 10 s at most, so that a waiter that
// never gives up ends the case instead of hanging it).
struct held_loader {
    bool open = false;
    int calls = 0;
    text_result answer = std::string("Acme X1 camera");
};

asio::awaitable<text_result> held_load(held_loader& l) {
    ++l.calls;
    asio::steady_timer tick(co_await asio::this_coro::executor);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!l.open && std::chrono::steady_clock::now() < give_up) {
        tick.expires_after(milliseconds(2));
        co_await tick.async_wait(asio::use_awaitable);
    }
    co_return l.answer;
}

asio::awaitable<void> ask_within(text_cache& cache, const std::string& key,
                                 const text_cache::loader& load, milliseconds max_wait,
                                 std::optional<text_result>* out, found_in* where) {
    out->emplace(co_await cache.get_or_load(key, load, where, max_wait));
}

}  // namespace

TEST_CASE("tiered cache: a caller stops waiting for another's load at its max wait", "[cache]") {
    manual_clock time;
    map_level level2;
    text_cache cache(text_options(), time, &level2, nullptr, nullptr);
    held_loader l;
    text_cache::loader load = [&l] { return held_load(l); };
    const std::string key = "vision:held";
    asio::io_context io;
    std::optional<text_result> leader, patient, hurried;
    found_in leader_from = found_in::memory;
    found_in patient_from = found_in::memory;
    found_in hurried_from = found_in::memory;
    asio::co_spawn(io, ask_within(cache, key, load, milliseconds(0), &leader, &leader_from),
                   asio::detached);
    while (l.calls == 0) {
        io.run_one();
    }
    asio::co_spawn(io, ask_within(cache, key, load, milliseconds(60'000), &patient, &patient_from),
                   asio::detached);
    asio::co_spawn(io, ask_within(cache, key, load, milliseconds(20), &hurried, &hurried_from),
                   asio::detached);
    while (!hurried) {
        io.run_one();
    }

    // The hurried caller gave up while the load was still held; nobody else has an answer.
    REQUIRE_FALSE(*hurried);
    CHECK(hurried->error().code == flight_wait_expired);
    CHECK(hurried->error().retryable);
    CHECK(hurried_from == found_in::expired);
    CHECK_FALSE(leader);
    CHECK_FALSE(patient);

    // The load goes on: the leader (whose own max wait bounds no load) and the patient caller
    // get its value, and it is kept at both levels.
    l.open = true;
    io.run();
    REQUIRE(leader);
    REQUIRE(*leader);
    CHECK(leader_from == found_in::loader);
    REQUIRE(patient);
    REQUIRE(*patient);
    CHECK(patient->value() == "Acme X1 camera");
    CHECK(patient_from == found_in::flight);
    CHECK(l.calls == 1);
    CHECK(cache.memory().peek(key));
    CHECK(level2.rows.count(key) == 1);
}

TEST_CASE("tiered cache: two processes sharing the second level load a claimed key once",
          "[cache]") {
    manual_clock time;
    map_level level2;
    level2.shares = true;
    auto options = text_options();
    options.claim_for = milliseconds(60'000);
    // Two caches over one second level: two replicas over one database.
    text_cache first(options, time, &level2, nullptr, nullptr);
    text_cache second(options, time, &level2, nullptr, nullptr);
    held_loader l;
    const text_cache::loader load = [&l] { return held_load(l); };
    const std::string key = "claude:photos";

    asio::io_context io;
    std::optional<text_result> a, b;
    found_in a_from = found_in::memory;
    found_in b_from = found_in::memory;
    asio::co_spawn(io, ask_where(first, key, load, &a, &a_from), asio::detached);
    while (l.calls == 0) {
        io.run_one();
    }
    CHECK(level2.rows.count("claim:" + key) == 1);
    asio::co_spawn(io, ask_where(second, key, load, &b, &b_from), asio::detached);
    // The second replica finds the claim and polls (its waits are real timers) meanwhile.
    for (int i = 0; i < 3 && level2.claims < 2; ++i) {
        io.run_one();
    }
    CHECK(level2.claims >= 2);
    CHECK_FALSE(b);

    l.open = true;
    io.run();
    REQUIRE(a);
    REQUIRE(*a);
    CHECK(a_from == found_in::loader);
    REQUIRE(b);
    REQUIRE(*b);
    CHECK(b->value() == "Acme X1 camera");
    CHECK(b_from == found_in::second);
    CHECK(l.calls == 1);
}

TEST_CASE("tiered cache: a load slower than its claim's time keeps the claim, and is paid once",
          "[cache]") {
    manual_clock time;
    map_level level2;
    level2.shares = true;
    auto options = text_options();
    options.claim_for = milliseconds(15'000);
    options.claim_renew_every = milliseconds(1);  // a real timer: renewals come at once
    text_cache first(options, time, &level2, nullptr, nullptr);
    text_cache second(options, time, &level2, nullptr, nullptr);
    held_loader l;
    const text_cache::loader load = [&l] { return held_load(l); };
    const std::string key = "claude:slow";
    const std::string claim_key = "claim:" + key;
    auto claim_ends = [&level2, &claim_key] {
        std::lock_guard lock(level2.mutex);
        auto it = level2.rows.find(claim_key);
        return it == level2.rows.end() ? std::int64_t{0} : it->second.second;
    };

    asio::io_context io;
    std::optional<text_result> a, b;
    found_in a_from = found_in::memory;
    found_in b_from = found_in::memory;
    asio::co_spawn(io, ask_where(first, key, load, &a, &a_from), asio::detached);
    while (l.calls == 0) {
        io.run_one();
    }
    const auto t0 = time.now_ms();
    CHECK(claim_ends() == t0 + 15'000);

    // 14 s into the load its holder renews the claim; at 28 s the first claim would be over.
    time.advance_ms(14'000);
    for (int i = 0; i < 1'000 && claim_ends() < t0 + 29'000; ++i) {
        io.run_one();
    }
    CHECK(claim_ends() == t0 + 29'000);
    time.advance_ms(14'000);

    // The other replica finds the claim still held, and waits instead of paying again.
    asio::co_spawn(io, ask_where(second, key, load, &b, &b_from), asio::detached);
    for (int i = 0; i < 20 && level2.claims < 2; ++i) {
        io.run_one();
    }
    CHECK(level2.claims >= 2);
    CHECK_FALSE(b);
    CHECK(l.calls == 1);

    l.open = true;
    io.run();
    REQUIRE(a);
    REQUIRE(*a);
    REQUIRE(b);
    REQUIRE(*b);
    CHECK(b->value() == "Acme X1 camera");
    CHECK(b_from == found_in::second);
    CHECK(l.calls == 1);
}

TEST_CASE("tiered cache: a failed load lets go of its claim, and a dead holder's claim expires",
          "[cache]") {
    manual_clock time;
    map_level level2;
    level2.shares = true;
    auto options = text_options();
    options.claim_for = milliseconds(60'000);
    text_cache first(options, time, &level2, nullptr, nullptr);
    text_cache second(options, time, &level2, nullptr, nullptr);
    const std::string key = "claude:photos";

    // The first replica's load fails: its claim goes at once and the other loads for itself.
    held_loader failing;
    failing.answer = make_unexpected(failure{"vision_overloaded", "overloaded", true});
    failing.open = true;
    const text_cache::loader fail = [&failing] { return held_load(failing); };
    asio::io_context io;
    std::optional<text_result> a;
    found_in a_from = found_in::memory;
    asio::co_spawn(io, ask_where(first, key, fail, &a, &a_from), asio::detached);
    io.run();
    REQUIRE(a);
    CHECK_FALSE(*a);
    CHECK_FALSE(level2.get("claim:" + key, time.now_ms()));

    // A claim whose holder died is never released: the other replica waits until it expires.
    level2.put("claim:" + key, "1", time.now_ms() + 60'000);
    held_loader ok;
    ok.open = true;
    const text_cache::loader load = [&ok] { return held_load(ok); };
    std::optional<text_result> b;
    found_in b_from = found_in::memory;
    asio::co_spawn(io, ask_where(second, key, load, &b, &b_from), asio::detached);
    io.restart();
    for (int i = 0; i < 20 && level2.claims < 3; ++i) {
        io.run_one();
    }
    CHECK_FALSE(b);
    CHECK(ok.calls == 0);
    time.advance_ms(60'000);
    io.run();
    REQUIRE(b);
    REQUIRE(*b);
    CHECK(b_from == found_in::loader);
    CHECK(ok.calls == 1);
    CHECK(level2.rows.count(key) == 1);
}

TEST_CASE("tiered cache: the claim of a holder known to have died is taken over at once",
          "[cache]") {
    manual_clock time;
    map_level level2;
    level2.shares = true;
    auto options = text_options();
    options.claim_for = milliseconds(60'000);
    options.claim_owner = "restarted";
    std::vector<std::string> asked;  // the owners claim_owner_gone was asked about
    options.claim_owner_gone = [&asked](std::string_view owner) {
        asked.emplace_back(owner);
        return owner == "dead";
    };
    const std::string key = "claude:photos";
    const std::string claim_key = "claim:" + key;
    held_loader ok;
    ok.open = true;
    const text_cache::loader load = [&ok] { return held_load(ok); };
    // One replica asks while the claim names `held`: true when it got the value without
    // waiting (no timer has run: poll runs only what is ready).
    const auto ask = [&](const std::string& held) {
        const auto ends = time.now_ms() + 30'000;
        level2.put(claim_key, std::to_string(ends) + " " + held, ends);
        text_cache cache(options, time, &level2, nullptr, nullptr);
        std::optional<text_result> got;
        asio::io_context io;
        found_in from = found_in::memory;
        asio::co_spawn(io, ask_where(cache, key, load, &got, &from), asio::detached);
        io.poll();
        return got.has_value();
    };

    // A live holder (or one not known to be gone) is waited for; a dead one's claim is taken.
    CHECK_FALSE(ask("alive"));
    CHECK(ok.calls == 0);
    CHECK_FALSE(ask("1"));  // a claim of a version that named no owner
    CHECK(ask("dead"));
    CHECK(ok.calls == 1);
    CHECK(level2.rows.at(claim_key).first.ends_with(" restarted"));  // it holds the claim now
    CHECK(std::find(asked.begin(), asked.end(), "alive") != asked.end());
    CHECK(std::find(asked.begin(), asked.end(), "restarted") == asked.end());  // never itself
    CHECK(level2.rows.count(key) == 1);
}

TEST_CASE("tiered cache: a dead holder's claim renewed or taken meanwhile is not taken again",
          "[cache]") {
    manual_clock time;
    const std::string key = "claude:photos";
    const std::string claim_key = "claim:" + key;
    // A second level where, between the read of the dead holder's claim and the takeover, another
    // replica takes the claim over first (its end moves on).
    struct racing_level final : second_level {
        map_level inner;
        std::string claim_key;
        std::int64_t raced_end = 0;
        std::optional<std::string> get(std::string_view k, std::int64_t now) override {
            auto got = inner.get(k, now);
            if (k == claim_key && got && got->find(" dead") != std::string::npos) {
                inner.put(k, std::to_string(raced_end) + " other", raced_end);
            }
            return got;
        }
        void put(std::string_view k, std::string_view v, std::int64_t until) override {
            inner.put(k, v, until);
        }
        bool shared() const override { return true; }
        bool claim(std::string_view k, std::string_view v, std::int64_t until,
                   std::int64_t now) override {
            return inner.claim(k, v, until, now);
        }
    } level2;
    level2.claim_key = claim_key;
    auto options = text_options();
    options.claim_for = milliseconds(60'000);
    options.claim_owner = "restarted";
    options.claim_owner_gone = [](std::string_view owner) { return owner == "dead"; };
    text_cache cache(options, time, &level2, nullptr, nullptr);
    const auto ends = time.now_ms() + 30'000;
    level2.raced_end = ends + 20'000;
    level2.inner.put(claim_key, std::to_string(ends) + " dead", ends);
    held_loader ok;
    ok.open = true;
    const text_cache::loader load = [&ok] { return held_load(ok); };
    std::optional<text_result> got;
    asio::io_context io;
    found_in from = found_in::memory;
    asio::co_spawn(io, ask_where(cache, key, load, &got, &from), asio::detached);
    io.poll();
    CHECK_FALSE(got);  // the other replica holds it now: this one waits
    CHECK(ok.calls == 0);
    CHECK(level2.inner.rows.at(claim_key).first == std::to_string(ends + 20'000) + " other");
}

namespace {

asio::awaitable<void> find_into(text_cache& cache, const std::string& key,
                                std::optional<std::optional<std::string>>* out, found_in* where) {
    out->emplace(co_await cache.find(key, where));
}

std::optional<std::string> find_now(text_cache& cache, const std::string& key, found_in* where) {
    asio::io_context io;
    std::optional<std::optional<std::string>> out;
    asio::co_spawn(io, find_into(cache, key, &out, where), asio::detached);
    io.run();
    REQUIRE(out);
    return *out;
}

}  // namespace

TEST_CASE("tiered cache: find reads memory, then the second level, and never loads", "[cache]") {
    manual_clock time;
    map_level level2;
    text_cache cache(text_options(), time, &level2, nullptr, nullptr);
    const std::string key = "vision:find";
    auto where = found_in::loader;
    CHECK_FALSE(find_now(cache, key, &where));
    CHECK(level2.gets == 1);

    level2.put(key, "text:Acme X1 camera", time.now_ms() + 60'000);
    auto stored = find_now(cache, key, &where);
    REQUIRE(stored);
    CHECK(*stored == "Acme X1 camera");
    CHECK(where == found_in::second);
    auto again = find_now(cache, key, &where);  // kept in memory since
    REQUIRE(again);
    CHECK(where == found_in::memory);
    CHECK(level2.gets == 2);
}

TEST_CASE("tiered cache: callers wait for a flight led without a loader, and get what it lands",
          "[cache]") {
    manual_clock time;
    text_cache cache(text_options(), time, nullptr, nullptr, nullptr);
    const std::string key = "vision:led";
    counting_loader l;
    text_cache::loader load = [&l] { return slow_load(l); };
    REQUIRE(cache.try_lead(key));
    CHECK_FALSE(cache.try_lead(key));  // one leader at a time

    asio::io_context io;
    std::vector<std::optional<text_result>> out(3);
    std::vector<found_in> where(3, found_in::memory);
    for (std::size_t i = 0; i < out.size(); ++i) {
        asio::co_spawn(io, ask_where(cache, key, load, &out[i], &where[i]), asio::detached);
    }
    io.poll();  // they wait: nothing runs until the flight lands
    for (const auto& o : out) {
        CHECK_FALSE(o);
    }
    cache.land(key, text_result(std::string("Acme X1 camera")), found_in::loader);
    io.run();
    CHECK(l.calls == 0);
    for (std::size_t i = 0; i < out.size(); ++i) {
        REQUIRE(out[i]);
        REQUIRE(out[i]->has_value());
        CHECK(out[i]->value() == "Acme X1 camera");
        CHECK(where[i] == found_in::flight);
    }
    CHECK(cache.try_lead(key));  // the flight ended with the landing
    cache.abandon(key);
}

TEST_CASE("tiered cache: an abandoned led flight hands its waiters to a load of their own",
          "[cache]") {
    manual_clock time;
    text_cache cache(text_options(), time, nullptr, nullptr, nullptr);
    const std::string key = "vision:abandoned";
    counting_loader l;
    text_cache::loader load = [&l] { return slow_load(l); };
    REQUIRE(cache.try_lead(key));
    asio::io_context io;
    std::vector<std::optional<text_result>> out(2);
    for (auto& slot : out) {
        asio::co_spawn(io, ask(cache, key, load, &slot), asio::detached);
    }
    io.poll();  // both wait for the led flight
    CHECK(l.calls == 0);
    cache.abandon(key);
    io.run();
    CHECK(l.calls == 1);  // the first waiter led a new load, the other shared it
    for (const auto& o : out) {
        REQUIRE(o);
        REQUIRE(o->has_value());
        CHECK(o->value() == "Acme X1 camera");
    }
}
