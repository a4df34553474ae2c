// The identification's deadline against the fake server, on a manual clock that the waits move:
// it stops retries, a wait longer than what is left is never started (backoff, retry-after, rate
// limit), calls reserve what answers really cost, the cheap model's answer stands when the
// escalation runs out of time or fails, and the setting is read from the environment and checked.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <sstream>

#include "clients/claude_vision.hpp"
#include "core/hash.hpp"
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
using test::tiny_jpeg;

namespace {

pipeline::identify_request request() {
    return test::tiny_request("itm_deadline");
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The shared harness with a 3 s stage deadline.
struct harness : test::claude_harness {
    explicit harness(fakes::fake_anthropic_options fake_options = {})
        : claude_harness(std::move(fake_options)) {
        options.stage_deadline = milliseconds(3000);
    }

    // A cheap answer that is complete but unsure (it escalates), titled `title`.
    void unsure_cheap_answer(const std::string& title) {
        fake.add_fixture(sha256_hex(tiny_jpeg()), "claude-haiku-4-5",
                         test::identification_record(title, 0.4));
    }
};

// A fake that takes two requests a minute: one per 30 s once the minute is used.
fakes::fake_anthropic_options two_a_minute(milliseconds latency = milliseconds(0)) {
    fakes::fake_anthropic_options fake_options;
    fake_options.limits.requests = 2;
    fake_options.latency = latency;
    return fake_options;
}

// third_call uses up the minute with two answered calls and returns what a third one gets.
result<pipeline::identification> third_call(harness& h, claude_vision& vision) {
    REQUIRE(test::run_coro(h.io, vision.identify(request())));
    REQUIRE(test::run_coro(h.io, vision.identify(request())));
    auto third = test::run_coro(h.io, vision.identify(request()));
    CHECK(h.fake.received() == 2);
    CHECK(h.log.waits.empty());
    return third;
}

}  // namespace

TEST_CASE("claude deadline: the stage deadline stops retries the attempts would still allow",
          "[clients]") {
    harness h;
    h.options.max_attempts = 10;
    h.options.backoff_base = milliseconds(1000);
    for (int i = 0; i < 10; ++i) {
        h.fake.inject(injected_error::overloaded());
    }
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    auto r = test::run_coro(h.io, vision.identify(request()));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "vision_deadline");
    CHECK(r.error().retryable);
    // Waits of 500 and 1000 ms (jitter 0.5) leave 1500 ms of 3000: the next, 2000 ms, is not
    // started, and no attempt is made after it.
    CHECK(h.log.waits == std::vector<milliseconds>{milliseconds(500), milliseconds(1000)});
    CHECK(h.fake.received() == 3);
    CHECK(contains(r.error().message, "3000 ms deadline"));
    CHECK(contains(r.error().message, "waited 2000 ms with 1500 ms left"));
    CHECK(contains(r.error().message, "overloaded"));
    // Claude refused every call and answered none: an outage, which spends no attempt.
    CHECK_FALSE(r.error().counts_as_attempt);
    CHECK(has_line(h.registry.render(), R"(boomer_vision_calls_total{model="claude-haiku-4-5",)"
                                        R"(outcome="vision_deadline"} 1)"));
}

TEST_CASE("claude deadline: a retry-after longer than what is left is not waited for",
          "[clients]") {
    harness h;
    h.fake.inject(injected_error::rate_limited(5));  // within max_retry_after, beyond the deadline
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    auto r = test::run_coro(h.io, vision.identify(request()));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "vision_deadline");
    CHECK(r.error().retryable);
    CHECK(h.log.waits.empty());
    CHECK(h.fake.received() == 1);
    // The job's own retry still waits as long as Claude asked, without spending an attempt: a
    // 429 paces the account, it does not fail the item.
    CHECK(r.error().retry_after_ms == 5000);
    CHECK_FALSE(r.error().counts_as_attempt);
}

TEST_CASE(
    "claude deadline: a rate-limit wait longer than what is left is not started, and the "
    "item waits its turn without spending an attempt",
    "[clients]") {
    harness h(two_a_minute());
    h.options.stage_deadline = milliseconds(10'000);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    auto third = third_call(h, vision);
    REQUIRE_FALSE(third);
    CHECK(third.error().code == "vision_rate_limit_wait");
    CHECK(contains(third.error().message,
                   "rate limits of claude-haiku-4-5 let this call go in "
                   "about 30 s"));
    REQUIRE(third.error().retryable);
    // The job comes back when the limits let the call go; the wait is no failure of the item.
    CHECK(third.error().retry_after_ms > 29'000);
    CHECK(third.error().retry_after_ms <= 30'000);
    CHECK_FALSE(third.error().counts_as_attempt);

    // Nothing was reserved by the refused call: with the 30 s passed, the next goes at once.
    h.time.advance_ms(30'000);
    CHECK(test::run_coro(h.io, vision.identify(request())));
    CHECK(h.log.waits.empty());
}

TEST_CASE("claude deadline: the rate limits let no call go with less time left than answers take",
          "[clients]") {
    harness h(two_a_minute(milliseconds(2000)));
    h.fake.set_latency_clock(&h.time);  // answers take 2 s of the manual clock
    h.options.stage_deadline = milliseconds(31'000);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    // The third request is due 30 s after the second answer said none were left: within the
    // 31 s deadline, but it would be sent with 1 s left for 2 s answers, cut off and paid for.
    auto third = third_call(h, vision);
    REQUIRE_FALSE(third);
    CHECK(third.error().code == "vision_rate_limit_wait");
    CHECK_FALSE(third.error().counts_as_attempt);
    CHECK(third.error().retry_after_ms == 30'000);

    // 3.5 s later the wait leaves twice an answer's time: the call waits for its turn and goes.
    h.time.advance_ms(3'500);
    REQUIRE(test::run_coro(h.io, vision.identify(request())));
    CHECK(h.log.waits == std::vector<milliseconds>{milliseconds(26'500)});
    CHECK(h.fake.received() == 3);
}

TEST_CASE("claude deadline: a deadline under twice the answer time still lets calls go",
          "[clients]") {
    harness h;
    h.fake.set_latency_clock(&h.time);
    h.fake.set_latency(milliseconds(1500));
    h.options.stage_deadline = milliseconds(2500);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    // The first answer sets the mean at 1.5 s: twice that is more than the whole deadline, and
    // holding calls for that long would put every later item back for its turn for ever.
    for (int i = 0; i < 3; ++i) {
        auto r =
            test::run_coro(h.io, vision.identify(test::tiny_request("itm_" + std::to_string(i))));
        INFO(i << ": " << (r ? std::string("ok") : r.error().code + " " + r.error().message));
        CHECK(r);
    }
    CHECK(h.fake.received() == 3);
}

TEST_CASE("claude deadline: calls reserve what answers used, not the per-photo ceiling",
          "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.limits.input_tokens = 12'000;  // the first call's prompt-cache write takes half
    harness h(fake_options);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    REQUIRE(test::run_coro(h.io, vision.identify(request())));
    // Each later call uses a few hundred input tokens at most. Reserving the estimate (1,600
    // tokens a photo and 500 more) would hold the fourth of them until the minute refills.
    for (int i = 0; i < 6; ++i) {
        REQUIRE(test::run_coro(h.io, vision.identify(request())));
    }
    CHECK(h.log.waits.empty());
    CHECK(h.fake.received() == 7);
}

TEST_CASE("claude deadline: an escalation cut short by the deadline keeps the cheap answer",
          "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.model_latency["claude-sonnet-4-5"] = milliseconds(1000);
    harness h(fake_options);
    h.options.strong_model = "claude-sonnet-4-5";
    h.options.stage_deadline = milliseconds(1100);
    h.options.breaker_failures = 1;  // one server failure would open a breaker
    h.unsure_cheap_answer("Cheap camera answer");
    // The cheap model answers after a retry-after of 1 s, which leaves 100 ms.
    auto limited = injected_error::rate_limited(1);
    limited.model = "claude-haiku-4-5";
    h.fake.inject(limited);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);

    auto id = test::run_coro(h.io, vision.identify(request()));
    REQUIRE(id);
    CHECK(id->title == "Cheap camera answer");
    CHECK(id->escalated);
    CHECK(id->escalation_outcome == "fallback");
    CHECK(id->escalation_reason == "vision_deadline");
    REQUIRE(id->calls.size() == 2);
    CHECK(id->calls[0].outcome == "ok");
    CHECK(id->calls[0].attempts == 2);
    // The strong call had the 100 ms left as its timeout, not the 10 s of an attempt.
    CHECK(id->calls[1].outcome == "vision_deadline");
    CHECK(id->calls[1].attempts == 1);
    CHECK(id->calls[1].latency_ms < 900);
    CHECK(id->cost_micros == id->calls[0].cost_micros);
    CHECK(h.fake.received("claude-sonnet-4-5") == 1);
    CHECK(h.log.waits == std::vector<milliseconds>{milliseconds(1000)});
    const auto text = h.registry.render();
    CHECK(has_line(text, R"(boomer_vision_escalation_outcomes_total{outcome="fallback",)"
                         R"(reason="vision_deadline"} 1)"));
    // Running out of the stage's time says nothing about the server: its breaker stays closed.
    CHECK(has_line(text,
                   R"(boomer_breaker_state{upstream="anthropic",model="claude-sonnet-4-5"} 0)"));
}

TEST_CASE(
    "claude deadline: a strong model that times out or stays overloaded leaves the cheap "
    "answer, marked",
    "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.model_latency["claude-sonnet-4-5"] = milliseconds(800);
    harness h(fake_options);
    h.options.strong_model = "claude-sonnet-4-5";
    h.options.stage_deadline = milliseconds(60'000);
    h.options.attempt_timeout = milliseconds(250);
    h.options.max_attempts = 2;
    h.unsure_cheap_answer("Cheap camera answer");
    claude_vision vision(h.options, h.io.get_executor(), h.registry);

    auto slow = test::run_coro(h.io, vision.identify(request()));
    REQUIRE(slow);
    CHECK(slow->title == "Cheap camera answer");
    CHECK(slow->escalation_outcome == "fallback");
    CHECK(slow->escalation_reason == "vision_timeout");
    REQUIRE(slow->calls.size() == 2);
    CHECK(slow->calls[1].attempts == 2);

    h.fake.set_model_latency("claude-sonnet-4-5", milliseconds(0));
    h.options.attempt_timeout = std::chrono::seconds(10);
    for (int i = 0; i < 2; ++i) {
        auto e = injected_error::overloaded();
        e.model = "claude-sonnet-4-5";
        h.fake.inject(e);
    }
    claude_vision again(h.options, h.io.get_executor(), h.registry);
    auto busy = test::run_coro(h.io, again.identify(request()));
    REQUIRE(busy);
    CHECK(busy->title == "Cheap camera answer");
    CHECK(busy->escalation_outcome == "fallback");
    CHECK(busy->escalation_reason == "vision_overloaded");
    const auto text = h.registry.render();
    CHECK(has_line(text, R"(boomer_vision_escalation_outcomes_total{outcome="fallback",)"
                         R"(reason="vision_timeout"} 1)"));
    CHECK(has_line(text, R"(boomer_vision_escalation_outcomes_total{outcome="fallback",)"
                         R"(reason="vision_overloaded"} 1)"));
}

TEST_CASE("claude deadline: a strong answer in time is used and marked strong", "[clients]") {
    harness h;
    h.options.strong_model = "claude-sonnet-4-5";
    h.unsure_cheap_answer("Cheap camera answer");
    h.fake.add_fixture(sha256_hex(tiny_jpeg()), "claude-sonnet-4-5",
                       test::identification_record("Strong camera answer", 0.9));
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    auto id = test::run_coro(h.io, vision.identify(request()));
    REQUIRE(id);
    CHECK(id->title == "Strong camera answer");
    CHECK(id->escalation_outcome == "strong");
    CHECK(id->escalation_reason.empty());
    CHECK(has_line(h.registry.render(),
                   R"(boomer_vision_escalation_outcomes_total{outcome="strong",reason="none"} 1)"));
}

namespace {

// One identification started after `delay` (real time); its name is added to `finished` when it
// ends, and its result kept in `out`.
asio::awaitable<void> identify_after(claude_vision* vision, milliseconds delay, std::string name,
                                     std::vector<std::string>* finished,
                                     std::optional<result<pipeline::identification>>* out) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
    auto r = request();
    r.title_hint += " " + name;  // two calls of their own, not one shared
    auto got = co_await vision->identify(std::move(r));
    finished->push_back(std::move(name));
    out->emplace(std::move(got));
}

}  // namespace

TEST_CASE("claude deadline: the wait for a slot held by a later deadline ends at this one",
          "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.model_latency["claude-sonnet-4-5"] = milliseconds(1500);
    harness h(fake_options);
    h.options.time = nullptr;  // real time: the slot is held by a real call
    h.options.sleep = nullptr;
    h.options.strong_model = "claude-sonnet-4-5";
    h.options.stage_deadline = milliseconds(1000);
    h.options.concurrency_initial = 1;
    h.options.concurrency_max = 1;
    h.options.backoff_base = milliseconds(800);  // a 400 ms wait at jitter 0.5
    h.unsure_cheap_answer("Cheap camera answer");
    auto overloaded = injected_error::overloaded();
    overloaded.model = "claude-haiku-4-5";
    h.fake.inject(overloaded);
    claude_vision vision(h.options, h.io.get_executor(), h.registry);

    // a starts first; its cheap call waits 400 ms to retry. b starts 300 ms later, escalates at
    // once and holds the only strong slot until its own deadline (1300 ms). a asks for that
    // slot at 400 ms and must give up at its deadline (1000 ms), before b ends.
    std::vector<std::string> finished;
    std::optional<result<pipeline::identification>> a, b;
    asio::co_spawn(h.io, identify_after(&vision, milliseconds(0), "a", &finished, &a),
                   asio::detached);
    asio::co_spawn(h.io, identify_after(&vision, milliseconds(300), "b", &finished, &b),
                   asio::detached);
    h.io.run();

    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(*a);
    REQUIRE(*b);
    CHECK(finished == std::vector<std::string>{"a", "b"});
    CHECK((*a)->escalation_outcome == "fallback");
    CHECK((*a)->escalation_reason == "vision_deadline");
    REQUIRE((*a)->calls.size() == 2);
    CHECK((*a)->calls[1].attempts == 0);  // it never got a slot
    CHECK((*b)->escalation_reason == "vision_deadline");
    CHECK(h.fake.received("claude-sonnet-4-5") == 1);
}

TEST_CASE("claude deadline: BOOMER_CLAUDE_DEADLINE_MS is read and checked", "[clients]") {
    std::map<std::string, std::string, std::less<>> env = {{"ANTHROPIC_API_KEY", "k"}};
    auto lookup = [&env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) {
            return std::nullopt;
        }
        return it->second;
    };
    auto defaults = clients::claude_options_from_env(lookup);
    REQUIRE(defaults);
    CHECK(defaults->stage_deadline == milliseconds(120'000));

    env["BOOMER_CLAUDE_DEADLINE_MS"] = "45000";
    auto set = clients::claude_options_from_env(lookup);
    REQUIRE(set);
    CHECK(set->stage_deadline == milliseconds(45'000));

    for (const char* bad : {"0", "-5", "soon", "3600001"}) {
        env["BOOMER_CLAUDE_DEADLINE_MS"] = bad;
        auto refused = clients::claude_options_from_env(lookup);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == "bad_config");
        CHECK(contains(refused.error().message, "BOOMER_CLAUDE_DEADLINE_MS"));
    }
}
