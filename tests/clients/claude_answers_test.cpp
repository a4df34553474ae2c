// Paid answers are kept and reused: a resubmitted item pays nothing, a retried item counts what it
// paid once, calls that differ in anything that shapes the answer never share an entry, and a
// damaged entry is paid for again rather than trusted.
#include "clients/claude_answers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "clients/anthropic_messages.hpp"
#include "clients/claude_vision.hpp"
#include "pipeline/image/normalize.hpp"
#include "tests/clients/claude_support.hpp"
#include "tests/clients/support.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/paths.hpp"

using namespace boomer;
namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

const image::normalized_image& photo(const char* name = "grayscale-jpeg-concert.jpg") {
    static std::map<std::string, image::normalized_image> cache;
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    auto found = cache.find(name);
    if (found == cache.end()) {
        image::normalize_limits limits;
        limits.max_long_edge = 400;
        auto bytes = test::read_file(test::data_dir() / "images" / name);
        found = cache.emplace(name, image::normalize(bytes, limits).value()).first;
    }
    return found->second;
}

asio::awaitable<void> no_sleep(milliseconds) {
    co_return;
}

struct harness {
    fakes::fake_anthropic fake;
    metrics::registry registry;
    asio::io_context io;
    std::shared_ptr<test::memory_answers> answers = std::make_shared<test::memory_answers>();
    clients::claude_options options;

    harness() {
        options.api_key = clients::secret("test-key");
        options.base_url = fake.base_url();
        options.attempt_timeout = std::chrono::seconds(10);
        options.jitter = [] { return 0.0; };
        options.sleep = no_sleep;
        options.answers = answers;
    }

    // identify runs one identification in a fresh process (a claude_vision of its own).
    result<pipeline::identification> identify(const std::string& item_id,
                                              const std::string& image = photo().jpeg) {
        clients::claude_vision vision(options, io.get_executor(), registry);
        return identify_with(vision, item_id, image);
    }

    result<pipeline::identification> identify_with(clients::claude_vision& vision,
                                                   const std::string& item_id,
                                                   const std::string& image = photo().jpeg) {
        pipeline::identify_request r;
        r.item_id = item_id;
        r.jpeg_images = {image};
        r.title_hint = "concert photo print";
        return test::run_coro(io, vision.identify(std::move(r)));
    }
};

std::string body_for(const std::string& model, int max_tokens = 2048,
                     std::optional<double> temperature = std::nullopt,
                     const std::string& image = photo().jpeg) {
    pipeline::identify_request r;
    r.jpeg_images = {image};
    r.title_hint = "concert photo print";
    clients::identify_call_params p;
    p.model = model;
    p.max_tokens = max_tokens;
    p.temperature = temperature;
    return clients::build_identify_body(r, p);
}

}  // namespace

TEST_CASE("claude answers: a resubmitted item reuses the answer and pays nothing", "[clients]") {
    harness h;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5",
                       test::identification_record("Acme X1 print", 0.9));
    auto first = h.identify("itm_first");
    REQUIRE(first);
    REQUIRE(first->calls.size() == 1);
    CHECK(first->calls[0].outcome == "ok");
    CHECK(first->cost_micros > 0);
    CHECK(h.answers->puts == 1);

    auto again = h.identify("itm_second");
    REQUIRE(again);
    CHECK(again->title == "Acme X1 print");
    REQUIRE(again->calls.size() == 1);
    CHECK(again->calls[0].outcome == "cached");
    CHECK(again->cost_micros == 0);
    CHECK(h.fake.paid() == 1);
    CHECK(h.fake.received() == 1);
    // Each identification ran in a fresh process: the second found the answer in the store.
    const auto text = h.registry.render();
    CHECK(test::has_line(
        text, R"(boomer_cache_lookups_total{cache="vision_answers_store",outcome="hit"} 1)"));
    CHECK(test::has_line(text,
                         R"(boomer_cache_lookups_total{cache="vision_answers",outcome="miss"} 2)"));
}

TEST_CASE("claude answers: memory answers first, the store serves a fresh process", "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5",
                       test::identification_record("Acme X1 print", 0.9));
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    REQUIRE(h.identify_with(vision, "itm_a"));
    REQUIRE(h.answers->entries.size() == 1);
    CHECK(h.answers->gets == 1);

    // The stored entry is damaged behind this process's back: it answers from memory...
    h.answers->entries.begin()->second = "{damaged";
    auto again = h.identify_with(vision, "itm_b");
    REQUIRE(again);
    CHECK(again->title == "Acme X1 print");
    CHECK(again->calls[0].outcome == "cached");
    CHECK(again->cost_micros == 0);
    CHECK(h.answers->gets == 1);  // the store was not asked
    CHECK(h.fake.paid() == 1);

    // ... while a fresh process reads the store, does not trust the damaged entry, and pays.
    auto fresh = h.identify("itm_c");
    REQUIRE(fresh);
    CHECK(fresh->calls[0].outcome == "ok");
    CHECK(h.fake.paid() == 2);
    const auto text = h.registry.render();
    CHECK(test::has_line(text,
                         R"(boomer_cache_lookups_total{cache="vision_answers",outcome="hit"} 1)"));
    CHECK(test::has_line(
        text, R"(boomer_cache_lookups_total{cache="vision_answers_store",outcome="miss"} 2)"));
}

TEST_CASE("claude answers: memory holds no more answers than its cap", "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.options.answer_memory = {.max_entries = 1, .max_bytes = 1 << 20, .shards = 1};
    const auto& other = photo("orientation-1-landscape.jpg").jpeg;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5",
                       test::identification_record("Acme X1 print", 0.9));
    h.fake.add_fixture(photo("orientation-1-landscape.jpg").sha256, "claude-haiku-4-5",
                       test::identification_record("Landscape print", 0.9));
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    REQUIRE(h.identify_with(vision, "itm_a"));
    REQUIRE(h.identify_with(vision, "itm_b", other));
    CHECK(h.answers->gets == 2);

    // Memory holds the last answer only: the first comes from the store again.
    auto first = h.identify_with(vision, "itm_c");
    REQUIRE(first);
    CHECK(first->title == "Acme X1 print");
    CHECK(h.answers->gets == 3);
    auto second = h.identify_with(vision, "itm_d", other);
    REQUIRE(second);
    CHECK(second->title == "Landscape print");
    CHECK(h.answers->gets == 4);  // the first's answer took the only place in memory
    CHECK(h.fake.paid() == 2);
    CHECK(test::has_line(h.registry.render(), R"(boomer_cache_entries{cache="vision_answers"} 1)"));
}

TEST_CASE("claude answers: a retried item pays once and still counts what it paid", "[clients]") {
    harness h;
    h.options.max_attempts = 1;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5",
                       test::identification_record("Some print", 0.4));
    h.fake.add_fixture(photo().sha256, "claude-sonnet-4-5",
                       test::identification_record("Acme X1 print", 0.95));
    auto overloaded = fakes::injected_error::overloaded();
    overloaded.model = "claude-sonnet-4-5";
    h.fake.inject(overloaded);

    // First attempt: the cheap call is paid, the strong one is overloaded, so the unsure cheap
    // answer stands.
    auto first = h.identify("itm_retried");
    REQUIRE(first);
    REQUIRE(first->calls.size() == 2);
    CHECK(first->calls[1].outcome == "vision_overloaded");
    std::int64_t cheap_cost = first->calls[0].cost_micros;
    CHECK(cheap_cost > 0);

    // The same item again (a retried job): the cheap answer is not paid again but its cost is
    // this item's; the strong model is asked and paid now.
    auto second = h.identify("itm_retried");
    REQUIRE(second);
    REQUIRE(second->calls.size() == 2);
    CHECK(second->calls[0].outcome == "ok");
    CHECK(second->calls[0].cost_micros == cheap_cost);
    CHECK(second->calls[1].outcome == "ok");
    CHECK(second->title == "Acme X1 print");
    CHECK(h.fake.paid("claude-haiku-4-5") == 1);
    CHECK(h.fake.paid("claude-sonnet-4-5") == 1);
    CHECK(second->cost_micros == cheap_cost + second->calls[1].cost_micros);
}

TEST_CASE("claude answers: failures are never stored", "[clients]") {
    harness h;
    h.options.max_attempts = 1;
    h.options.strong_model = "";
    h.fake.inject(fakes::injected_error::overloaded());
    auto failed = h.identify("itm_a");
    REQUIRE_FALSE(failed);
    CHECK(h.answers->puts == 0);
    auto ok = h.identify("itm_a");
    REQUIRE(ok);
    CHECK(ok->calls[0].outcome == "ok");
    CHECK(h.fake.paid() == 1);
    CHECK(h.answers->puts == 1);
}

TEST_CASE("claude answers: a damaged entry is paid for again, not trusted", "[clients]") {
    harness h;
    h.options.strong_model = "";
    REQUIRE(h.identify("itm_a"));
    REQUIRE(h.answers->entries.size() == 1);
    h.answers->entries.begin()->second = R"({"v":1,"paid_by":"itm_a","body":"{not json"})";
    auto again = h.identify("itm_b");
    REQUIRE(again);
    CHECK(again->calls[0].outcome == "ok");
    CHECK(h.fake.paid() == 2);
    CHECK_FALSE(clients::decode_stored_answer("[]"));
    CHECK_FALSE(clients::decode_stored_answer(R"({"v":2,"paid_by":"x","body":"{}"})"));
}

TEST_CASE("claude answers: calls differing in anything that shapes the answer never share a key",
          "[clients]") {
    const auto base = clients::answer_key(body_for("claude-haiku-4-5"));
    CHECK(base.rfind("claude:", 0) == 0);
    CHECK(base == clients::answer_key(body_for("claude-haiku-4-5")));
    CHECK(base != clients::answer_key(body_for("claude-sonnet-4-5")));
    CHECK(base != clients::answer_key(body_for("claude-haiku-4-5", 1024)));
    CHECK(base != clients::answer_key(body_for("claude-haiku-4-5", 2048, 0.2)));
    CHECK(base != clients::answer_key(body_for("claude-haiku-4-5", 2048, std::nullopt,
                                               photo("orientation-1-landscape.jpg").jpeg)));
    // One image byte more is another photo.
    CHECK(base != clients::answer_key(body_for("claude-haiku-4-5", 2048, std::nullopt,
                                               photo().jpeg + std::string(1, '\0'))));
}

TEST_CASE("claude answers: the strong model's answer never fills the cheap model's entry",
          "[clients]") {
    harness h;
    h.fake.add_fixture(photo().sha256, "claude-haiku-4-5",
                       test::identification_record("Some print", 0.3));
    h.fake.add_fixture(photo().sha256, "claude-sonnet-4-5",
                       test::identification_record("Acme X1 print", 0.95));
    REQUIRE(h.identify("itm_a"));
    REQUIRE(h.answers->entries.size() == 2);
    for (const auto& [key, value] : h.answers->entries) {
        auto stored = clients::decode_stored_answer(value);
        REQUIRE(stored);
        auto reply = clients::parse_messages_reply(stored->body);
        REQUIRE(reply);
        auto expected = clients::answer_key(body_for(
            reply->model.rfind("claude-haiku", 0) == 0 ? "claude-haiku-4-5" : "claude-sonnet-4-5"));
        CHECK(key == expected);
    }
}

TEST_CASE("claude answers: identical items arriving together pay for one answer", "[clients]") {
    harness h;
    h.options.strong_model = "";
    h.fake.set_latency(std::chrono::milliseconds(100));
    clients::claude_vision vision(h.options, h.io.get_executor(), h.registry);
    std::vector<result<pipeline::identification>> got;
    auto one = [&](std::string item) -> asio::awaitable<void> {
        pipeline::identify_request r;
        r.item_id = std::move(item);
        r.jpeg_images = {photo().jpeg};
        r.title_hint = "concert photo print";
        got.push_back(co_await vision.identify(std::move(r)));
    };
    for (int i = 0; i < 20; ++i) {
        asio::co_spawn(h.io, one("itm_" + std::to_string(i)), asio::detached);
    }
    h.io.restart();
    h.io.run();
    REQUIRE(got.size() == 20);
    int paid = 0;
    int cached = 0;
    for (const auto& id : got) {
        REQUIRE(id);
        paid += id->calls[0].outcome == "ok" ? 1 : 0;
        cached += id->calls[0].outcome == "cached" ? 1 : 0;
    }
    CHECK(paid == 1);
    CHECK(cached == 19);
    CHECK(h.fake.received() == 1);
}
