// The Claude vision model's protections against the fake server: the breaker per model opens
// after repeated server failures and is exported, the retry budget stops retries, the rate
// limiter learns the limit from the answers' headers and waits instead of drawing a 429, the
// concurrency grows by slow start, stops at the Little's-law ceiling and is not cut by a 429 once
// the limit is known, connections broken before an answer leave the breaker alone, calls wait
// for the model's first answer; and their settings from the environment.
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <thread>

#include "clients/claude_vision.hpp"
#include "tests/clients/claude_support.hpp"
#include "tests/clients/support.hpp"
#include "tests/fakes/fake_anthropic.hpp"

using namespace boomer;
namespace asio = boost::asio;
using clients::claude_options;
using clients::claude_vision;
using fakes::injected_error;
using std::chrono::milliseconds;
using test::clock_sleep;
using test::has_line;
using test::sleep_log;

namespace {

// Each request asks something of its own (its hint): identical calls in flight together would
// be made once, and these tests count calls.
pipeline::identify_request request() {
    static std::atomic<int> made{0};
    auto r = test::tiny_request("itm_resilience");
    r.title_hint = "camera " + std::to_string(++made);
    return r;
}

using harness = test::claude_harness;

// options_for returns the client's settings against `fake` on the real clock: only the cheap
// model.
claude_options options_for(const fakes::fake_anthropic& fake) {
    claude_options options;
    options.api_key = clients::secret("test-key");
    options.base_url = fake.base_url();
    options.strong_model = "";
    return options;
}

// identify_together starts `n` identifications at once and returns their results in the order
// they ended.
std::vector<result<pipeline::identification>> identify_together(asio::io_context& io,
                                                                claude_vision& vision, int n) {
    std::vector<result<pipeline::identification>> out;
    auto call = [&]() -> asio::awaitable<void> {
        out.push_back(co_await vision.identify(request()));
    };
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(io, call(), asio::detached);
    }
    io.run();
    return out;
}

}  // namespace

TEST_CASE("claude resilience: repeated 529s open the model's breaker, and calls stop",
          "[clients]") {
    harness h;
    h.options.max_attempts = 1;
    h.options.breaker_failures = 2;
    h.options.breaker_open_for = milliseconds(5000);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    int resumed = 0;
    vision.on_resumed([&resumed] { ++resumed; });
    h.fake.inject(injected_error::overloaded());
    h.fake.inject(injected_error::overloaded());
    for (int i = 0; i < 2; ++i) {
        auto r = test::run_coro(h.io, vision.identify(request()));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "vision_overloaded");
        CHECK_FALSE(r.error().counts_as_attempt);  // no call answered: an outage
    }
    auto refused = test::run_coro(h.io, vision.identify(request()));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == "vision_unavailable");
    CHECK(refused.error().retryable);
    // The job's next attempt waits until a trial call may go.
    CHECK(refused.error().retry_after_ms == 5000);
    // Nothing was sent: the job's retry gives its attempt back.
    CHECK_FALSE(refused.error().counts_as_attempt);
    CHECK(h.fake.received() == 2);
    CHECK(has_line(h.registry.render(),
                   R"(boomer_breaker_state{upstream="anthropic",model="claude-haiku-4-5"} 1)"));

    // After the open time one probe goes through; its success closes the breaker.
    h.time.advance_ms(5000);
    CHECK(resumed == 0);
    auto probe = test::run_coro(h.io, vision.identify(request()));
    CHECK(probe);
    CHECK(has_line(h.registry.render(),
                   R"(boomer_breaker_state{upstream="anthropic",model="claude-haiku-4-5"} 0)"));
    CHECK(resumed == 1);  // the deferred jobs may run now
    CHECK(test::run_coro(h.io, vision.identify(request())));
    CHECK(resumed == 1);  // a call of a closed breaker tells nothing
}

TEST_CASE(
    "claude resilience: a call whose own failures open the breaker reports them, and waits out "
    "the pause",
    "[clients]") {
    harness h;
    h.options.max_attempts = 3;
    h.options.breaker_failures = 2;
    h.options.breaker_open_for = milliseconds(5000);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    h.fake.inject(injected_error::overloaded());
    h.fake.inject(injected_error::overloaded());
    auto r = test::run_coro(h.io, vision.identify(request()));
    REQUIRE_FALSE(r);
    CHECK(h.fake.received() == 2);  // the third attempt was refused by the breaker
    // What went wrong is Claude's overload, not the pause it caused; Claude answered no call,
    // so the job's attempt is not spent, and its retry waits until a trial call may go.
    CHECK(r.error().code == "vision_overloaded");
    CHECK(r.error().message.find("paused for 5 s") != std::string::npos);
    CHECK_FALSE(r.error().counts_as_attempt);
    // (the pause began at the second failure; the backoff before the third attempt passed since)
    CHECK(r.error().retry_after_ms > 4000);
    CHECK(r.error().retry_after_ms <= 5000);
}

TEST_CASE("claude resilience: a spent retry budget ends the call after one attempt", "[clients]") {
    harness h;
    h.options.retry_budget_ratio = 0.0;
    h.options.retry_floor_per_second = 0.0;
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    h.fake.inject(injected_error::overloaded());
    auto r = test::run_coro(h.io, vision.identify(request()));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "vision_overloaded");
    CHECK(r.error().message.find("Retries are paused") != std::string::npos);
    CHECK(h.fake.received() == 1);
    CHECK(h.log.waits.empty());
    CHECK(has_line(h.registry.render(),
                   R"(boomer_vision_retries_refused_total{model="claude-haiku-4-5"} 1)"));
}

TEST_CASE("claude resilience: the limit learnt from the headers is waited for, not hit",
          "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.limits.requests = 2;  // one request per 30 s once the minute is used
    harness h(fake_options);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    for (int i = 0; i < 3; ++i) {
        auto r = test::run_coro(h.io, vision.identify(request()));
        CHECK(r);
    }
    CHECK(h.log.waits == std::vector<milliseconds>{milliseconds(30'000)});
    for (const auto& call : h.fake.calls()) {
        CHECK(call.status == 200);
    }
    CHECK(h.fake.received() == 3);
}

TEST_CASE("claude resilience: an upstream slower than half an attempt is still asked",
          "[clients]") {
    harness h;  // attempts of 10 s
    h.fake.set_latency(milliseconds(6'000));
    h.fake.set_latency_clock(&h.time);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    // Twice the answers' mean (12 s) is more than an attempt may take: the call goes with the
    // attempt's whole timeout instead of never going again.
    for (int i = 0; i < 3; ++i) {
        auto r = test::run_coro(h.io, vision.identify(request()));
        INFO("call " << i);
        REQUIRE(r);
    }
    CHECK(h.fake.received() == 3);
}

TEST_CASE("claude resilience: a call out of time waiting for the first answer spends no attempt",
          "[clients]") {
    harness h;
    h.options.stage_deadline = milliseconds(400);  // h.time stands still: 400 ms of real time
    h.fake.set_latency(milliseconds(1'000));       // real time: the first answer comes too late
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    const auto out = identify_together(h.io, vision, 2);
    REQUIRE(out.size() == 2);
    // The waiter left the line with a quarter of the deadline left, unsent; then the first was
    // cut off by the deadline, sent.
    REQUIRE_FALSE(out[0]);
    CHECK(out[0].error().code == "vision_deadline");
    CHECK_FALSE(out[0].error().counts_as_attempt);
    REQUIRE_FALSE(out[1]);
    CHECK(out[1].error().counts_as_attempt);
    CHECK(h.fake.received() == 1);
    CHECK_THAT(h.registry.render(),
               Catch::Contains(R"(boomer_vision_wait_seconds_count{model="claude-haiku-4-5",)"
                               R"(for="first_answer"} 1)"));
}

TEST_CASE(
    "claude resilience: calls waiting for the first answer are refused once the breaker opens",
    "[clients]") {
    harness h;
    h.options.breaker_failures = 1;
    h.options.max_attempts = 1;
    h.fake.set_latency(milliseconds(200));
    h.fake.inject(injected_error::internal());  // the first call's answer, a 500
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    const auto out = identify_together(h.io, vision, 3);
    REQUIRE(out.size() == 3);
    CHECK(h.fake.received() == 1);  // the others waited, then met the open breaker
    for (const auto& r : out) {
        REQUIRE_FALSE(r);
    }
    int refused = 0;
    for (const auto& r : out) {
        refused += r.error().code == "vision_unavailable" && !r.error().counts_as_attempt ? 1 : 0;
    }
    CHECK(refused == 2);
}

TEST_CASE("claude resilience: a call that writes the prompt cache reserves the whole prompt",
          "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.limits.input_tokens = 12'000;
    fake_options.limits.start_full = 0;  // the first call finds the bucket empty
    harness h(fake_options);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    auto r = test::run_coro(h.io, vision.identify(request()));
    REQUIRE(r);
    // The 429 told the limit; the call then waited until the bucket held its cache write too
    // (the system prompt, several thousand tokens, besides the photo), not only the photo's
    // share, which would have drawn 429 after 429.
    const auto calls = h.fake.calls();
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].status == 429);
    CHECK(calls[1].status == 200);
    CHECK(calls[1].usage.cache_write_5m > 4'000);
}

namespace {

// A clock that moves `step_ms` forward at every reading: a call's send and answer, read one
// after the other, are one step apart, so every call seems to take `step_ms`.
class ticking_clock final : public clock {
public:
    explicit ticking_clock(std::int64_t step_ms) : step_ms_(step_ms) {}
    std::int64_t now_ms() const override { return now_.fetch_add(step_ms_) + step_ms_; }

private:
    std::int64_t step_ms_;
    mutable std::atomic<std::int64_t> now_{1'700'000'000'000};
};

asio::awaitable<void> identify_into(claude_vision* vision, int* ok) {
    auto r = co_await vision->identify(request());
    *ok += r ? 1 : 0;
}

double gauge_value(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (l.starts_with(series + " ")) {
            return std::stod(l.substr(series.size() + 1));
        }
    }
    return -1.0;
}

const std::string concurrency_series =
    R"(boomer_vision_concurrency_limit{model="claude-haiku-4-5"})";

}  // namespace

TEST_CASE("claude resilience: calls made before the model's first answer wait for it",
          "[clients]") {
    // Real time throughout: the fake makes a prompt's cache entry readable once the answer that
    // wrote it begins, 300 ms after its request.
    fakes::fake_anthropic_options fake_options;
    fake_options.latency = milliseconds(300);
    fakes::fake_anthropic fake(fake_options);
    metrics::registry registry;
    asio::io_context io;
    auto options = options_for(fake);
    options.concurrency_initial = 8;
    claude_vision vision(options, io.get_executor(), registry);
    int ok = 0;
    for (int i = 0; i < 4; ++i) {
        asio::co_spawn(io, identify_into(&vision, &ok), asio::detached);
    }
    io.run();
    CHECK(ok == 4);
    const auto calls = fake.calls();
    REQUIRE(calls.size() == 4);
    // The first went alone; the others only once it was answered, and then together.
    for (std::size_t i = 1; i < calls.size(); ++i) {
        CHECK(calls[i].at - calls[0].at >= milliseconds(290));
        CHECK(calls[i].at - calls[1].at < milliseconds(290));
    }
    // So the first wrote the prompt's cache entry and the others read it, where calls sent
    // together would each have paid to write it.
    CHECK(calls[0].usage.cache_write_5m > 0);
    for (std::size_t i = 1; i < calls.size(); ++i) {
        CHECK(calls[i].usage.cache_write_5m == 0);
        CHECK(calls[i].usage.cache_read == calls[0].usage.cache_write_5m);
    }
}

TEST_CASE("claude resilience: calls waiting for a slot grow the concurrency by slow start",
          "[clients]") {
    harness h;
    h.options.concurrency_initial = 2;
    h.options.concurrency_max = 100;
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    int ok = 0;
    for (int i = 0; i < 40; ++i) {
        asio::co_spawn(h.io, identify_into(&vision, &ok), asio::detached);
    }
    h.io.run();
    CHECK(ok == 40);
    CHECK(h.fake.received() == 40);
    // Additive growth would have added about one slot per window (2 -> ~6); slow start adds
    // one per success while calls queue.
    CHECK(gauge_value(h.registry.render(), concurrency_series) > 20.0);
}

TEST_CASE("claude resilience: the announced rate times the latency caps the concurrency",
          "[clients]") {
    manual_clock fake_time;
    fakes::fake_anthropic_options fake_options;
    fake_options.limits.requests = 60;  // one call a second
    fake_options.time = &fake_time;
    fakes::fake_anthropic fake(fake_options);
    ticking_clock time(1000);  // every call takes one second
    metrics::registry registry;
    asio::io_context io;
    auto options = options_for(fake);
    options.time = &time;
    options.concurrency_initial = 50;
    options.concurrency_max = 100;
    claude_vision vision(options, io.get_executor(), registry);
    auto r = test::run_coro(io, vision.identify(request()));
    REQUIRE(r);
    // 1 call/s x 1 s = 1 in flight needed; x 1.5 headroom, rounded up, + 1: 3.
    CHECK(gauge_value(registry.render(), concurrency_series) == Approx(3.0));
}

TEST_CASE(
    "claude resilience: a 429 from a known rate limit leaves the concurrency alone, a 529 "
    "halves it",
    "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.limits.requests = 6000;  // 100 calls a second, so the ceiling stays far above
    fake_options.limits.start_full = 0;   // the first call finds the bucket empty
    harness h(fake_options);
    ticking_clock time(1000);  // every call seems to take a second
    h.options.time = &time;
    h.options.concurrency_initial = 8;
    h.options.concurrency_max = 100;
    claude_vision vision(h.options, h.io.get_executor(), h.registry);

    // The 429 carries the limit in its headers: the limiter paces from then on, and the
    // concurrency is not what ran the bucket dry.
    auto r = test::run_coro(h.io, vision.identify(request()));
    REQUIRE(r);
    REQUIRE(h.fake.calls().size() == 2);
    CHECK(h.fake.calls()[0].status == 429);
    CHECK(gauge_value(h.registry.render(), concurrency_series) == Approx(8.0));

    // An overloaded server is another matter.
    h.fake.inject(injected_error::overloaded());
    CHECK(test::run_coro(h.io, vision.identify(request())));
    CHECK(gauge_value(h.registry.render(), concurrency_series) == Approx(4.0));
}

namespace {

// Accepts `n` connections and closes each at once, before any answer.
class hanging_up_server {
public:
    explicit hanging_up_server(int n)
        : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), thread_([this, n] {
              for (int i = 0; i < n; ++i) {
                  boost::system::error_code ec;
                  auto socket = acceptor_.accept(ec);
                  if (ec) {
                      break;
                  }
                  socket.close(ec);
              }
              acceptor_.close();
          }) {}
    ~hanging_up_server() { thread_.join(); }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace

TEST_CASE(
    "claude resilience: refusals spend no attempt in an outage, and do while Claude answers "
    "other calls",
    "[clients]") {
    harness h;
    h.options.max_attempts = 2;
    {
        claude_vision vision(h.options, h.io.get_executor(), h.registry);
        for (auto error : {injected_error::overloaded(), injected_error::internal()}) {
            INFO(error.status);
            h.fake.inject(error);
            h.fake.inject(error);
            auto r = test::run_coro(h.io, vision.identify(request()));
            REQUIRE_FALSE(r);
            CHECK_FALSE(r.error().counts_as_attempt);
            CHECK(r.error().message.find("answered no call") != std::string::npos);
        }
    }

    // Another item's call is answered between this call's two refused attempts: Claude works,
    // the trouble is this call's, and its attempt is spent.
    claude_vision* client = nullptr;
    bool other_ran = false;
    h.options.sleep = [&client, &other_ran, &h](milliseconds d) -> asio::awaitable<void> {
        h.time.advance_ms(d.count());
        if (!std::exchange(other_ran, true)) {
            auto other = test::tiny_request("itm_other");
            other.title_hint = "lens";  // not the same call: no shared answer
            auto answered = co_await client->identify(other);
            CHECK(answered);
            h.fake.inject(injected_error::overloaded());  // for this call's second attempt
        }
    };
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    client = &vision;
    h.fake.inject(injected_error::overloaded());
    auto r = test::run_coro(h.io, vision.identify(request()));
    REQUIRE(other_ran);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "vision_overloaded");
    CHECK(r.error().counts_as_attempt);
    CHECK(h.fake.received() == 4 + 3);
}

TEST_CASE("claude resilience: retries nothing paces wait longer the longer refusals last",
          "[clients]") {
    harness h;
    h.options.max_attempts = 1;
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    // Jitter 0.5: three quarters of 1, 2 and 4 s after one, two and three refusals in a row.
    std::vector<std::int64_t> waits;
    for (int i = 0; i < 3; ++i) {
        h.fake.inject(injected_error::rate_limited(std::nullopt));
        auto r = test::run_coro(h.io, vision.identify(request()));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "vision_rate_limited");
        waits.push_back(r.error().retry_after_ms);
    }
    CHECK(waits == std::vector<std::int64_t>{750, 1500, 3000});

    // An answer ends the run; a retry-after, when given, is what the retry waits.
    REQUIRE(test::run_coro(h.io, vision.identify(request())));
    h.fake.inject(injected_error::overloaded());
    auto again = test::run_coro(h.io, vision.identify(test::tiny_request("itm_next")));
    REQUIRE_FALSE(again);
    CHECK(again.error().retry_after_ms == 750);
    h.fake.inject(injected_error::rate_limited(7));
    auto told = test::run_coro(h.io, vision.identify(test::tiny_request("itm_told")));
    REQUIRE_FALSE(told);
    CHECK(told.error().retry_after_ms == 7000);
}

TEST_CASE("claude resilience: connections broken before an answer do not open the breaker",
          "[clients]") {
    hanging_up_server server(3);
    harness h;
    h.options.base_url = server.url();
    h.options.max_attempts = 1;
    h.options.breaker_failures = 1;
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    for (int i = 0; i < 3; ++i) {
        auto r = test::run_coro(h.io, vision.identify(request()));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "vision_unreachable");  // not vision_unavailable: still closed
        CHECK(r.error().retryable);
        // The request went out on a connection: it may have been answered and billed.
        CHECK(r.error().counts_as_attempt);
    }
    CHECK(has_line(h.registry.render(),
                   R"(boomer_breaker_state{upstream="anthropic",model="claude-haiku-4-5"} 0)"));
}

TEST_CASE("claude resilience: settings from the environment, checked", "[clients]") {
    std::map<std::string, std::string, std::less<>> env = {
        {"ANTHROPIC_API_KEY", "k"},
        {"BOOMER_CLAUDE_RETRY_BUDGET", "0.25"},
        {"BOOMER_CLAUDE_RETRY_FLOOR", "2"},
        {"BOOMER_CLAUDE_RPM", "50"},
        {"BOOMER_CLAUDE_ITPM", "30000"},
        {"BOOMER_CLAUDE_OTPM", "8000"},
        {"BOOMER_CLAUDE_CONCURRENCY", "3"},
        {"BOOMER_CLAUDE_MAX_CONCURRENCY", "12"},
        {"BOOMER_CLAUDE_BREAKER_FAILURES", "7"},
        {"BOOMER_CLAUDE_BREAKER_OPEN_MS", "15000"},
        {"BOOMER_CLAUDE_BREAKER_PROBE_WAIT_MS", "90000"},
        {"BOOMER_CLAUDE_MAX_RETRY_AFTER_MS", "5000"}};
    auto lookup = [&env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) {
            return std::nullopt;
        }
        return it->second;
    };
    auto o = clients::claude_options_from_env(lookup);
    REQUIRE(o);
    CHECK(o->retry_budget_ratio == 0.25);
    CHECK(o->retry_floor_per_second == 2.0);
    CHECK(o->rate_limits.requests == 50);
    CHECK(o->rate_limits.input_tokens == 30'000);
    CHECK(o->rate_limits.output_tokens == 8'000);
    CHECK(o->concurrency_initial == 3);
    CHECK(o->concurrency_max == 12);
    CHECK(o->breaker_failures == 7);
    CHECK(o->breaker_open_for == milliseconds(15'000));
    CHECK(o->breaker_probe_wait == milliseconds(90'000));
    CHECK(o->max_retry_after == milliseconds(5'000));

    env["BOOMER_CLAUDE_CONCURRENCY"] = "20";  // above the maximum
    auto too_many = clients::claude_options_from_env(lookup);
    REQUIRE_FALSE(too_many);
    CHECK(too_many.error().message.find("BOOMER_CLAUDE_CONCURRENCY") != std::string::npos);
    env["BOOMER_CLAUDE_CONCURRENCY"] = "3";
    env["BOOMER_CLAUDE_RETRY_BUDGET"] = "lots";
    auto unreadable = clients::claude_options_from_env(lookup);
    REQUIRE_FALSE(unreadable);
    CHECK(unreadable.error().code == "bad_config");
    CHECK(unreadable.error().message.find("BOOMER_CLAUDE_RETRY_BUDGET") != std::string::npos);
}
