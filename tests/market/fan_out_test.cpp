// The parallel search over market sources, with fake sources that answer, fail, throw, hang,
// ignore cancellation or get cancelled; the two cache levels, their caps in entries and in
// deep bytes, single flight for identical searches; the outcome and cache metrics.
#include "pipeline/market/fan_out.hpp"

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <limits>
#include <map>
#include <thread>

#include "pipeline/market/own_sales_source.hpp"

using namespace boomer;
using namespace boomer::market;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

comp make_comp(std::int64_t price, bool sold, const std::string& source) {
    comp c;
    c.title = "Canon AE-1 Program";
    c.price_minor = price;
    c.item_price_minor = price;
    c.currency = "USD";
    c.sold_on = "2026-03-01";
    c.match = "title";
    c.score = 0.8;
    c.source = source;
    c.sold = sold;
    return c;
}

// Answers with `comps` (or `why`) after `delay`; counts its calls; notes a cancellation.
class fake_source final : public comp_source {
public:
    fake_source(std::string name, std::chrono::milliseconds delay, std::vector<comp> comps)
        : name_(std::move(name)), delay_(delay), comps_(std::move(comps)) {}

    std::string name() const override { return name_; }

    asio::awaitable<result<std::vector<comp>>> search(const market_query& q) override {
        ++calls;
        last_keywords = q.keywords;
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(delay_);
        try {
            if (ignore_cancel) {
                // An operation the cancellation cannot reach: the source answers late anyway.
                co_await timer.async_wait(
                    asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
            } else {
                co_await timer.async_wait(asio::use_awaitable);
            }
        } catch (const boost::system::system_error&) {
            cancelled = true;
            throw;
        }
        finished = true;
        if (throws) {
            throw std::runtime_error("parser exploded");
        }
        if (why && calls <= failing_calls) {
            co_return make_unexpected(*why);
        }
        co_return comps_;
    }

    int calls = 0;
    int failing_calls = std::numeric_limits<int>::max();  // the first calls fail with `why`
    bool cancelled = false;
    bool finished = false;
    bool ignore_cancel = false;
    bool throws = false;
    std::optional<failure> why;
    std::string last_keywords;

private:
    std::string name_;
    std::chrono::milliseconds delay_;
    std::vector<comp> comps_;
};

// A second cache level in a map, like the store's table; it never blocks, so no pool.
class map_backend final : public comp_cache_backend {
public:
    std::optional<std::string> get(std::string_view key, std::int64_t now_ms) override {
        ++gets;
        auto found = values.find(key);
        if (found == values.end() || found->second.second <= now_ms) {
            return std::nullopt;
        }
        return found->second.first;
    }
    void put(std::string_view key, std::string_view value, std::int64_t expires_at_ms) override {
        values[std::string(key)] = {std::string(value), expires_at_ms};
    }
    asio::thread_pool* pool() override { return nullptr; }
    std::map<std::string, std::pair<std::string, std::int64_t>, std::less<>> values;
    int gets = 0;
};

struct harness {
    asio::io_context io;
    manual_clock time{1'800'000'000'000};
    std::chrono::milliseconds took{0};

    // Runs one search to its end; `took` is how long until the search itself returned.
    fan_out_result run(fan_out& f, const market_query& q,
                       std::optional<std::chrono::milliseconds> cancel_after = {}) {
        std::optional<fan_out_result> out;
        asio::cancellation_signal cancel;
        auto started = std::chrono::steady_clock::now();
        asio::co_spawn(io, f.search(q),
                       asio::bind_cancellation_slot(
                           cancel.slot(), [&](std::exception_ptr e, fan_out_result r) {
                               took = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - started);
                               if (e) {
                                   std::rethrow_exception(e);
                               }
                               out = std::move(r);
                           }));
        asio::steady_timer canceller(io);
        if (cancel_after) {
            canceller.expires_after(*cancel_after);
            canceller.async_wait(
                [&](boost::system::error_code) { cancel.emit(asio::cancellation_type::terminal); });
        }
        io.run();
        io.restart();
        REQUIRE(out);
        return *out;
    }
};

market_query query(std::string keywords = "Canon AE-1") {
    market_query q;
    q.keywords = std::move(keywords);
    return q;
}

const source_outcome& outcome_of(const fan_out_result& r, const std::string& name) {
    for (const auto& o : r.outcomes) {
        if (o.source == name) {
            return o;
        }
    }
    FAIL("no outcome for " << name);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("fan_out: every source's comps, in configured order, whatever order they answer",
          "[market]") {
    harness h;
    auto slow =
        std::make_shared<fake_source>("slow", 40ms, std::vector{make_comp(100, true, "slow")});
    auto fast = std::make_shared<fake_source>(
        "fast", 1ms, std::vector{make_comp(200, false, "fast"), make_comp(300, false, "fast")});
    fan_out f({slow, fast}, {}, h.time);
    auto r = h.run(f, query());

    REQUIRE(r.outcomes.size() == 2);
    CHECK(r.outcomes[0].source == "slow");
    CHECK(r.outcomes[0].outcome == "ok");
    CHECK(r.outcomes[0].count == 1);
    CHECK(r.outcomes[1].outcome == "ok");
    CHECK(r.outcomes[1].count == 2);
    CHECK(r.outcomes[1].ms <= r.outcomes[0].ms);
    REQUIRE(r.comps.size() == 3);
    CHECK(r.comps[0].price_minor == 100);
    CHECK(r.comps[2].price_minor == 300);
    CHECK(slow->last_keywords == "Canon AE-1");
}

TEST_CASE("fan_out: a failing source is recorded and the others still count", "[market]") {
    harness h;
    auto limited = std::make_shared<fake_source>("ebay_browse", 1ms, std::vector<comp>{});
    limited->why = failure{"source_limited", "the daily quota is used up", true};
    auto broken = std::make_shared<fake_source>("scraper", 2ms, std::vector<comp>{});
    broken->throws = true;
    auto good = std::make_shared<fake_source>("own", 5ms, std::vector{make_comp(100, true, "own")});
    fan_out f({limited, broken, good}, {}, h.time);
    auto r = h.run(f, query());

    CHECK(outcome_of(r, "ebay_browse").outcome == "source_limited");
    CHECK(outcome_of(r, "ebay_browse").message == "the daily quota is used up");
    CHECK(outcome_of(r, "ebay_browse").retryable);
    CHECK(outcome_of(r, "scraper").outcome == "source_error");
    CHECK(outcome_of(r, "scraper").message.find("exploded") == std::string::npos);
    CHECK(outcome_of(r, "own").outcome == "ok");
    CHECK(r.comps.size() == 1);
}

TEST_CASE("fan_out: a hanging source times out at its own timeout and is cancelled", "[market]") {
    harness h;
    auto hanging = std::make_shared<fake_source>("hanging", 1h, std::vector<comp>{});
    auto good = std::make_shared<fake_source>("good", 5ms, std::vector{make_comp(100, true, "g")});
    fan_out_options o;
    o.timeouts["hanging"] = 60ms;
    fan_out f({hanging, good}, o, h.time);
    auto r = h.run(f, query());

    CHECK(outcome_of(r, "hanging").outcome == "source_timeout");
    CHECK(outcome_of(r, "hanging").ms >= 60);
    CHECK(outcome_of(r, "good").outcome == "ok");
    CHECK(r.comps.size() == 1);
    CHECK(h.took < 2s);
    CHECK(hanging->cancelled);  // the coroutine was stopped, not left running
    CHECK_FALSE(hanging->finished);
}

TEST_CASE("fan_out: a server error is asked again within the source's time, a limit is not",
          "[market]") {
    harness h;
    auto flaky = std::make_shared<fake_source>("ebay_browse", 1ms,
                                               std::vector{make_comp(100, false, "ebay_browse")});
    flaky->why = failure{"source_error", "eBay failed to answer the search.", true};
    flaky->failing_calls = 2;
    auto down = std::make_shared<fake_source>("ebay_insights", 1ms, std::vector<comp>{});
    down->why = failure{"source_error", "eBay failed to answer the search.", true};
    auto limited = std::make_shared<fake_source>("sold_page", 1ms, std::vector<comp>{});
    limited->why = failure{"source_limited", "the daily quota is used up", true};
    auto refused = std::make_shared<fake_source>("other", 1ms, std::vector<comp>{});
    refused->why = failure{"source_error", "eBay rejected the search request.", false};
    fan_out f({flaky, down, limited, refused}, {}, h.time);
    auto r = h.run(f, query());
    CHECK(outcome_of(r, "ebay_browse").outcome == "ok");
    CHECK(flaky->calls == 3);
    CHECK(outcome_of(r, "ebay_insights").outcome == "source_error");
    CHECK(down->calls == 3);
    CHECK(limited->calls == 1);
    CHECK(refused->calls == 1);
}

TEST_CASE("fan_out: the stage deadline bounds every source", "[market]") {
    harness h;
    auto a = std::make_shared<fake_source>("a", 1h, std::vector<comp>{});
    auto b = std::make_shared<fake_source>("b", 1h, std::vector<comp>{});
    fan_out_options o;
    o.deadline = 50ms;  // the sources' own 5 s timeouts never come into play
    fan_out f({a, b}, o, h.time);
    auto r = h.run(f, query());

    CHECK(outcome_of(r, "a").outcome == "source_timeout");
    CHECK(outcome_of(r, "b").outcome == "source_timeout");
    CHECK(h.took < 2s);
    CHECK(a->cancelled);
    CHECK(b->cancelled);
}

TEST_CASE("fan_out: a source that ignores cancellation is not waited for", "[market]") {
    harness h;
    auto stubborn =
        std::make_shared<fake_source>("stubborn", 400ms, std::vector{make_comp(1, true, "s")});
    stubborn->ignore_cancel = true;
    auto good = std::make_shared<fake_source>("good", 1ms, std::vector{make_comp(100, true, "g")});
    fan_out_options o;
    o.timeouts["stubborn"] = 40ms;  // the good source keeps the default
    fan_out f({stubborn, good}, o, h.time);
    auto r = h.run(f, query());

    CHECK(h.took < 300ms);      // returned at the timeout, not when the source finally answered
    CHECK(stubborn->finished);  // io.run() let it end afterwards
    CHECK(outcome_of(r, "stubborn").outcome == "source_timeout");
    CHECK(outcome_of(r, "stubborn").count == 0);
    CHECK(r.comps.size() == 1);  // its late comps were ignored
}

TEST_CASE("fan_out: cancelling the search cancels the sources still running", "[market]") {
    harness h;
    auto hanging = std::make_shared<fake_source>("hanging", 1h, std::vector<comp>{});
    auto good = std::make_shared<fake_source>("good", 1ms, std::vector{make_comp(100, true, "g")});
    fan_out f({hanging, good}, {}, h.time);
    auto r = h.run(f, query(), 40ms);

    CHECK(outcome_of(r, "good").outcome == "ok");
    CHECK(outcome_of(r, "hanging").outcome == "canceled");
    CHECK(hanging->cancelled);
    CHECK(h.took < 2s);
}

TEST_CASE("fan_out: no sources, no wait", "[market]") {
    harness h;
    fan_out f({}, {}, h.time);
    auto r = h.run(f, query());
    CHECK(r.outcomes.empty());
    CHECK(r.comps.empty());
}

TEST_CASE("fan_out: answers are cached by source and normalized query", "[market]") {
    harness h;
    auto active =
        std::make_shared<fake_source>("browse", 1ms, std::vector{make_comp(5, false, "b")});
    auto sold =
        std::make_shared<fake_source>("insights", 1ms, std::vector{make_comp(7, true, "i")});
    fan_out_options o;
    o.active_ttl_ms = 10 * 60'000;
    o.sold_ttl_ms = 6 * 3'600'000;
    fan_out f({active, sold}, o, h.time);

    h.run(f, query("Canon AE-1"));
    auto again = h.run(f, query("  canon   ae-1 "));  // same words: same key
    CHECK(active->calls == 1);
    CHECK(sold->calls == 1);
    CHECK(outcome_of(again, "browse").cache == "memory");
    CHECK(outcome_of(again, "browse").count == 1);
    CHECK(again.comps.size() == 2);

    // Active answers live minutes, sold ones hours.
    h.time.advance_ms(11 * 60'000);
    h.run(f, query());
    CHECK(active->calls == 2);
    CHECK(sold->calls == 1);
    h.time.advance_ms(6 * 3'600'000);
    h.run(f, query());
    CHECK(sold->calls == 2);

    // Another query is another key.
    h.run(f, query("Canon AE-1 Program"));
    CHECK(active->calls == 4);
}

TEST_CASE("fan_out: failures and listed local sources are not cached", "[market]") {
    harness h;
    auto failing = std::make_shared<fake_source>("browse", 1ms, std::vector<comp>{});
    failing->why = failure{"source_error", "eBay answered 500", true};
    auto own =
        std::make_shared<fake_source>("own_sales", 1ms, std::vector{make_comp(1, true, "o")});
    fan_out f({failing, own}, {}, h.time);
    h.run(f, query());
    auto r = h.run(f, query());
    CHECK(failing->calls == 2 * 3);  // each search asked it three times
    CHECK(own->calls == 2);
    CHECK(outcome_of(r, "own_sales").cache.empty());
    CHECK(f.memory_cache().entries() == 0);
}

TEST_CASE("fan_out: the second cache level answers for a cold memory", "[market]") {
    harness h;
    auto backend = std::make_shared<map_backend>();
    auto source =
        std::make_shared<fake_source>("browse", 1ms, std::vector{make_comp(42, false, "b")});
    fan_out first({source}, {}, h.time, backend);
    h.run(first, query());
    CHECK(backend->values.size() == 1);

    fan_out second({source}, {}, h.time, backend);  // another replica: empty memory
    auto r = h.run(second, query());
    CHECK(source->calls == 1);
    CHECK(outcome_of(r, "browse").cache == "store");
    REQUIRE(r.comps.size() == 1);
    CHECK(r.comps[0].price_minor == 42);
    CHECK_FALSE(r.comps[0].sold);

    // Then the memory level has it too.
    auto gets = backend->gets;
    h.run(second, query());
    CHECK(backend->gets == gets);
}

TEST_CASE("fan_out: outcomes are counted by source and outcome", "[market]") {
    harness h;
    metrics::registry reg;
    auto limited = std::make_shared<fake_source>("ebay_browse", 1ms, std::vector<comp>{});
    limited->why = failure{"source_limited", "quota", true};
    auto hanging = std::make_shared<fake_source>("scraper", 1h, std::vector<comp>{});
    fan_out_options o;
    o.timeouts["scraper"] = 20ms;
    fan_out f({limited, hanging}, o, h.time, nullptr, &reg);
    h.run(f, query());
    h.run(f, query());
    auto text = reg.render();
    CHECK(text.find("boomer_comps_source_outcomes_total"
                    R"({source="ebay_browse",outcome="source_limited"} 2)") != std::string::npos);
    CHECK(text.find("boomer_comps_source_outcomes_total"
                    R"({source="scraper",outcome="source_timeout"} 2)") != std::string::npos);
}

TEST_CASE("fan_out: the normalized key ignores case, spacing and barcode order", "[market]") {
    auto a = query("Canon  AE-1");
    a.barcodes = {"2", "1"};
    a.condition = "Used";
    auto b = query(" canon ae-1");
    b.barcodes = {"1", "2"};
    b.condition = "pre-owned";
    CHECK(normalized_query_key(a) == normalized_query_key(b));
    b.condition = "new";
    CHECK(normalized_query_key(a) != normalized_query_key(b));
    auto c = query("canon ae 1");
    c.barcodes = {"1", "2"};
    c.condition = "used";
    CHECK(normalized_query_key(a) != normalized_query_key(c));
}

TEST_CASE("fan_out: the cache wire form keeps every field", "[market]") {
    auto c = make_comp(1234, false, "ebay_browse");
    c.condition_id = "3000";
    c.url = "https://www.ebay.com/itm/1";
    c.shipping_minor = 34;
    auto back = comps_from_json(comps_to_json({c}));
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    const auto& d = back->front();
    CHECK(d.price_minor == 1234);
    CHECK(d.shipping_minor == 34);
    CHECK_FALSE(d.sold);
    CHECK(d.condition_id == "3000");
    CHECK(d.url == c.url);
    CHECK(d.source == "ebay_browse");
    CHECK_FALSE(comps_from_json("{\"not\":\"a list\"}"));
    CHECK_FALSE(comps_from_json("[{\"title\":1}]"));
}

namespace {

// `n` comps with titles of `title_bytes` characters: heap-allocated strings the byte cap must
// count.
std::vector<comp> long_comps(int n, std::size_t title_bytes) {
    std::vector<comp> out;
    for (int i = 0; i < n; ++i) {
        auto c = make_comp(1000 + i, true, "b");
        c.title = std::string(title_bytes, static_cast<char>('a' + i % 26));
        c.url = "https://www.ebay.com/itm/" + std::to_string(100000 + i);
        out.push_back(std::move(c));
    }
    return out;
}

fan_out_options one_day(std::size_t max_entries, std::size_t max_bytes) {
    fan_out_options o;
    o.active_ttl_ms = 24 * 3'600'000;
    o.sold_ttl_ms = 24 * 3'600'000;
    o.memory = {.max_entries = max_entries, .max_bytes = max_bytes, .shards = 4};
    return o;
}

}  // namespace

TEST_CASE("fan_out: the memory cache never holds more entries than its cap", "[market]") {
    harness h;
    auto source = std::make_shared<fake_source>("browse", 0ms, long_comps(3, 40));
    fan_out f({source}, one_day(8, 64 * 1024 * 1024), h.time);
    for (int n = 0; n < 80; ++n) {  // ten times the capacity, every answer cacheable
        h.run(f, query("camera " + std::to_string(n)));
        CHECK(f.memory_cache().entries() <= 8);
        CHECK(f.memory_cache().bytes() <= 64 * 1024 * 1024);
    }
    CHECK(source->calls == 80);
    CHECK(f.memory_cache().entries() > 0);
    // The most recent answer is still there.
    auto again = h.run(f, query("camera 79"));
    CHECK(outcome_of(again, "browse").cache == "memory");
    CHECK(source->calls == 80);
}

TEST_CASE("fan_out: the memory cache never holds more bytes than its cap, comps measured deeply",
          "[market]") {
    harness h;
    constexpr std::size_t title = 600;
    constexpr int per_answer = 5;
    constexpr std::size_t cap = 32 * 1024;
    auto source = std::make_shared<fake_source>("browse", 0ms, long_comps(per_answer, title));
    fan_out f({source}, one_day(1000, cap), h.time);
    // Each answer owns more than 3000 bytes of titles alone, so fewer than cap / 3000 fit;
    // sized by its headers only (a vector's 24 bytes), all would.
    constexpr std::size_t owned = per_answer * title;
    std::size_t inserted = 10 * cap / owned;
    for (std::size_t n = 0; n < inserted; ++n) {
        h.run(f, query("lens " + std::to_string(n)));
        auto entries = f.memory_cache().entries();
        auto bytes = f.memory_cache().bytes();
        CHECK(bytes <= cap);
        CHECK(entries <= cap / owned);
        CHECK(bytes >= entries * owned);  // every entry counts its titles' buffers
    }
    CHECK(source->calls == static_cast<int>(inserted));
    CHECK(f.memory_cache().entries() > 0);
}

TEST_CASE("fan_out: 20 identical searches on a cold cache make one call to the source",
          "[market]") {
    harness h;
    auto source =
        std::make_shared<fake_source>("browse", 200ms, std::vector{make_comp(42, false, "b")});
    auto sold = std::make_shared<fake_source>("insights", 50ms, std::vector<comp>{});
    fan_out f({source, sold}, {}, h.time);
    std::vector<std::optional<fan_out_result>> results(20);
    auto q = query();  // search() takes it by reference: alive until every search ends
    for (auto& slot : results) {
        asio::co_spawn(h.io, f.search(q), [&slot](std::exception_ptr e, fan_out_result r) {
            if (!e) {
                slot = std::move(r);
            }
        });
    }
    h.io.run();
    h.io.restart();
    CHECK(source->calls == 1);
    CHECK(sold->calls == 1);  // its empty answer is shared within the flight, not cached
    int live = 0;
    int shared = 0;
    for (const auto& r : results) {
        REQUIRE(r);
        const auto& browse = outcome_of(*r, "browse");
        CHECK(browse.outcome == "ok");
        CHECK(browse.count == 1);
        REQUIRE(r->comps.size() == 1);
        CHECK(r->comps[0].price_minor == 42);
        live += browse.cache.empty() ? 1 : 0;
        shared += browse.cache == "flight" ? 1 : 0;
    }
    CHECK(live == 1);
    CHECK(shared == 19);
    CHECK(f.memory_cache().entries() == 1);  // browse only: the empty answer is not kept
    h.run(f, query());
    CHECK(source->calls == 1);
    CHECK(sold->calls == 2);
}

namespace {

// Answers after `delay`, counting its calls from any thread.
class atomic_source final : public comp_source {
public:
    atomic_source(std::chrono::milliseconds delay, std::vector<comp> comps)
        : delay_(delay), comps_(std::move(comps)) {}
    std::string name() const override { return "browse"; }
    asio::awaitable<result<std::vector<comp>>> search(const market_query&) override {
        ++calls;
        asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
        co_await timer.async_wait(asio::use_awaitable);
        co_return comps_;
    }
    std::atomic<int> calls{0};

private:
    std::chrono::milliseconds delay_;
    std::vector<comp> comps_;
};

}  // namespace

TEST_CASE("fan_out: 20 identical searches on four threads make one call to the source",
          "[market]") {
    harness h;
    auto source = std::make_shared<atomic_source>(200ms, std::vector{make_comp(42, false, "b")});
    fan_out f({source}, {}, h.time);
    std::vector<std::optional<fan_out_result>> results(20);
    auto q = query();
    for (auto& slot : results) {
        asio::co_spawn(h.io, f.search(q), [&slot](std::exception_ptr e, fan_out_result r) {
            if (!e) {
                slot = std::move(r);
            }
        });
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&h] { h.io.run(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(source->calls == 1);
    for (const auto& r : results) {
        REQUIRE(r);
        CHECK(outcome_of(*r, "browse").outcome == "ok");
        REQUIRE(r->comps.size() == 1);
        CHECK(r->comps[0].price_minor == 42);
    }
}

TEST_CASE("fan_out: a cancelled leader hands the call to a search still waiting", "[market]") {
    harness h;
    auto source =
        std::make_shared<fake_source>("browse", 150ms, std::vector{make_comp(42, false, "b")});
    fan_out f({source}, {}, h.time);
    // The first search leads the call and is cancelled while the second waits on it; the
    // second then makes its own call instead of taking the first one's cancellation.
    std::optional<fan_out_result> first;
    std::optional<fan_out_result> second;
    asio::cancellation_signal cancel;
    auto q = query();  // search() takes it by reference: alive until both searches end
    asio::co_spawn(
        h.io, f.search(q),
        asio::bind_cancellation_slot(
            cancel.slot(), [&](std::exception_ptr, fan_out_result r) { first = std::move(r); }));
    asio::co_spawn(h.io, f.search(q),
                   [&](std::exception_ptr, fan_out_result r) { second = std::move(r); });
    asio::steady_timer canceller(h.io, 30ms);
    canceller.async_wait(
        [&](boost::system::error_code) { cancel.emit(asio::cancellation_type::terminal); });
    h.io.run();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(outcome_of(*first, "browse").outcome == "canceled");
    CHECK(source->cancelled);
    CHECK(source->calls == 2);
    const auto& taken_over = outcome_of(*second, "browse");
    CHECK(taken_over.outcome == "ok");
    CHECK(taken_over.cache.empty());  // its own call
    REQUIRE(second->comps.size() == 1);
    CHECK(second->comps[0].price_minor == 42);
    CHECK(f.memory_cache().entries() == 1);
}

TEST_CASE("fan_out: failures and empty answers are not cached", "[market]") {
    harness h;
    auto backend = std::make_shared<map_backend>();
    auto failing = std::make_shared<fake_source>("browse", 1ms, std::vector<comp>{});
    failing->why = failure{"source_limited", "quota", true};
    auto empty = std::make_shared<fake_source>("insights", 1ms, std::vector<comp>{});
    fan_out f({failing, empty}, {}, h.time, backend);
    h.run(f, query());
    auto r = h.run(f, query());
    CHECK(failing->calls == 2);
    CHECK(empty->calls == 2);
    CHECK(outcome_of(r, "browse").outcome == "source_limited");
    CHECK(outcome_of(r, "insights").outcome == "ok");
    CHECK(outcome_of(r, "insights").cache.empty());
    CHECK(f.memory_cache().entries() == 0);
    CHECK(backend->values.empty());
}

TEST_CASE("fan_out: the comps cache exports its metrics as cache comps", "[market]") {
    harness h;
    metrics::registry reg;
    auto backend = std::make_shared<map_backend>();
    auto source =
        std::make_shared<fake_source>("browse", 1ms, std::vector{make_comp(42, false, "b")});
    fan_out f({source}, {}, h.time, backend, &reg);
    h.run(f, query());
    h.run(f, query());
    auto text = reg.render();
    CHECK(text.find(R"(boomer_cache_lookups_total{cache="comps",outcome="miss"} 1)") !=
          std::string::npos);
    CHECK(text.find(R"(boomer_cache_lookups_total{cache="comps",outcome="hit"} 1)") !=
          std::string::npos);
    CHECK(text.find(R"(boomer_cache_lookups_total{cache="comps_store",outcome="miss"} 1)") !=
          std::string::npos);
    CHECK(text.find(R"(boomer_cache_entries{cache="comps"} 1)") != std::string::npos);
    CHECK(text.find("boomer_cache_bytes{cache=\"comps\"} " +
                    std::to_string(f.memory_cache().bytes())) != std::string::npos);
}

TEST_CASE("own_sales_source: the same comps as the sales history, as sold evidence", "[market]") {
    sales_import imported;
    sale s;
    s.title = "Canon AE-1 Program 35mm SLR Film Camera";
    s.source = "orders.csv";
    s.unit_price_minor = 21500;
    s.shipping_minor = 1650;
    s.currency = "USD";
    s.sold_on = "2026-03-26";
    s.quantity = 1;
    imported.sales.push_back(s);
    sales_history history({imported});
    auto own = std::make_shared<own_sales_source>(history);

    harness h;
    fan_out f({own}, {}, h.time);
    auto q = query("Canon AE-1 Program 35mm camera");
    auto r = h.run(f, q);
    comp_query direct;
    direct.title = q.keywords;
    auto expected = history.find(direct, 50);
    REQUIRE(expected.size() == 1);
    REQUIRE(r.comps.size() == 1);
    CHECK(r.comps[0].price_minor == expected[0].price_minor);
    CHECK(r.comps[0].score == Approx(expected[0].score));
    CHECK(r.comps[0].sold);
    CHECK(r.outcomes[0].source == "own_sales");
    CHECK(r.outcomes[0].count == 1);
}

namespace {

// Finds listings with their categories after `delay` and publishes `publish` (when not empty)
// on the search's board, as eBay Browse does.
class learning_source final : public comp_source {
public:
    learning_source(std::chrono::milliseconds delay, std::vector<comp> comps, std::string publish)
        : delay_(delay), comps_(std::move(comps)), publish_(std::move(publish)) {}

    std::string name() const override { return "learner"; }
    bool learns_category() const override { return true; }

    asio::awaitable<result<std::vector<comp>>> search(const market_query& q) override {
        ++calls;
        asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
        co_await timer.async_wait(asio::use_awaitable);
        if (why) {
            co_return make_unexpected(*why);
        }
        if (q.board && !publish_.empty()) {
            q.board->publish(publish_, name());
        }
        co_return comps_;
    }

    int calls = 0;
    std::optional<failure> why;

private:
    std::chrono::milliseconds delay_;
    std::vector<comp> comps_;
    std::string publish_;
};

// Waits for the search's category (as Marketplace Insights does) and notes what it got.
class waiting_source final : public comp_source {
public:
    std::string name() const override { return "waiter"; }

    asio::awaitable<result<std::vector<comp>>> search(const market_query& q) override {
        auto started = std::chrono::steady_clock::now();
        got = "no board";
        if (q.board) {
            auto deadline = started + 10s;
            got = co_await q.board->wait(deadline);
        }
        waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        co_return std::vector<comp>{};
    }

    std::string got = "not asked";
    std::chrono::milliseconds waited{0};
};

comp in_category(std::int64_t price, const std::string& category) {
    auto c = make_comp(price, false, "learner");
    c.category_id = category;
    return c;
}

}  // namespace

TEST_CASE("fan_out: a source waits for the category another learns, the result carries it",
          "[market]") {
    harness h;
    auto learner =
        std::make_shared<learning_source>(50ms, std::vector{in_category(100, "15230")}, "15230");
    auto waiter = std::make_shared<waiting_source>();
    fan_out_options o;
    o.source_timeout = 20s;
    o.deadline = 20s;
    fan_out f({waiter, learner}, o, h.time);
    auto r = h.run(f, query());
    CHECK(waiter->got == "15230");
    CHECK(r.category_id == "15230");
    CHECK(r.category_source == "learner");
    CHECK(waiter->waited < 5s);
}

TEST_CASE("fan_out: a waiting source stops waiting when the learner fails", "[market]") {
    harness h;
    auto learner = std::make_shared<learning_source>(50ms, std::vector<comp>{}, "15230");
    learner->why = failure{"source_limited", "quota", true};
    auto waiter = std::make_shared<waiting_source>();
    fan_out_options o;
    o.source_timeout = 20s;
    o.deadline = 20s;
    fan_out f({waiter, learner}, o, h.time);
    auto r = h.run(f, query());
    CHECK(waiter->got.empty());
    CHECK(waiter->waited < 5s);  // not its 10 s deadline: nobody could publish any more
    CHECK(r.category_id.empty());
    CHECK(outcome_of(r, "waiter").outcome == "ok");
}

TEST_CASE("fan_out: the user's category hint is the category from the start", "[market]") {
    harness h;
    auto learner =
        std::make_shared<learning_source>(50ms, std::vector{in_category(100, "15230")}, "15230");
    auto waiter = std::make_shared<waiting_source>();
    fan_out f({waiter, learner}, {}, h.time);
    auto q = query();
    q.category_id = "31388";
    auto r = h.run(f, q);
    CHECK(waiter->got == "31388");
    CHECK(r.category_id == "31388");
    CHECK(r.category_source == "hint");
}

TEST_CASE("fan_out: a learner answering from the cache gives the category by its comps",
          "[market]") {
    harness h;
    auto learner = std::make_shared<learning_source>(
        10ms,
        std::vector{in_category(100, "31388"), in_category(110, "15230"),
                    in_category(120, "15230")},
        "15230");
    auto waiter = std::make_shared<waiting_source>();
    fan_out f({waiter, learner}, {}, h.time);
    auto first = h.run(f, query());
    CHECK(first.category_id == "15230");
    auto second = h.run(f, query());
    CHECK(learner->calls == 1);
    CHECK(outcome_of(second, "learner").cache == "memory");
    CHECK(second.category_id == "15230");
    CHECK(second.category_source == "learner");
    CHECK(waiter->got == "15230");
}

TEST_CASE("choose_category: the dominant leaf when listed, else the most common", "[market]") {
    std::vector<comp> comps{in_category(1, "31388"), in_category(2, "15230"),
                            in_category(3, "15230"), in_category(4, "")};
    CHECK(choose_category("", comps) == "15230");
    CHECK(choose_category("31388", comps) == "31388");
    CHECK(choose_category("625", comps) == "15230");  // not a leaf any listing is in
    CHECK(choose_category("625", {}) == "625");
    CHECK(choose_category("", {in_category(1, "7"), in_category(2, "8")}) == "7");
    CHECK(is_category_id("15230"));
    CHECK_FALSE(is_category_id(""));
    CHECK_FALSE(is_category_id("0123"));
    CHECK_FALSE(is_category_id("12a"));
    CHECK_FALSE(is_category_id("1234567890"));
}
