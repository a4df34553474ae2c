// The Claude vision model against the fake server: routing and escalation, retries and waits,
// permanent failures, usage and cost per call, metrics, every test photo accepted after
// normalization, and settings from the environment.
#include "clients/claude_vision.hpp"

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/clock.hpp"
#include "pipeline/image/normalize.hpp"
#include "tests/clients/claude_support.hpp"
#include "tests/clients/support.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/paths.hpp"

using namespace boomer;
namespace asio = boost::asio;
namespace json = boost::json;
using clients::claude_options;
using clients::claude_vision;
using fakes::fake_anthropic;
using fakes::injected_error;
using std::chrono::milliseconds;
using test::has_line;

namespace {

const image::normalized_image& photo() {
    static const image::normalized_image p = [] {
        image::normalize_limits limits;
        limits.max_long_edge = 400;
        auto bytes = test::read_file(test::data_dir() / "images" / "grayscale-jpeg-concert.jpg");
        return image::normalize(bytes, limits).value();
    }();
    return p;
}

pipeline::identify_request request_for(std::vector<std::string> jpegs) {
    pipeline::identify_request r;
    r.item_id = "itm_test";
    r.jpeg_images = std::move(jpegs);
    r.title_hint = "concert photo print";
    return r;
}

json::object record(std::string title, double confidence, bool with_query = true) {
    json::object r{{"title", std::move(title)},
                   {"brand", "Acme"},
                   {"model", "X1"},
                   {"category_path", json::array{"Art", "Photographs"}},
                   {"condition_guess", "good"},
                   {"field_confidence", {{"title", confidence}}},
                   {"price_estimate", {{"amount", 12.5}, {"currency", "USD"}}},
                   {"overall_confidence", confidence}};
    if (with_query) {
        r["search_query"] = "acme x1 print";
    }
    return r;
}

// Waits recorded instead of slept.
struct recorded_sleeps {
    std::mutex mutex;
    std::vector<milliseconds> waits;
};

asio::awaitable<void> record_sleep(std::shared_ptr<recorded_sleeps> log, milliseconds d) {
    std::lock_guard lock(log->mutex);
    log->waits.push_back(d);
    co_return;
}

// A fake, a registry and options pointing at the fake, with recorded sleeps and fixed jitter.
struct harness {
    fake_anthropic fake;
    metrics::registry registry;
    asio::io_context io;
    std::shared_ptr<recorded_sleeps> sleeps = std::make_shared<recorded_sleeps>();
    claude_options options;

    explicit harness(fakes::fake_anthropic_options fake_options = {})
        : fake(std::move(fake_options)) {
        options.api_key = clients::secret("test-key");
        options.base_url = fake.base_url();
        options.attempt_timeout = std::chrono::seconds(10);
        options.jitter = [] { return 0.5; };
        auto log = sleeps;
        options.sleep = [log](milliseconds d) { return record_sleep(log, d); };
    }

    result<pipeline::identification> identify(pipeline::identify_request r) {
        claude_vision vision(options, io.get_executor(), registry);
        return test::run_coro(io, vision.identify(std::move(r)));
    }
    result<pipeline::identification> identify() { return identify(request_for({photo().jpeg})); }
};

std::int64_t expected_cost(const fakes::received_call& call, const std::string& model) {
    pipeline::vision_usage u;
    u.input_tokens = call.usage.input_tokens;
    u.output_tokens = call.usage.output_tokens;
    u.cache_read_input_tokens = call.usage.cache_read;
    u.has_cache_creation_split = true;
    u.cache_creation_5m_tokens = call.usage.cache_write_5m;
    u.cache_creation_1h_tokens = call.usage.cache_write_1h;
    return clients::price_call(*clients::price_table::with_defaults().find(model), u).total;
}

}  // namespace

TEST_CASE("claude vision: a confident cheap answer is not escalated", "[clients]") {
    harness h;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5", record("Acme X1 print", 0.9));
    auto id = h.identify();
    REQUIRE(id);
    CHECK(id->title == "Acme X1 print");
    CHECK(id->source == "claude-haiku-4-5-20251001");
    CHECK_FALSE(id->escalated);
    CHECK(id->category == "Art > Photographs");
    REQUIRE(id->price_estimate);
    CHECK(id->price_estimate->minor == 1250);
    REQUIRE(id->calls.size() == 1);
    CHECK(id->calls[0].outcome == "ok");
    CHECK(id->calls[0].attempts == 1);
    CHECK(id->calls[0].request_id.rfind("req_", 0) == 0);
    CHECK(h.fake.paid("claude-haiku-4-5") == 1);
    CHECK(h.fake.received("claude-sonnet-4-5") == 0);

    // The cost is the price of exactly the usage the server reported.
    auto calls = h.fake.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].usage.cache_write_5m > 0);  // the system prompt was written to the cache
    CHECK(id->calls[0].usage.cache_creation_input_tokens == calls[0].usage.cache_write_5m);
    CHECK(id->cost_micros == expected_cost(calls[0], "claude-haiku-4-5"));
    CHECK(id->cost_micros > 0);
}

TEST_CASE("claude vision: once the process is stopping, a call is not sent", "[clients]") {
    harness h;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5", record("Acme X1 print", 0.9));
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    const auto now = boomer::system_clock::instance().now_ms();
    vision.stop_calls_by(now);  // the drain is over: no answer could come in time
    auto stopped = test::run_coro(h.io, vision.identify(request_for({photo().jpeg})));
    REQUIRE_FALSE(stopped);
    CHECK(stopped.error().code == pipeline::stopping_code);
    CHECK(stopped.error().retryable);
    CHECK_FALSE(stopped.error().counts_as_attempt);  // the item goes back, its attempts intact
    CHECK(h.fake.received() == 0);

    // A stop far enough away lets the call go.
    vision.stop_calls_by(now + 3'600'000);
    auto made = test::run_coro(h.io, vision.identify(request_for({photo().jpeg})));
    REQUIRE(made);
    CHECK(made->title == "Acme X1 print");
    CHECK(h.fake.paid() == 1);
}

TEST_CASE("claude vision: a call its item gave up while it waited is not sent", "[clients]") {
    // Real time: the first call takes 300 ms, and the second waits for its answer (a model's
    // calls go one at a time until it has answered once); the second's item gives it up then.
    fakes::fake_anthropic_options fake_options;
    fake_options.latency = milliseconds(300);
    harness h(fake_options);
    h.options.strong_model = "";
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    auto given_up = std::make_shared<std::atomic<bool>>(false);
    auto first = request_for({photo().jpeg});
    first.item_id = "itm_first";
    auto second = request_for({photo().jpeg});
    second.item_id = "itm_second";
    second.title_hint = "another concert print";  // not the first's call
    second.wanted = [given_up] { return !given_up->load(); };

    std::optional<result<pipeline::identification>> first_out;
    std::optional<result<pipeline::identification>> second_out;
    auto run = [&](pipeline::identify_request r, auto* out) -> asio::awaitable<void> {
        out->emplace(co_await vision.identify(std::move(r)));
    };
    asio::co_spawn(h.io, run(std::move(first), &first_out), asio::detached);
    asio::co_spawn(h.io, run(std::move(second), &second_out), asio::detached);
    asio::steady_timer give_up(h.io, milliseconds(100));
    give_up.async_wait([given_up](auto) { given_up->store(true); });
    h.io.run();

    REQUIRE(first_out);
    REQUIRE(*first_out);
    REQUIRE(second_out);
    REQUIRE_FALSE(*second_out);
    CHECK((*second_out).error().code == pipeline::abandoned_code);
    CHECK((*second_out).error().retryable);
    CHECK_FALSE((*second_out).error().counts_as_attempt);
    CHECK(h.fake.received() == 1);  // only the first call reached Claude
    CHECK(h.fake.paid() == 1);
}

TEST_CASE("claude vision: a call waiting for an identical one that was given up makes it itself",
          "[clients]") {
    // Real time, as above: a first call of its own takes 300 ms; meanwhile two identical calls
    // wait, the second for the first of them, which its item gives up at 100 ms.
    fakes::fake_anthropic_options fake_options;
    fake_options.latency = milliseconds(300);
    harness h(fake_options);
    h.options.strong_model = "";
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    auto opener = request_for({photo().jpeg});
    opener.item_id = "itm_opener";
    opener.title_hint = "another concert print";
    auto given_up = std::make_shared<std::atomic<bool>>(false);
    auto leader = request_for({photo().jpeg});
    leader.item_id = "itm_leader";
    leader.wanted = [given_up] { return !given_up->load(); };
    auto follower = request_for({photo().jpeg});
    follower.item_id = "itm_follower";

    std::map<std::string, result<pipeline::identification>> out;
    auto run = [&](pipeline::identify_request r) -> asio::awaitable<void> {
        auto id = r.item_id;
        out.emplace(id, co_await vision.identify(std::move(r)));
    };
    asio::co_spawn(h.io, run(std::move(opener)), asio::detached);
    asio::co_spawn(h.io, run(std::move(leader)), asio::detached);
    asio::co_spawn(h.io, run(std::move(follower)), asio::detached);
    asio::steady_timer give_up(h.io, milliseconds(100));
    give_up.async_wait([given_up](auto) { given_up->store(true); });
    h.io.run();

    REQUIRE(out.size() == 3);
    REQUIRE_FALSE(out.at("itm_leader"));
    CHECK(out.at("itm_leader").error().code == pipeline::abandoned_code);
    REQUIRE(out.at("itm_follower"));  // it made the call the leader gave up
    CHECK(out.at("itm_follower")->calls.at(0).outcome == "ok");
    CHECK(h.fake.received() == 2);
}

TEST_CASE("claude vision: low confidence escalates to the strong model", "[clients]") {
    harness h;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5", record("Some print", 0.4));
    h.fake.add_fixture(photo().sha256, "claude-sonnet-4-5", record("Acme X1 signed print", 0.92));
    auto id = h.identify();
    REQUIRE(id);
    CHECK(id->title == "Acme X1 signed print");
    CHECK(id->source == "claude-sonnet-4-5-20250929");
    CHECK(id->escalated);
    CHECK(id->confidence == Approx(0.92));
    REQUIRE(id->calls.size() == 2);
    CHECK(id->calls[0].confidence == Approx(0.4));
    CHECK(h.fake.paid("claude-haiku-4-5") == 1);
    CHECK(h.fake.paid("claude-sonnet-4-5") == 1);
    CHECK(h.fake.received() == 2);

    auto calls = h.fake.calls();
    CHECK(id->calls[0].cost_micros == expected_cost(calls[0], "claude-haiku-4-5"));
    CHECK(id->calls[1].cost_micros == expected_cost(calls[1], "claude-sonnet-4-5"));
    CHECK(id->cost_micros == id->calls[0].cost_micros + id->calls[1].cost_micros);

    auto text = h.registry.render();
    CHECK(has_line(text, "boomer_vision_escalations_total 1"));
    CHECK(has_line(text, R"(boomer_vision_calls_total{model="claude-haiku-4-5",outcome="ok"} 1)"));
    CHECK(has_line(text, R"(boomer_vision_calls_total{model="claude-sonnet-4-5",outcome="ok"} 1)"));
    CHECK(has_line(text, R"(boomer_vision_tokens_total{model="claude-sonnet-4-5",kind="output"} )" +
                             std::to_string(calls[1].usage.output_tokens)));
    CHECK(text.find(R"(boomer_vision_cost_dollars_total{model="claude-haiku-4-5",)"
                    R"(kind="cache_write_5m"})") != std::string::npos);
    CHECK(has_line(
        text,
        R"(boomer_anthropic_ratelimit_limit{model="claude-haiku-4-5",resource="requests"} 4000)"));
    CHECK(text.find(R"(boomer_vision_request_seconds_count{model="claude-sonnet-4-5"} 1)") !=
          std::string::npos);
}

TEST_CASE("claude vision: a missing required field escalates even when confident", "[clients]") {
    harness h;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5", record("Acme print", 0.95, false));
    h.fake.add_fixture(photo().sha256, "claude-sonnet-4-5", record("Acme X1 print", 0.8));
    auto id = h.identify();
    REQUIRE(id);
    CHECK(id->escalated);
    CHECK(id->search_query == "acme x1 print");
    CHECK(h.fake.paid("claude-sonnet-4-5") == 1);
}

TEST_CASE("claude vision: a failing strong model leaves the cheap answer", "[clients]") {
    harness h;
    h.options.max_attempts = 1;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5", record("Some print", 0.5));
    auto overloaded = injected_error::overloaded();
    overloaded.model = "claude-sonnet-4-5";
    h.fake.inject(overloaded);
    auto id = h.identify();
    REQUIRE(id);
    CHECK(id->title == "Some print");
    CHECK(id->escalated);
    CHECK(id->escalation_outcome == "fallback");
    CHECK(id->escalation_reason == "vision_overloaded");
    REQUIRE(id->calls.size() == 2);
    CHECK(id->calls[1].outcome == "vision_overloaded");
    CHECK(id->calls[1].cost_micros == 0);
    CHECK(id->cost_micros == id->calls[0].cost_micros);
}

TEST_CASE("claude vision: with no strong model, an unsure answer stands", "[clients]") {
    harness h;
    h.options.strong_model = "";
    auto id = h.identify();  // no fixture: the fake's low-confidence record
    REQUIRE(id);
    CHECK_FALSE(id->escalated);
    CHECK(id->confidence < 0.5);
    CHECK(h.fake.received() == 1);
}

TEST_CASE("claude vision: a 529 then success retries once after a jittered wait", "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.fake.inject(injected_error::overloaded());
    auto id = h.identify();
    REQUIRE(id);
    CHECK(id->calls[0].attempts == 2);
    CHECK(h.fake.received() == 2);
    CHECK(h.fake.paid() == 1);
    REQUIRE(h.sleeps->waits.size() == 1);
    CHECK(h.sleeps->waits[0] == milliseconds(250));  // jitter 0.5 × the 500 ms first step
    CHECK(has_line(
        h.registry.render(),
        R"(boomer_vision_errors_total{model="claude-haiku-4-5",type="overloaded_error"} 1)"));
    CHECK(has_line(h.registry.render(),
                   R"(boomer_vision_retries_total{model="claude-haiku-4-5"} 1)"));
}

TEST_CASE("claude vision: backoff doubles up to the cap, then the call fails retryably",
          "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.options.max_attempts = 4;
    h.options.backoff_cap = milliseconds(1500);
    for (int i = 0; i < 4; ++i) {
        h.fake.inject(injected_error::rate_limited(std::nullopt));  // no retry-after: backoff
    }
    auto id = h.identify();
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_rate_limited");
    CHECK(id.error().retryable);
    CHECK(h.fake.received() == 4);
    CHECK(h.fake.paid() == 0);
    CHECK(h.sleeps->waits ==
          std::vector<milliseconds>{milliseconds(250), milliseconds(500), milliseconds(750)});
}

TEST_CASE("claude vision: a 429 with retry-after: 1 waits at least a second", "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.options.sleep = nullptr;  // real timers
    h.fake.inject(injected_error::rate_limited(1));
    auto id = h.identify();
    REQUIRE(id);
    auto calls = h.fake.calls();
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].status == 429);
    CHECK(calls[1].status == 200);
    CHECK(calls[1].at - calls[0].at >= milliseconds(1000));
}

TEST_CASE("claude vision: a retry-after beyond the bound is not waited for", "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.options.max_retry_after = milliseconds(2000);
    h.fake.inject(injected_error::rate_limited(30));
    auto id = h.identify();
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_rate_limited");
    CHECK(id.error().retryable);
    CHECK(id.error().message.find("wait 30 s") != std::string::npos);
    // The job's own retry must wait as long as Claude asked.
    CHECK(id.error().retry_after_ms == 30'000);
    CHECK(h.fake.received() == 1);
    CHECK(h.sleeps->waits.empty());
}

TEST_CASE("claude vision: x-should-retry false stops retries", "[clients]") {
    harness h;
    auto e = injected_error::rate_limited(1);
    e.should_retry = false;
    h.fake.inject(e);
    auto id = h.identify();
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_rate_limited");
    CHECK_FALSE(id.error().retryable);
    CHECK(h.fake.received() == 1);
}

TEST_CASE("claude vision: a 400 is not retried and not escalated", "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.models = fakes::default_fake_models();
    fake_options.models[0].max_output_tokens = 1000;  // below the client's max_tokens
    harness h(fake_options);
    auto id = h.identify();
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_bad_request");
    CHECK_FALSE(id.error().retryable);
    CHECK(id.error().message.find("max_tokens: 2048 > 1000") != std::string::npos);
    CHECK(h.fake.received() == 1);
    CHECK(h.sleeps->waits.empty());
}

TEST_CASE("claude vision: a wrong key fails permanently", "[clients]") {
    harness h;
    h.options.api_key = clients::secret("wrong-key");
    auto id = h.identify();
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_auth");
    CHECK_FALSE(id.error().retryable);
    CHECK(id.error().message.find("wrong-key") == std::string::npos);
    CHECK(h.fake.received() == 1);
}

TEST_CASE("claude vision: a slow answer times out per attempt, retryably", "[clients]") {
    fakes::fake_anthropic_options fake_options;
    fake_options.latency = milliseconds(400);
    harness h(fake_options);
    h.options.strong_model = "";
    h.options.attempt_timeout = milliseconds(100);
    h.options.max_attempts = 2;
    auto id = h.identify();
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_timeout");
    CHECK(id.error().retryable);
    CHECK(h.sleeps->waits.size() == 1);
}

TEST_CASE("claude vision: an unreachable server is a retryable failure that spends no attempt",
          "[clients]") {
    harness h;
    asio::ip::tcp::acceptor probe(h.io, {asio::ip::make_address("127.0.0.1"), 0});
    h.options.base_url = "http://127.0.0.1:" + std::to_string(probe.local_endpoint().port());
    probe.close();
    h.options.max_attempts = 1;
    auto id = h.identify();
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_unreachable");
    CHECK(id.error().retryable);
    // No connection, so Claude was asked nothing: an outage fails no item.
    CHECK_FALSE(id.error().counts_as_attempt);
}

TEST_CASE("claude vision: an item without photos is refused before any call", "[clients]") {
    harness h;
    auto id = h.identify(request_for({}));
    REQUIRE_FALSE(id);
    CHECK(id.error().code == "vision_no_images");
    CHECK_FALSE(id.error().retryable);
    CHECK(h.fake.received() == 0);
}

TEST_CASE("claude vision: the second item reads the cached system prompt", "[clients]") {
    harness h;
    h.options.strong_model = "";
    auto first = h.identify();
    auto second = h.identify();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->calls[0].usage.cache_creation_input_tokens > 0);
    CHECK(second->calls[0].usage.cache_read_input_tokens ==
          first->calls[0].usage.cache_creation_input_tokens);
    CHECK(second->cost_micros < first->cost_micros);
}

TEST_CASE("claude vision: every test photo is accepted after normalization", "[clients]") {
    harness h;
    h.options.strong_model = "";
    std::vector<std::string> all;
    for (const auto& entry : std::filesystem::directory_iterator(test::data_dir() / "images")) {
        auto ext = entry.path().extension().string();
        if (ext != ".jpg" && ext != ".png" && ext != ".webp") {
            continue;
        }
        INFO(entry.path().filename().string());
        auto normalized = image::normalize(test::read_file(entry.path()));
        REQUIRE(normalized);
        auto id = h.identify(request_for({normalized->jpeg}));
        REQUIRE(id);
        CHECK(id->calls[0].usage.input_tokens > 0);
        all.push_back(normalized->jpeg);
    }
    REQUIRE(all.size() >= 9);
    CHECK(h.fake.paid() == all.size());

    auto together = h.identify(request_for(all));  // one item, every photo
    REQUIRE(together);
    CHECK(h.fake.paid() == all.size() + 1);
}

TEST_CASE("claude options: read from the environment and checked", "[clients]") {
    std::map<std::string, std::string, std::less<>> env{
        {"ANTHROPIC_API_KEY", "sk-test-123"},
        {"ANTHROPIC_BASE_URL", "http://127.0.0.1:9999"},
        {"BOOMER_CLAUDE_ESCALATE_BELOW", "0.6"},
        {"BOOMER_CLAUDE_STRONG_MODEL", "claude-sonnet-5"},
        {"BOOMER_CLAUDE_PRICES", "claude-sonnet-5=2/10"},
        {"BOOMER_CLAUDE_CACHE_TTL", "1h"}};
    auto lookup = [&env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto o = clients::claude_options_from_env(lookup);
    REQUIRE(o);
    CHECK(o->api_key.reveal() == "sk-test-123");
    CHECK(o->base_url == "http://127.0.0.1:9999");
    CHECK(o->escalation_threshold == 0.6);
    CHECK(o->cheap_model == "claude-haiku-4-5");
    CHECK(o->prices.find("claude-sonnet-5")->input == 2'000'000);
    CHECK(o->cache_ttl == "1h");

    std::ostringstream printed;
    printed << o->api_key;
    CHECK(printed.str() == "[redacted]");

    auto fails_with = [&](const std::string& name, const std::string& value) {
        auto saved = env;
        env[name] = value;
        auto r = clients::claude_options_from_env(lookup);
        env = saved;
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "bad_config");
        return r.error().message;
    };
    CHECK(fails_with("ANTHROPIC_API_KEY", "").find("ANTHROPIC_API_KEY") != std::string::npos);
    CHECK(fails_with("BOOMER_CLAUDE_ESCALATE_BELOW", "high").find("0 to 1") != std::string::npos);
    CHECK(fails_with("BOOMER_CLAUDE_ESCALATE_BELOW", "1.5").find("0 to 1") != std::string::npos);
    CHECK(fails_with("BOOMER_CLAUDE_MODEL", "claude-unknown").find("price") != std::string::npos);
    CHECK(fails_with("ANTHROPIC_BASE_URL", "ftp://x").find("ANTHROPIC_BASE_URL") !=
          std::string::npos);
    CHECK(fails_with("BOOMER_CLAUDE_CACHE_TTL", "2h").find("5m or 1h") != std::string::npos);
    CHECK(fails_with("BOOMER_CLAUDE_PRICES", "x=1").find("BOOMER_CLAUDE_PRICES") !=
          std::string::npos);
    CHECK(fails_with("BOOMER_CLAUDE_MAX_ATTEMPTS", "0").find("1 to 10") != std::string::npos);

    metrics::registry registry;
    asio::io_context io;
    claude_options no_key;
    CHECK_THROWS_AS(claude_vision(no_key, io.get_executor(), registry), std::invalid_argument);
}

TEST_CASE("claude vision: concurrent items on two threads share one client", "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.fake.set_latency(milliseconds(50));
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<std::optional<result<pipeline::identification>>> results(6);
    std::atomic<int> errors{0};
    int n = 0;
    for (auto& slot : results) {
        auto r = request_for({photo().jpeg});
        r.title_hint += " " + std::to_string(++n);  // six calls, not one shared
        asio::co_spawn(h.io, test::detail::store_result(vision.identify(std::move(r)), &slot),
                       [&errors](std::exception_ptr e) { errors += e ? 1 : 0; });
    }
    std::thread second([&h] { h.io.run(); });
    h.io.run();
    second.join();
    CHECK(errors == 0);
    for (const auto& r : results) {
        REQUIRE(r);
        CHECK(r->has_value());
    }
    CHECK(h.fake.paid() == 6);
}

TEST_CASE("claude vision: without an answer store identical calls together are made once",
          "[clients]") {
    harness h;  // no answer store: answers are not kept
    h.options.strong_model = "";
    h.fake.set_latency(milliseconds(200));
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<std::optional<result<pipeline::identification>>> results(5);
    int n = 0;
    for (auto& slot : results) {
        auto r = request_for({photo().jpeg});
        r.item_id = "itm_" + std::to_string(++n);
        asio::co_spawn(h.io, test::detail::store_result(vision.identify(std::move(r)), &slot),
                       asio::detached);
    }
    h.io.run();
    CHECK(h.fake.received() == 1);
    int paid = 0;
    int shared = 0;
    for (const auto& r : results) {
        REQUIRE(r);
        REQUIRE(r->has_value());
        const auto& call = (*r)->calls.at(0);
        paid += call.outcome == "ok" && (*r)->cost_micros > 0 ? 1 : 0;
        shared += call.outcome == "cached" && (*r)->cost_micros == 0 ? 1 : 0;
    }
    CHECK(paid == 1);  // the item that made the call pays it; the others shared it, free
    CHECK(shared == 4);

    // Nothing outlives the call: the same request later is made again.
    h.io.restart();
    auto again = test::run_coro(h.io, vision.identify(request_for({photo().jpeg})));
    REQUIRE(again);
    CHECK(again->calls.at(0).outcome == "ok");
    CHECK(h.fake.received() == 2);
}

TEST_CASE("claude vision: cancelling the caller ends a call in flight", "[clients]") {
    harness h;
    h.fake.set_latency(milliseconds(1500));
    claude_vision vision(h.options, h.io.get_executor(), h.registry);
    asio::cancellation_signal cancel;
    std::optional<result<pipeline::identification>> slot;
    std::exception_ptr error;
    bool finished = false;
    asio::co_spawn(h.io,
                   test::detail::store_result(vision.identify(request_for({photo().jpeg})), &slot),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) {
                       error = e;
                       finished = true;
                   }));
    asio::steady_timer soon(h.io, milliseconds(100));
    soon.async_wait(
        [&cancel](boost::system::error_code) { cancel.emit(asio::cancellation_type::terminal); });
    auto start = std::chrono::steady_clock::now();
    h.io.run();
    CHECK(finished);
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(1000));
    CHECK_FALSE(slot.has_value());
    REQUIRE(error);
    CHECK_THROWS_AS(std::rethrow_exception(error), boost::system::system_error);
}
