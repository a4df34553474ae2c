// The whole service against the strict fake Anthropic API: real photos identified by Claude,
// escalation when the cheap model is unsure, each item's cost exact to the micro-dollar (computed
// here from the usage the fake reported, at the published prices), and each class of upstream
// error seen end to end: what the item shows, whether the call was retried and how long it waited.
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "pipeline/image/analyze.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace boomer::test;
namespace json = boost::json;

namespace {

scoped_env claude_env(const fakes::fake_anthropic& fake, const std::string& key = "test-key") {
    return scoped_env({{"ANTHROPIC_API_KEY", key}, {"ANTHROPIC_BASE_URL", fake.base_url()}});
}

const char* const camera_photo = "orientation-1-landscape.jpg";

upload jpeg(const std::string& name) {
    return {"photo", name, read_file(data_dir() / "images" / name), "image/jpeg"};
}

// The SHA-256 of the normalized JPEG the service sends for `name` (the fake's fixture key).
std::string normalized_sha256(const std::string& name) {
    image::normalize_limits limits;
    limits.max_pixels = 50'000'000;  // the service's default --max-megapixels
    auto done = image::process(read_file(data_dir() / "images" / name), limits);
    REQUIRE(done);
    return done->image.sha256;
}

json::object record(std::string title, double confidence) {
    return {{"title", std::move(title)},
            {"brand", "Canon"},
            {"model", "AE-1 Program"},
            {"category_path", json::array{"Cameras & Photo", "Film Photography", "Film Cameras"}},
            {"condition_guess", "used"},
            {"color", "black"},
            {"search_query", "canon ae-1 program 35mm slr"},
            {"price_estimate", {{"amount", 149.0}, {"currency", "USD"}}},
            {"overall_confidence", confidence}};
}

std::vector<std::string> sample_sales() {
    return {"--sales-csv", (source_dir() / "examples/sales/ebay-orders-sample.csv").string()};
}

// The cost of one call from the usage the fake reported, at the published per-million-token
// prices in dollars (input, output; cache writes 1.25x and 2x input, reads 0.1x input), in
// pico-dollars first and rounded half up to micro-dollars once.
std::int64_t hand_cost(const fakes::fake_usage& u, std::int64_t input_usd,
                       std::int64_t output_usd) {
    std::int64_t pico =
        u.input_tokens * input_usd * 1'000'000 + u.cache_write_5m * input_usd * 1'250'000 +
        u.cache_write_1h * input_usd * 2'000'000 + u.cache_read * input_usd * 100'000 +
        u.output_tokens * output_usd * 1'000'000;
    return (pico + 500'000) / 1'000'000;
}

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

struct submitted {
    json::object job;
    json::object item;
};

submitted submit_and_wait(api_client& api, const std::vector<upload>& photos,
                          const std::vector<std::pair<std::string, std::string>>& fields = {}) {
    auto res = api.post_item(photos, fields);
    REQUIRE(res);
    REQUIRE(res->status == 202);
    auto receipt = parse_object(res->body);
    submitted out;
    out.job = api.wait_final(str(receipt.at("job_id")));
    out.item = parse_object(api.get("/v1/items/" + str(receipt.at("item_id")))->body);
    return out;
}

// The fake (started first, so the service can reach it) and one service pointed at it.
struct claude_service {
    fakes::fake_anthropic fake;
    temp_dir dir;
    std::optional<service_process> svc;
    std::optional<api_client> api;

    // start runs the service with `key` as its ANTHROPIC_API_KEY, the sample sales history and
    // `args`.
    void start(const std::string& key = "test-key", const std::vector<std::string>& args = {}) {
        auto env = claude_env(fake, key);
        auto all = sample_sales();
        all.insert(all.end(), args.begin(), args.end());
        svc.emplace(dir.path(), all);
        api.emplace(svc->port());
    }

    // A confident Haiku answer for the camera photo.
    void confident_camera() {
        fake.add_fixture(normalized_sha256(camera_photo), "claude-haiku-4-5",
                         record("Canon AE-1 Program 35mm SLR Film Camera", 0.92));
    }

    submitted camera_item() { return submit_and_wait(*api, {jpeg(camera_photo)}); }
};

}  // namespace

TEST_CASE("service with Claude: a confident answer prices the item, its cost is exact", "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.start();

    auto done = t.camera_item();
    CHECK(str(done.job.at("state")) == "succeeded");
    const auto& id = done.item.at("identification").as_object();
    CHECK(str(id.at("title")) == "Canon AE-1 Program 35mm SLR Film Camera");
    CHECK(str(id.at("source")) == "claude-haiku-4-5-20251001");
    CHECK(id.at("escalated") == false);
    CHECK(str(id.at("color")) == "black");
    CHECK(id.at("category_path").as_array().size() == 3);
    CHECK(id.at("price_estimate").at("minor") == 14900);
    CHECK(done.item.at("price").at("count").as_int64() >= 1);  // comps found by the model's title

    REQUIRE(t.fake.paid() == 1);
    auto calls = t.fake.calls();
    std::int64_t expected = hand_cost(calls[0].usage, 1, 5);  // Haiku 4.5: $1 / $5 per MTok
    CHECK(expected > 0);
    CHECK(id.at("cost_micros").as_int64() == expected);
    CHECK(done.item.at("cost").at("total_micros").as_int64() == expected);
    CHECK(done.item.at("cost").at("vision_calls_paid") == 1);
    const auto& call = id.at("calls").at(0);
    CHECK(call.at("usage").at("output_tokens").as_int64() == calls[0].usage.output_tokens);
    CHECK(call.at("usage").at("cache_creation").at("ephemeral_5m_input_tokens").as_int64() ==
          calls[0].usage.cache_write_5m);
    CHECK(str(call.at("request_id")).rfind("req_", 0) == 0);
}

TEST_CASE("service with Claude: an unsure answer escalates, both calls are paid and summed",
          "[e2e]") {
    claude_service t;
    const auto sha = normalized_sha256(camera_photo);
    t.fake.add_fixture(sha, "claude-haiku-4-5", record("Film camera", 0.35));
    t.fake.add_fixture(sha, "claude-sonnet-4-5",
                       record("Canon AE-1 Program 35mm SLR Film Camera", 0.9));
    t.start();

    auto done = t.camera_item();
    CHECK(str(done.job.at("state")) == "succeeded");
    const auto& id = done.item.at("identification").as_object();
    CHECK(id.at("escalated") == true);
    CHECK(str(id.at("source")) == "claude-sonnet-4-5-20250929");
    REQUIRE(id.at("calls").as_array().size() == 2);

    REQUIRE(t.fake.paid("claude-haiku-4-5") == 1);
    REQUIRE(t.fake.paid("claude-sonnet-4-5") == 1);
    auto calls = t.fake.calls();
    REQUIRE(calls.size() == 2);
    std::int64_t haiku = hand_cost(calls[0].usage, 1, 5);
    std::int64_t sonnet = hand_cost(calls[1].usage, 3, 15);  // Sonnet 4.5: $3 / $15 per MTok
    CHECK(id.at("calls").at(0).at("cost_micros").as_int64() == haiku);
    CHECK(id.at("calls").at(1).at("cost_micros").as_int64() == sonnet);
    CHECK(done.item.at("cost").at("total_micros").as_int64() == haiku + sonnet);

    auto metrics = t.api->get("/metrics")->body;
    CHECK(metrics.find("boomer_vision_escalations_total 1") != std::string::npos);
}

TEST_CASE("service with Claude: a 529 is retried at once by the client, the item succeeds",
          "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.fake.inject(fakes::injected_error::overloaded());
    t.start();

    auto done = t.camera_item();
    CHECK(str(done.job.at("state")) == "succeeded");
    CHECK(done.job.at("attempts") == 1);  // retried inside the call, not by the queue
    const auto& call = done.item.at("identification").at("calls").at(0);
    CHECK(call.at("attempts") == 2);
    CHECK(str(call.at("outcome")) == "ok");
    CHECK(t.fake.received() == 2);
    CHECK(t.fake.paid() == 1);
    CHECK(t.api->get("/metrics")
              ->body.find(R"(boomer_vision_errors_total{model="claude-haiku-4-5",)"
                          R"(type="overloaded_error"} 1)") != std::string::npos);
}

TEST_CASE("service with Claude: a 429 with retry-after is waited for, not hammered", "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.fake.inject(fakes::injected_error::rate_limited(1));
    t.start();

    auto done = t.camera_item();
    CHECK(str(done.job.at("state")) == "succeeded");
    const auto& call = done.item.at("identification").at("calls").at(0);
    CHECK(call.at("attempts") == 2);
    CHECK(call.at("latency_ms").as_int64() >= 1000);
    auto seen = t.fake.calls();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].status == 429);
    CHECK(seen[1].at - seen[0].at >= std::chrono::milliseconds(1000));
}

TEST_CASE("service with Claude: a refused API key fails the item; fixed, a retry identifies it",
          "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.start("wrong-key");

    auto done = t.camera_item();
    CHECK(str(done.job.at("state")) == "failed");
    CHECK(done.job.at("attempts") == 1);
    const auto& error = done.item.at("error");
    CHECK(str(error.at("code")) == "vision_auth");
    const auto item_id = str(done.item.at("item_id"));
    CHECK_THAT(str(error.at("message")), Catch::Contains("ANTHROPIC_API_KEY") &&
                                             Catch::Contains("/v1/items/" + item_id + "/retry"));
    CHECK(done.item.at("identification").is_null());  // nothing kept to stand in the retry's way
    CHECK(t.fake.received() == 1);                    // permanent: neither retried nor escalated
    CHECK(t.fake.paid() == 0);
    CHECK(done.item.at("cost").at("total_micros") == 0);

    // The operator sets the right key and restarts; the item is retried.
    t.svc.reset();
    t.start();
    REQUIRE(t.api->post("/v1/items/" + item_id + "/retry")->status == 202);
    auto job = t.api->wait_final(str(done.job.at("job_id")));
    CHECK(str(job.at("state")) == "succeeded");
    auto item = parse_object(t.api->get("/v1/items/" + item_id)->body);
    CHECK(str(item.at("identification").at("title")) == "Canon AE-1 Program 35mm SLR Film Camera");
    CHECK(t.fake.received() == 2);
    CHECK(t.fake.paid() == 1);
}

TEST_CASE(
    "service with Claude: a refused key with a title hint goes on without Claude; fixed, "
    "a retry asks Claude",
    "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.start("wrong-key");

    // The seller's hint identifies the item: it is priced from it, and the refusal is noted.
    auto done = submit_and_wait(*t.api, {jpeg(camera_photo)},
                                {{"title_hint", "Canon AE-1 Program 35mm camera"}});
    CHECK(str(done.job.at("state")) != "failed");
    const auto& id = done.item.at("identification").as_object();
    CHECK(str(id.at("source")) == "title_hint");
    CHECK(str(id.at("vision_error").at("code")) == "vision_auth");
    const auto item_id = str(done.item.at("item_id"));
    CHECK_THAT(str(id.at("vision_error").at("message")),
               Catch::Contains("/v1/items/" + item_id + "/retry"));
    CHECK(t.fake.received() == 1);
    CHECK(t.fake.paid() == 0);

    // An item that finished without such a refusal is not retried.
    t.svc.reset();
    t.start();
    auto plain = submit_and_wait(*t.api, {jpeg(camera_photo)});
    CHECK(str(plain.job.at("state")) == "succeeded");
    CHECK(t.fake.paid() == 1);
    auto refused = t.api->post("/v1/items/" + str(plain.item.at("item_id")) + "/retry");
    REQUIRE(refused);
    CHECK(refused->status == 409);
    CHECK_THAT(refused->body, Catch::Contains("not-retryable"));

    // With the right key, the first item's retry identifies it with Claude (a call of its
    // own: its hint makes another request than the plain item's) and prices it again.
    REQUIRE(t.api->post("/v1/items/" + item_id + "/retry")->status == 202);
    auto job = t.api->wait_final(str(done.job.at("job_id")));
    CHECK(str(job.at("state")) == "succeeded");
    auto item = parse_object(t.api->get("/v1/items/" + item_id)->body);
    const auto& again = item.at("identification").as_object();
    CHECK(str(again.at("title")) == "Canon AE-1 Program 35mm SLR Film Camera");
    CHECK_FALSE(again.contains("vision_error"));
    CHECK(str(item.at("listing").at("title")).find("Canon AE-1") != std::string::npos);
    CHECK(t.fake.received() == 3);  // the refused call, the plain item's, the retry's
    CHECK(t.fake.paid() == 2);
}

TEST_CASE("service with Claude: a long retry-after puts the item back in the queue", "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.fake.inject(fakes::injected_error::rate_limited(3));  // beyond the client's 1 s bound
    scoped_env bound(std::vector<std::pair<std::string, std::string>>{
        {"BOOMER_CLAUDE_MAX_RETRY_AFTER_MS", "1000"}});
    t.start();

    auto done = t.camera_item();
    CHECK(str(done.job.at("state")) == "succeeded");
    // The queue retried the item (two calls), and the 429 spent none of its attempts, as the
    // retry's log line says.
    CHECK(done.job.at("attempts") == 1);
    CHECK_THAT(t.svc->log_text(), Catch::Contains("\"error_code\":\"vision_rate_limited\""));
    CHECK_THAT(t.svc->log_text(), Catch::Contains("\"attempt\":1,\"attempt_spent\":false"));
    CHECK(t.fake.received() == 2);
    CHECK(t.fake.paid() == 1);
    // ...and not before the wait Claude asked for.
    auto calls = t.fake.calls();
    REQUIRE(calls.size() == 2);
    CHECK(calls[1].at - calls[0].at >= std::chrono::milliseconds(3000));
}

TEST_CASE("service with Claude: a job shows why it waits while queued, not once it runs again",
          "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.fake.inject(fakes::injected_error::rate_limited(2));  // beyond the client's 1 s bound
    t.fake.set_latency(std::chrono::milliseconds(800));     // each attempt is seen running
    scoped_env bound(std::vector<std::pair<std::string, std::string>>{
        {"BOOMER_CLAUDE_MAX_RETRY_AFTER_MS", "1000"}});
    t.start();

    auto res = t.api->post_item({jpeg(camera_photo)});
    REQUIRE(res);
    REQUIRE(res->status == 202);
    const auto job_path = "/v1/jobs/" + str(parse_object(res->body).at("job_id"));
    bool waited = false;    // seen queued with the 429 as its reason
    int running_again = 0;  // reads of the job running after that
    std::string final_state;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (final_state.empty() && std::chrono::steady_clock::now() < give_up) {
        auto job = parse_object(t.api->get(job_path)->body);
        const auto state = str(job.at("state"));
        if (state == "queued" && job.at("error").is_object()) {
            CHECK(str(job.at("error").at("code")) == "vision_rate_limited");
            waited = true;
        } else if (state == "running" && waited) {
            ++running_again;
            CHECK(job.at("error").is_null());
        } else if (state != "queued" && state != "running") {
            final_state = state;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(final_state == "succeeded");
    CHECK(waited);
    CHECK(running_again > 0);
    CHECK(t.fake.received() == 2);
}

TEST_CASE("service with Claude: the same photo again is not paid again, not even after a restart",
          "[e2e]") {
    // Without near-duplicate reuse, which would otherwise lend the first item's identification
    // before the exact answer is even looked up (tests/e2e/near_duplicate_test.cpp).
    const std::vector<std::string> exact_only{"--near-duplicate-distance=0"};
    claude_service t;
    t.confident_camera();
    t.start("test-key", exact_only);

    auto first = t.camera_item();
    CHECK(str(first.job.at("state")) == "succeeded");
    CHECK(first.item.at("cost").at("vision_calls_paid") == 1);
    REQUIRE(t.fake.paid() == 1);

    auto again = t.camera_item();
    CHECK(str(again.job.at("state")) == "succeeded");
    CHECK(str(again.item.at("identification").at("calls").at(0).at("outcome")) == "cached");
    CHECK(again.item.at("cost").at("total_micros") == 0);
    CHECK(again.item.at("cost").at("vision_answers_reused") == 1);

    // The answer lives in the database, not in the process.
    t.svc->terminate();
    t.start("test-key", exact_only);
    auto after_restart = t.camera_item();
    CHECK(str(after_restart.job.at("state")) == "succeeded");
    CHECK(after_restart.item.at("cost").at("total_micros") == 0);
    CHECK(t.fake.paid() == 1);
    CHECK(t.fake.received() == 1);
}

TEST_CASE("service with Claude: 100 identical items submitted at once make one vision call",
          "[e2e]") {
    std::vector<std::string> args;
    SECTION("by the answer's single flight") {
        args = {"--near-duplicate-distance=0"};
    }
    SECTION("with near-duplicate reuse on") {}
    claude_service t;
    t.confident_camera();
    t.fake.set_latency(std::chrono::milliseconds(1500));  // the first call is long in flight
    t.start("test-key", args);

    constexpr int items = 100;
    constexpr int threads = 10;
    std::mutex mutex;
    std::vector<std::string> jobs;
    std::vector<std::string> errors;
    std::vector<std::thread> submitters;
    for (int k = 0; k < threads; ++k) {
        submitters.emplace_back([&] {
            api_client api(t.svc->port());
            for (int i = 0; i < items / threads; ++i) {
                auto res = api.post_item({jpeg(camera_photo)});
                std::lock_guard lock(mutex);
                if (!res || res->status != 202) {
                    errors.push_back(res ? std::to_string(res->status) + " " + res->body
                                         : "no answer");
                    continue;
                }
                jobs.push_back(str(parse_object(res->body).at("job_id")));
            }
        });
    }
    for (auto& s : submitters) {
        s.join();
    }
    CHECK(errors == std::vector<std::string>{});
    REQUIRE(jobs.size() == items);

    std::int64_t paid_by_items = 0;
    for (const auto& job_id : jobs) {
        auto job = t.api->wait_final(job_id);
        CHECK(str(job.at("state")) == "succeeded");
        auto item = parse_object(t.api->get("/v1/items/" + str(job.at("item_id")))->body);
        paid_by_items += item.at("cost").at("vision_calls_paid").to_number<std::int64_t>();
    }
    CHECK(t.fake.received() == 1);
    CHECK(t.fake.paid() == 1);
    CHECK(paid_by_items == 1);  // one item paid; the 99 others reused its answer
}

TEST_CASE(
    "service with Claude: a replica stopped past its leases sends no waiting call on resuming",
    "[e2e]") {
    // One call a second, from a bucket that starts empty: once a few calls are answered the
    // others wait in the first replica's rate limiter.
    fakes::fake_anthropic_options fake_options;
    fake_options.limits.requests = 60;
    fake_options.limits.start_full = 0.0;
    fake_options.default_confidence = 0.95;
    fake_options.default_price = 25.0;
    fakes::fake_anthropic fake(fake_options);
    temp_dir dir;
    auto env = claude_env(fake);
    // Both on one data folder, so one call keeper finishes a call the first had in flight when
    // it stopped and hands its answer to the second; the hints make each item's request its own.
    const std::vector<std::string> args{"--lease-seconds=2", "--near-duplicate-distance=0"};
    service_process first(dir.path(), args);
    api_client api(first.port());
    constexpr int items = 6;
    std::vector<std::string> jobs;
    for (int i = 0; i < items; ++i) {
        auto res =
            api.post_item({jpeg(camera_photo)}, {{"title_hint", "Camera " + std::to_string(i)}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        jobs.push_back(str(parse_object(res->body).at("job_id")));
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (fake.paid() < 2 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(fake.paid() >= 2);
    REQUIRE(fake.paid() < items);  // the rest wait for the limits

    // The first replica stops (as a paused container) past its leases; the second takes its
    // jobs over once they end and finishes them, each call paid once.
    // A stop that lands while the first holds the database's write lock (a heartbeat, a commit)
    // keeps the second from starting: the first then runs a moment and is stopped again.
    std::optional<service_process> second;
    for (int tries = 0; !second && tries < 5; ++tries) {
        REQUIRE(::kill(first.pid(), SIGSTOP) == 0);
        try {
            second.emplace(dir.path(), args);
        } catch (const std::exception& e) {
            REQUIRE_THAT(e.what(), Catch::Contains("database is locked"));
            REQUIRE(::kill(first.pid(), SIGCONT) == 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    REQUIRE(second);
    api_client other(second->port());
    for (const auto& job_id : jobs) {
        auto job = other.wait_final(job_id);
        CHECK(str(job.at("state")) == "succeeded");
    }
    CHECK(fake.paid() == items);

    // When the first resumes, its limiter's timers fire before its next heartbeat could say
    // the jobs are gone: the calls they let go must still not be sent.
    const auto received = fake.received();
    REQUIRE(::kill(first.pid(), SIGCONT) == 0);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(fake.received() == received);
    CHECK(fake.paid() == items);
}

TEST_CASE("service with Claude: a stronger model slower than the deadline leaves the cheap answer",
          "[e2e]") {
    claude_service t;
    const auto sha = normalized_sha256(camera_photo);
    // Unsure (below the 0.7 threshold), so the item escalates; but a complete answer.
    t.fake.add_fixture(sha, "claude-haiku-4-5",
                       record("Canon AE-1 Program 35mm SLR Film Camera", 0.5));
    t.fake.set_model_latency("claude-sonnet-4-5", std::chrono::milliseconds(2500));
    scoped_env deadline(
        std::vector<std::pair<std::string, std::string>>{{"BOOMER_CLAUDE_DEADLINE_MS", "1500"}});
    t.start();

    auto done = t.camera_item();
    CHECK(str(done.job.at("state")) == "succeeded");
    CHECK(done.job.at("attempts") == 1);  // the fallback is an answer, not a failure
    const auto& id = done.item.at("identification").as_object();
    CHECK(str(id.at("title")) == "Canon AE-1 Program 35mm SLR Film Camera");
    CHECK(str(id.at("source")) == "claude-haiku-4-5-20251001");
    CHECK(id.at("escalated") == true);
    CHECK(str(id.at("escalation").at("outcome")) == "fallback");
    CHECK(str(id.at("escalation").at("reason")) == "vision_deadline");
    REQUIRE(id.at("calls").as_array().size() == 2);
    CHECK(str(id.at("calls").at(1).at("outcome")) == "vision_deadline");
    CHECK(id.at("calls").at(1).at("latency_ms").as_int64() < 2500);  // cut, not waited out
    CHECK(done.item.at("price").at("count").as_int64() >= 1);
    CHECK(t.fake.received("claude-sonnet-4-5") == 1);

    auto metrics = t.api->get("/metrics")->body;
    CHECK(metrics.find(R"(boomer_vision_escalation_outcomes_total{outcome="fallback",)"
                       R"(reason="vision_deadline"} 1)") != std::string::npos);
}

TEST_CASE(
    "service with Claude: SIGTERM with a call still in flight past the drain ends the process",
    "[e2e]") {
    claude_service t;
    t.confident_camera();
    t.fake.set_latency(std::chrono::milliseconds(8000));
    t.start("test-key", {"--drain-seconds", "1"});
    auto res = t.api->post_item({jpeg(camera_photo)});
    REQUIRE(res);
    REQUIRE(res->status == 202);
    for (int i = 0; i < 250 && t.fake.received() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(t.fake.received() == 1);

    // The drain gives up on the call after a second; what the suspended call still holds is
    // released as the process ends, which must then exit instead of hanging or crashing.
    CHECK(t.svc->terminate(std::chrono::milliseconds(6000)) == 0);
    const auto log = t.svc->log_text();
    CHECK(log.find("\"event\":\"stopped\"") != std::string::npos);
    // The drain names the job waiting on Claude: it holds no CPU slot, but is in flight.
    CHECK(log.find("\"running\":0,\"in_flight\":1") != std::string::npos);
}
