// The fake Anthropic server: it refuses what the real API refuses, with the real error bodies,
// and our error reading classifies those answers; usage follows the documented accounting
// (image tokens, prompt caching with a minimum prefix and a TTL on an injected clock); rate
// limits, injected errors and the call counters behave.
#include "tests/fakes/fake_anthropic.hpp"

#include <httplib.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "clients/anthropic_messages.hpp"
#include "pipeline/image/normalize.hpp"
#include "tests/fakes/image_sniff.hpp"
#include "tests/support/paths.hpp"

using namespace boomer;
namespace json = boost::json;
using fakes::fake_anthropic;

namespace {

// A real normalized JPEG, small enough to keep requests light.
const image::normalized_image& sample_photo() {
    static const image::normalized_image photo = [] {
        image::normalize_limits limits;
        limits.max_long_edge = 400;
        auto bytes = test::read_file(test::data_dir() / "images" / "orientation-1-landscape.jpg");
        return image::normalize(bytes, limits).value();
    }();
    return photo;
}

std::string base64(std::string_view bytes) {
    // The request builder's encoding, read back out of a request it built.
    pipeline::identify_request r;
    r.jpeg_images = {std::string(bytes)};
    clients::identify_call_params p;
    p.model = "m";
    auto body = json::parse(clients::build_identify_body(r, p));
    return std::string(
        body.at("messages").at(0).at("content").at(0).at("source").at("data").as_string());
}

// The body our client sends for `photos` copies of the sample photo, as JSON to mutate.
json::object valid_body(const std::string& model = "claude-haiku-4-5", std::size_t photos = 1) {
    pipeline::identify_request r;
    r.jpeg_images.assign(photos, sample_photo().jpeg);
    r.title_hint = "landscape photo print";
    clients::identify_call_params p;
    p.model = model;
    return json::parse(clients::build_identify_body(r, p)).as_object();
}

json::object& image_source(json::object& body, std::size_t i = 0) {
    return body["messages"]
        .as_array()[0]
        .as_object()["content"]
        .as_array()[i]
        .as_object()["source"]
        .as_object();
}

struct raw_answer {
    int status = 0;
    std::string body;
    httplib::Headers headers;

    json::object json() const { return json::parse(body).as_object(); }
    std::string error_type() const {
        return std::string(json().at("error").at("type").as_string());
    }
    std::string message() const {
        return std::string(json().at("error").at("message").as_string());
    }
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

raw_answer post(const fake_anthropic& fake, const std::string& body,
                httplib::Headers headers = {{"x-api-key", "test-key"},
                                            {"anthropic-version", "2023-06-01"}},
                const std::string& content_type = "application/json") {
    httplib::Client client("127.0.0.1", fake.port());
    client.set_read_timeout(30, 0);
    auto res = client.Post("/v1/messages", headers, body, content_type.c_str());
    REQUIRE(res);
    return raw_answer{res->status, res->body, res->headers};
}

raw_answer post(const fake_anthropic& fake, const json::object& body) {
    return post(fake, json::serialize(body));
}

// How our client classifies the fake's answer.
failure classified(const raw_answer& a) {
    clients::http_response res;
    res.status = static_cast<unsigned>(a.status);
    for (const auto& [k, v] : a.headers) {
        res.headers.emplace_back(k, v);
    }
    res.body = a.body;
    return clients::classify_error(clients::parse_api_error(res.status, res.body),
                                   clients::read_response_meta(res, 0));
}

// A PNG header (signature and IHDR) declaring w×h: enough for the size checks.
std::string png_header(std::uint32_t w, std::uint32_t h) {
    std::string b("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR", 16);
    for (auto v : {w, h}) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            b += static_cast<char>((v >> shift) & 0xFF);
        }
    }
    return b + std::string("\x08\x02\0\0\0", 5);
}

void set_images(json::object& body, const std::vector<std::string>& bytes,
                const std::string& media_type) {
    auto& content = body["messages"].as_array()[0].as_object()["content"].as_array();
    json::value text = content.back();
    content.clear();
    for (const auto& b : bytes) {
        content.emplace_back(json::object{
            {"type", "image"},
            {"source", {{"type", "base64"}, {"media_type", media_type}, {"data", base64(b)}}}});
    }
    content.push_back(text);
}

}  // namespace

TEST_CASE("fake anthropic: accepts our request and answers with the tool and usage", "[clients]") {
    fake_anthropic fake;
    auto a = post(fake, valid_body());
    REQUIRE(a.status == 200);
    auto body = a.json();
    CHECK(body.at("type") == "message");
    CHECK(body.at("model") == "claude-haiku-4-5-20251001");
    CHECK(body.at("stop_reason") == "tool_use");
    CHECK(body.at("content").at(0).at("type") == "tool_use");
    CHECK(body.at("content").at(0).at("name").as_string() == clients::identify_tool_name);
    CHECK(a.header("request-id").rfind("req_", 0) == 0);
    CHECK_FALSE(a.header("anthropic-ratelimit-requests-limit").empty());

    auto reply = clients::parse_messages_reply(a.body);
    REQUIRE(reply);
    CHECK(reply->has_tool_use);
    CHECK(reply->identification.confidence < 0.5);  // no fixture: a low-confidence record
    CHECK(fake.received() == 1);
    CHECK(fake.paid("claude-haiku-4-5-20251001") == 1);
    CHECK(fake.paid("claude-sonnet-4-5") == 0);
}

TEST_CASE("fake anthropic: refuses bad headers with the real bodies", "[clients]") {
    fake_anthropic fake;
    auto body = json::serialize(valid_body());

    auto no_version = post(fake, body, {{"x-api-key", "test-key"}});
    CHECK(no_version.status == 400);
    CHECK(no_version.message() == "anthropic-version: header is required");
    CHECK(no_version.json().at("type") == "error");
    CHECK(no_version.header("x-should-retry") == "false");
    CHECK(classified(no_version).code == "vision_bad_request");
    CHECK_FALSE(classified(no_version).retryable);

    auto bad_version =
        post(fake, body, {{"x-api-key", "test-key"}, {"anthropic-version", "2024-01-01"}});
    CHECK(bad_version.message() == "anthropic-version: \"2024-01-01\" is not a valid version");

    auto no_key = post(fake, body, {{"anthropic-version", "2023-06-01"}});
    CHECK(no_key.status == 401);
    CHECK(no_key.error_type() == "authentication_error");
    CHECK(no_key.message() == "x-api-key header is required");
    CHECK(classified(no_key).code == "vision_auth");

    auto bad_key = post(fake, body, {{"x-api-key", "wrong"}, {"anthropic-version", "2023-06-01"}});
    CHECK(bad_key.message() == "invalid x-api-key");

    auto text = post(fake, body, {{"x-api-key", "test-key"}, {"anthropic-version", "2023-06-01"}},
                     "text/plain");
    CHECK(text.status == 400);
    CHECK(fake.paid() == 0);
}

TEST_CASE("fake anthropic: image bytes must be what media_type says", "[clients]") {
    fake_anthropic fake;
    auto body = valid_body();
    image_source(body)["media_type"] = "image/png";
    auto a = post(fake, body);
    CHECK(a.status == 400);
    CHECK(a.error_type() == "invalid_request_error");
    CHECK(a.message() ==
          "messages.0.content.0.image.source.base64: The image was specified using "
          "the image/png media type, but the image appears to be a image/jpeg image");
    CHECK(classified(a).code == "vision_bad_request");

    image_source(body)["media_type"] = "image/jpg";
    CHECK(post(fake, body).message() ==
          "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', "
          "'image/png', 'image/gif' or 'image/webp'");

    image_source(body)["media_type"] = "image/jpeg";
    image_source(body)["data"] = "not base64!";
    CHECK(post(fake, body).message() ==
          "messages.0.content.0.image.source.base64: invalid base64 data");

    image_source(body)["data"] = base64("plain text, not an image");
    CHECK(post(fake, body).message() == "Could not process image");
    CHECK(fake.paid() == 0);
}

TEST_CASE("fake anthropic: image size and count limits", "[clients]") {
    fake_anthropic fake;
    auto body = valid_body();

    // Over 5 MB of base64 (measured on the base64 text).
    std::string big = sample_photo().jpeg + std::string(4 * 1024 * 1024, '\0');
    image_source(body)["data"] = base64(big);
    auto too_big = post(fake, body);
    CHECK(too_big.status == 400);
    CHECK(too_big.message().find("image exceeds 5 MB maximum: ") != std::string::npos);
    CHECK(too_big.message().find(" bytes > 5242880 bytes") != std::string::npos);

    set_images(body, {png_header(9000, 100)}, "image/png");
    CHECK(post(fake, body).message() ==
          "messages.0.content.0.image.source.base64.data: At least one of the image dimensions "
          "exceed max allowed size: 8000 pixels");

    set_images(body, std::vector<std::string>(21, png_header(2100, 100)), "image/png");
    CHECK(
        post(fake, body).message().find("max allowed size for many-image requests: 2000 pixels") !=
        std::string::npos);
    set_images(body, std::vector<std::string>(21, png_header(1900, 100)), "image/png");
    CHECK(post(fake, body).status == 200);

    set_images(body, std::vector<std::string>(101, png_header(10, 10)), "image/png");
    CHECK(post(fake, body).message() == "Too much media: 0 document pages + 101 images > 100");
}

TEST_CASE("fake anthropic: model and max_tokens are checked", "[clients]") {
    fake_anthropic fake;
    auto body = valid_body();
    body["model"] = "claude-nope-1";
    auto unknown = post(fake, body);
    CHECK(unknown.status == 404);
    CHECK(unknown.error_type() == "not_found_error");
    CHECK(unknown.message() == "model: claude-nope-1");
    CHECK(classified(unknown).code == "vision_not_found");
    CHECK_FALSE(classified(unknown).retryable);

    body = valid_body();
    body["max_tokens"] = 100000;
    CHECK(post(fake, body).message() ==
          "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for "
          "claude-haiku-4-5-20251001");
    body.erase("max_tokens");
    CHECK(post(fake, body).message() == "max_tokens: Field required");

    body = valid_body("claude-sonnet-4-5-20250929");  // dated ids are accepted too
    CHECK(post(fake, body).status == 200);
    body["temperature"] = 0.2;
    body["top_p"] = 0.9;
    CHECK(post(fake, body).message().find("cannot both be specified") != std::string::npos);
}

TEST_CASE("fake anthropic: cache_control count, order and placement", "[clients]") {
    fake_anthropic fake;
    auto body = valid_body("claude-haiku-4-5", 2);
    auto& content = body["messages"].as_array()[0].as_object()["content"].as_array();
    json::object cc{{"type", "ephemeral"}};
    body["tools"].as_array()[0].as_object()["cache_control"] = cc;
    content[0].as_object()["cache_control"] = cc;
    content[1].as_object()["cache_control"] = cc;
    CHECK(post(fake, body).status == 200);  // four breakpoints with the system block

    content[2].as_object()["cache_control"] = cc;  // the fifth, on the text
    auto five = post(fake, body);
    CHECK(five.status == 400);
    CHECK(five.message() == "A maximum of 4 blocks with cache_control may be provided. Found 5.");

    body = valid_body();
    body["tools"].as_array()[0].as_object()["cache_control"] = cc;  // 5m, then 1h in system
    body["system"].as_array()[0].as_object()["cache_control"] =
        json::object{{"type", "ephemeral"}, {"ttl", "1h"}};
    CHECK(
        post(fake, body)
            .message()
            .rfind(
                "system.0.cache_control.ttl: a ttl='1h' cache_control block must not come after a "
                "ttl='5m' cache_control block.",
                0) == 0);

    body = valid_body();
    body["messages"].as_array()[0].as_object()["cache_control"] = cc;  // on the message itself
    CHECK(post(fake, body).message() == "messages.0.cache_control: Extra inputs are not permitted");

    body = valid_body();
    body["system"].as_array()[0].as_object()["cache_control"] =
        json::object{{"type", "persistent"}};
    CHECK(post(fake, body).message() == "system.0.cache_control.type: Input should be 'ephemeral'");
}

TEST_CASE("fake anthropic: roles, blocks, tools and tool_choice", "[clients]") {
    fake_anthropic fake;
    auto body = valid_body();
    body["tool_choice"] = json::object{{"type", "tool"}, {"name", "other_tool"}};
    CHECK(post(fake, body).message() ==
          "tool_choice.tool.name: Tool 'other_tool' not found in tools");

    body = valid_body();
    auto user = body["messages"].as_array()[0];
    body["messages"] = json::array{user, user};
    CHECK(post(fake, body).message().rfind("messages: roles must alternate", 0) == 0);

    body["messages"] = json::array{json::object{{"role", "assistant"}, {"content", "hi"}}};
    CHECK(post(fake, body).message() == "messages: first message must use the \"user\" role");

    body = valid_body();
    body["messages"].as_array()[0].as_object()["content"].as_array().back().as_object()["text"] =
        "";
    CHECK(post(fake, body).message() == "messages: text content blocks must be non-empty");

    body = valid_body();
    body["response_format"] = "json";
    CHECK(post(fake, body).message() == "response_format: Extra inputs are not permitted");

    body = valid_body();
    body["tools"].as_array()[0].as_object()["name"] = "has space";
    CHECK(post(fake, body).message().find("String should match pattern") != std::string::npos);

    auto not_json = post(fake, std::string("{\"model\":"));
    CHECK(not_json.status == 400);
    CHECK(not_json.error_type() == "invalid_request_error");
}

TEST_CASE("fake anthropic: a body over 32 MB gets the edge's 413 without a type", "[clients]") {
    fake_anthropic fake;
    auto a = post(fake, std::string(33 * 1024 * 1024, ' '));
    CHECK(a.status == 413);
    auto body = a.json();
    CHECK_FALSE(body.contains("type"));
    CHECK_FALSE(body.contains("request_id"));
    CHECK(body.at("error").at("type") == "request_too_large");
    CHECK(classified(a).code == "vision_request_too_large");
    CHECK_FALSE(classified(a).retryable);
}

TEST_CASE("fake anthropic: image tokens come from the JPEG's size", "[clients]") {
    fake_anthropic fake;
    auto body = valid_body("claude-sonnet-4-5");
    body.erase("system");  // no cached prefix: every token is plain input
    body["tools"].as_array()[0].as_object().erase("cache_control");
    auto a = post(fake, body);
    REQUIRE(a.status == 200);
    auto usage = a.json().at("usage");

    const auto& photo = sample_photo();
    auto& content = body["messages"].as_array()[0].as_object()["content"].as_array();
    auto text = content.back().at("text").as_string();
    auto tool = body["tools"].as_array()[0].as_object();
    auto expected = fakes::image_tokens(photo.width, photo.height) +
                    fakes::text_tokens(text.size()) +
                    fakes::text_tokens(json::serialize(tool).size()) + 346;
    CHECK(usage.at("input_tokens").to_number<std::int64_t>() == expected);
    CHECK(usage.at("cache_creation_input_tokens") == 0);
    CHECK(fakes::image_tokens(1000, 1000) == 1334);  // the documented examples
    CHECK(fakes::image_tokens(200, 200) == 54);
    CHECK(fakes::image_tokens(1092, 1092) == 1590);
    CHECK(fakes::image_tokens(4000, 3000) == 1639);  // scaled to 1280×960 first
}

namespace {

// paid_usage posts `body`, which must be answered 200, and returns the answer's usage.
pipeline::vision_usage paid_usage(const fake_anthropic& fake, const json::object& body) {
    auto a = post(fake, body);
    REQUIRE(a.status == 200);
    auto reply = clients::parse_messages_reply(a.body);
    REQUIRE(reply);
    return reply->usage;
}

}  // namespace

TEST_CASE("fake anthropic: prompt caching writes, reads within the TTL, then writes again",
          "[clients]") {
    manual_clock clock;
    fakes::fake_anthropic_options options;
    options.time = &clock;
    fake_anthropic fake(options);

    auto usage_of = [&fake](const json::object& body) { return paid_usage(fake, body); };
    auto first = usage_of(valid_body());
    CHECK(first.cache_creation_input_tokens >= 4096);  // Haiku 4.5's minimum, reached
    CHECK(first.cache_creation_5m_tokens == first.cache_creation_input_tokens);
    CHECK(first.cache_read_input_tokens == 0);

    clock.advance_ms(4 * 60 * 1000);
    auto second = usage_of(valid_body());
    CHECK(second.cache_read_input_tokens == first.cache_creation_input_tokens);
    CHECK(second.cache_creation_input_tokens == 0);
    CHECK(second.input_tokens == first.input_tokens);

    clock.advance_ms(4 * 60 * 1000);  // the read refreshed the TTL: still cached
    CHECK(usage_of(valid_body()).cache_read_input_tokens == first.cache_creation_input_tokens);

    clock.advance_ms(6 * 60 * 1000);  // expired
    auto late = usage_of(valid_body());
    CHECK(late.cache_read_input_tokens == 0);
    CHECK(late.cache_creation_input_tokens == first.cache_creation_input_tokens);

    // Caches are per model.
    auto sonnet = usage_of(valid_body("claude-sonnet-4-5"));
    CHECK(sonnet.cache_read_input_tokens == 0);
    CHECK(sonnet.cache_creation_input_tokens > 0);
}

TEST_CASE("fake anthropic: a cache entry is read only once the answer that wrote it has begun",
          "[clients]") {
    manual_clock clock;
    fakes::fake_anthropic_options options;
    options.time = &clock;
    // Slept for real: the fake's own clock stands still, as if every request below came in
    // while the first answer was still being made.
    options.latency = std::chrono::milliseconds(200);
    fake_anthropic fake(options);
    auto usage_of = [&fake](const json::object& body) { return paid_usage(fake, body); };
    auto first = usage_of(valid_body());
    REQUIRE(first.cache_creation_input_tokens >= 4096);
    // Sent before the first answer began: it cannot read the entry and pays to write it again.
    auto second = usage_of(valid_body());
    CHECK(second.cache_read_input_tokens == 0);
    CHECK(second.cache_creation_input_tokens == first.cache_creation_input_tokens);
    clock.advance_ms(199);
    CHECK(usage_of(valid_body()).cache_read_input_tokens == 0);
    clock.advance_ms(1);  // the first answer has begun
    auto later = usage_of(valid_body());
    CHECK(later.cache_read_input_tokens == first.cache_creation_input_tokens);
    CHECK(later.cache_creation_input_tokens == 0);
}

TEST_CASE("fake anthropic: short prefixes are not cached, 1h writes are reported apart",
          "[clients]") {
    fake_anthropic fake;
    auto body = valid_body("claude-haiku-4-5");
    body["system"].as_array()[0].as_object()["text"] = "Identify the item.";
    auto a = post(fake, body);
    REQUIRE(a.status == 200);
    CHECK(a.json().at("usage").at("cache_creation_input_tokens") == 0);  // under 4096

    body = valid_body("claude-sonnet-4-5");
    body["system"].as_array()[0].as_object()["cache_control"] =
        json::object{{"type", "ephemeral"}, {"ttl", "1h"}};
    auto hour = clients::parse_messages_reply(post(fake, body).body);
    REQUIRE(hour);
    CHECK(hour->usage.cache_creation_1h_tokens > 0);
    CHECK(hour->usage.cache_creation_5m_tokens == 0);
}

TEST_CASE("fake anthropic: a resource it does not limit is announced by no header", "[clients]") {
    fakes::fake_anthropic_options options;
    options.limits = {.requests = 0, .input_tokens = 0, .output_tokens = 0};
    fake_anthropic fake(options);
    auto a = post(fake, valid_body());
    REQUIRE(a.status == 200);
    for (const char* name :
         {"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-input-tokens-limit",
          "anthropic-ratelimit-output-tokens-limit", "anthropic-ratelimit-tokens-limit"}) {
        INFO(name);
        CHECK(a.header(name).empty());
    }
}

TEST_CASE("fake anthropic: a port in use is an error, not a shared listener", "[clients]") {
    fake_anthropic first;
    fakes::fake_anthropic_options options;
    options.port = first.port();
    CHECK_THROWS_WITH(fake_anthropic(options), Catch::Contains("in use"));
}

TEST_CASE("fake anthropic: requests per minute are limited with the real headers", "[clients]") {
    manual_clock clock;
    fakes::fake_anthropic_options options;
    options.time = &clock;
    options.limits.requests = 2;
    fake_anthropic fake(options);

    CHECK(post(fake, valid_body()).status == 200);
    auto second = post(fake, valid_body());
    CHECK(second.status == 200);
    CHECK(second.header("anthropic-ratelimit-requests-limit") == "2");
    CHECK(second.header("anthropic-ratelimit-requests-remaining") == "0");

    auto limited = post(fake, valid_body());
    CHECK(limited.status == 429);
    CHECK(limited.error_type() == "rate_limit_error");
    CHECK(limited.message().rfind("This request would exceed your organization's rate limit of 2 "
                                  "requests per minute",
                                  0) == 0);
    CHECK(limited.header("retry-after") == "30");
    CHECK(limited.header("x-should-retry") == "true");
    CHECK_FALSE(limited.header("anthropic-ratelimit-requests-reset").empty());
    CHECK(classified(limited).code == "vision_rate_limited");
    CHECK(classified(limited).retryable);

    clock.advance_ms(30'000);  // one request refilled
    CHECK(post(fake, valid_body()).status == 200);
    CHECK(fake.received() == 4);
    CHECK(fake.paid() == 3);
}

TEST_CASE("fake anthropic: buckets can start empty, then refill at the limit's pace", "[clients]") {
    manual_clock clock;
    fakes::fake_anthropic_options options;
    options.time = &clock;
    options.limits.requests = 60;  // one a second
    options.limits.start_full = 0;
    fake_anthropic fake(options);

    auto first = post(fake, valid_body());
    CHECK(first.status == 429);
    CHECK(first.header("retry-after") == "1");
    clock.advance_ms(1'000);
    auto second = post(fake, valid_body());
    CHECK(second.status == 200);
    CHECK(second.header("anthropic-ratelimit-requests-remaining") == "0");
    CHECK(post(fake, valid_body()).status == 429);
    clock.advance_ms(3'000);
    for (int i = 0; i < 3; ++i) {
        CHECK(post(fake, valid_body()).status == 200);
    }
    CHECK(post(fake, valid_body()).status == 429);
    CHECK(fake.paid() == 4);
}

TEST_CASE("fake anthropic: input tokens per minute are limited", "[clients]") {
    fakes::fake_anthropic_options options;
    options.limits.input_tokens = 3000;  // less than the prompt alone
    fake_anthropic fake(options);
    auto a = post(fake, valid_body());
    CHECK(a.status == 429);
    CHECK(a.message().find("3,000 input tokens per minute") != std::string::npos);
    CHECK(a.header("retry-after") == "60");
}

TEST_CASE("fake anthropic: injected errors come first, in order", "[clients]") {
    fake_anthropic fake;
    fake.inject(fakes::injected_error::overloaded());
    fake.inject(fakes::injected_error::rate_limited(std::nullopt));
    fake.inject(fakes::injected_error::rate_limited(3));
    fake.inject(fakes::injected_error::internal());

    auto overloaded = post(fake, valid_body());
    CHECK(overloaded.status == 529);
    CHECK(overloaded.error_type() == "overloaded_error");
    CHECK(overloaded.message() == "Overloaded");
    CHECK(classified(overloaded).code == "vision_overloaded");

    auto bare = post(fake, valid_body());
    CHECK(bare.status == 429);
    CHECK(bare.header("retry-after").empty());
    CHECK(bare.header("x-should-retry") == "true");

    CHECK(post(fake, valid_body()).header("retry-after") == "3");

    auto internal = post(fake, valid_body());
    CHECK(internal.status == 500);
    CHECK(internal.json().at("request_id").is_null());
    CHECK(classified(internal).code == "vision_upstream_error");
    CHECK(classified(internal).retryable);

    CHECK(post(fake, valid_body()).status == 200);
    CHECK(fake.received("claude-haiku-4-5") == 5);
    CHECK(fake.paid("claude-haiku-4-5") == 1);
}

TEST_CASE("fake anthropic: fixtures answer by image hash and model", "[clients]") {
    fake_anthropic fake;
    auto sha = sample_photo().sha256;
    fake.add_fixture(sha, "claude-sonnet-4-5",
                     json::object{{"title", "Sonnet's answer"}, {"overall_confidence", 0.9}});
    fake.add_fixture(sha, "", json::object{{"title", "Anyone's answer"}});
    auto haiku = clients::parse_messages_reply(post(fake, valid_body()).body);
    auto sonnet = clients::parse_messages_reply(post(fake, valid_body("claude-sonnet-4-5")).body);
    REQUIRE(haiku);
    REQUIRE(sonnet);
    CHECK(haiku->identification.title == "Anyone's answer");
    CHECK(sonnet->identification.title == "Anyone's answer");  // the later fixture wins

    fake.add_fixture(sha, "claude-sonnet-4-5-20250929", json::object{{"title", "Dated"}});
    sonnet = clients::parse_messages_reply(post(fake, valid_body("claude-sonnet-4-5")).body);
    REQUIRE(sonnet);
    CHECK(sonnet->identification.title == "Dated");
}

TEST_CASE("fake anthropic: strict base64 and image header sniffing", "[clients]") {
    CHECK(fakes::base64_decode("aGk=") == "hi");
    CHECK(fakes::base64_decode("aGk") == std::nullopt);
    CHECK(fakes::base64_decode("aGl=") == std::nullopt);  // non-zero bits after the last byte
    CHECK(fakes::base64_decode("a=Gk") == std::nullopt);
    CHECK(fakes::base64_decode("") == "");

    auto size = fakes::sniff_image(sample_photo().jpeg);
    REQUIRE(size);
    CHECK(size->media_type == "image/jpeg");
    CHECK(size->width == sample_photo().width);
    CHECK(size->height == sample_photo().height);
    CHECK(fakes::sniff_image(png_header(640, 480))->width == 640);
    CHECK(fakes::sniff_image(std::string("GIF89a\x20\x03\x58\x02", 10))->height == 600);
    CHECK_FALSE(fakes::sniff_image(std::string("\xFF\xD8\xFF\xD9", 4)).has_value());
}

TEST_CASE("fake anthropic: /_fake/stats counts received and paid calls by model", "[clients]") {
    manual_clock clock;
    fakes::fake_anthropic_options options;
    options.time = &clock;
    fake_anthropic fake(options);
    fake.inject(fakes::injected_error::overloaded());
    CHECK(post(fake, valid_body()).status == 529);
    CHECK(post(fake, valid_body()).status == 200);
    CHECK(post(fake, valid_body("claude-sonnet-4-5")).status == 200);

    httplib::Client client("127.0.0.1", fake.port());
    auto res = client.Get("/_fake/stats");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    auto stats = json::parse(res->body);
    INFO(res->body);
    CHECK(stats.at("received") == 3);
    CHECK(stats.at("paid") == 2);
    CHECK(stats.at("models").at("claude-haiku-4-5").at("received") == 2);
    CHECK(stats.at("models").at("claude-haiku-4-5").at("paid") == 1);
    CHECK(stats.at("models").at("claude-sonnet-4-5").at("paid") == 1);
    // The tokens billed: those of the paid call's answer (the refused call billed none).
    const auto calls = fake.calls();
    REQUIRE(calls.size() == 3);
    const auto& billed = stats.at("models").at("claude-haiku-4-5").at("usage");
    CHECK(billed.at("input_tokens") == calls[1].usage.input_tokens);
    CHECK(billed.at("output_tokens") == calls[1].usage.output_tokens);
    CHECK(billed.at("cache_write_5m") == calls[1].usage.cache_write_5m);
    CHECK(billed.at("cache_read") == calls[1].usage.cache_read);
    CHECK(calls[1].usage.input_tokens > 0);
    // What is left of each model's requests per minute (the overloaded answer took none).
    const double limit = static_cast<double>(fakes::rate_limits_per_minute{}.requests);
    CHECK(stats.at("models").at("claude-haiku-4-5").at("requests_left").to_number<double>() ==
          Approx(limit - 1));
    clock.advance_ms(30'000);  // refilled, but never past the limit
    auto later = json::parse(client.Get("/_fake/stats")->body);
    CHECK(later.at("models").at("claude-sonnet-4-5").at("requests_left").to_number<double>() ==
          Approx(limit));
}

TEST_CASE("fake anthropic: batch calls refused for their key count as batch calls refused",
          "[clients]") {
    fake_anthropic fake;
    httplib::Client client("127.0.0.1", fake.port());
    auto refused = client.Post("/v1/messages/batches",
                               {{"x-api-key", "wrong-key"}, {"anthropic-version", "2023-06-01"}},
                               R"({"requests":[]})", "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 401);
    auto listed = client.Get("/v1/messages/batches", {{"anthropic-version", "2023-06-01"}});
    REQUIRE(listed);
    CHECK(listed->status == 401);
    auto stats = json::parse(client.Get("/_fake/stats")->body);
    CHECK(stats.at("batch_calls") == 2);
    CHECK(stats.at("batch_calls_refused") == 2);
}

TEST_CASE("fake anthropic: counts retries of a body that came before its retry-after",
          "[clients]") {
    fake_anthropic fake;
    auto first = valid_body();
    auto second = valid_body("claude-sonnet-4-5");
    auto third = valid_body("claude-opus-4-5");
    auto other = valid_body("claude-haiku-4-5", 2);

    // Told to wait 30 s and back at once: early. Another body in between is no retry.
    fake.inject(fakes::injected_error::rate_limited(30));
    REQUIRE(post(fake, first).status == 429);
    CHECK(post(fake, other).status == 200);
    CHECK(fake.early_retries() == 0);
    CHECK(post(fake, first).status == 200);
    CHECK(fake.early_retries() == 1);
    CHECK(post(fake, first).status == 200);  // that wait was used up by the first repeat
    CHECK(fake.early_retries() == 1);

    // Told to wait 1 s and back after more than that: in time.
    fake.inject(fakes::injected_error::rate_limited(1));
    REQUIRE(post(fake, second).status == 429);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(post(fake, second).status == 200);
    CHECK(fake.early_retries() == 1);
    CHECK(fake.retries_after_wait() == 1);

    // Answers without a retry-after set no wait.
    fake.inject(fakes::injected_error::overloaded());
    fake.inject(fakes::injected_error::rate_limited(std::nullopt));
    REQUIRE(post(fake, third).status == 529);
    REQUIRE(post(fake, third).status == 429);
    CHECK(post(fake, third).status == 200);
    CHECK(fake.early_retries() == 1);
    CHECK(fake.retries_after_wait() == 1);

    httplib::Client client("127.0.0.1", fake.port());
    auto res = client.Get("/_fake/stats");
    REQUIRE(res);
    auto stats = json::parse(res->body);
    INFO(res->body);
    CHECK(stats.at("early_retries") == 1);
    CHECK(stats.at("retries_after_wait") == 1);
    CHECK(stats.at("early_by_ms_max").to_number<double>() > 25'000);  // of the 30 s wait
    CHECK(stats.at("statuses").at("429") == 3);
    CHECK(stats.at("statuses").at("529") == 1);
    CHECK(stats.at("statuses").at("200") == 5);
    CHECK(stats.at("limits").at("requests") == fakes::rate_limits_per_minute{}.requests);
}

TEST_CASE("fake anthropic: a path the API does not have is a 404 not_found_error with a request id",
          "[clients]") {
    fake_anthropic fake;
    httplib::Client client("127.0.0.1", fake.port());
    const httplib::Headers headers = {{"x-api-key", "test-key"},
                                      {"anthropic-version", "2023-06-01"}};
    std::vector<httplib::Result> answers;
    answers.push_back(client.Get("/v1/nothing-here", headers));
    answers.push_back(client.Post("/v1/message", headers, "{}", "application/json"));
    answers.push_back(client.Put("/v1/messages", headers, "{}", "application/json"));
    answers.push_back(client.Delete("/v1/messages", headers));
    httplib::Request trace;
    trace.method = "TRACE";
    trace.path = "/v1/messages";
    trace.headers = headers;
    answers.push_back(client.send(trace));
    for (auto& res : answers) {
        REQUIRE(res);
        INFO(res->status << " " << res->body);
        CHECK(res->status == 404);
        raw_answer a{res->status, res->body, res->headers};
        REQUIRE(json::parse(res->body).is_object());
        CHECK(a.json().at("type") == "error");
        CHECK(a.error_type() == "not_found_error");
        auto request_id = a.header("request-id");
        CHECK(request_id.rfind("req_", 0) == 0);
        CHECK(a.json().at("request_id") == request_id.c_str());
        CHECK(classified(a).code == "vision_not_found");
    }
    CHECK(fake.received() == 0);
}

TEST_CASE("fake anthropic: a doubled anthropic-version header is not a valid version",
          "[clients]") {
    fake_anthropic fake;
    auto doubled = post(fake, json::serialize(valid_body()),
                        {{"x-api-key", "test-key"},
                         {"anthropic-version", "2023-06-01"},
                         {"anthropic-version", "2023-06-01"}});
    CHECK(doubled.status == 400);
    CHECK(doubled.error_type() == "invalid_request_error");
    CHECK(doubled.message() ==
          "anthropic-version: \"2023-06-01, 2023-06-01\" is not a valid version");
    CHECK(doubled.header("request-id").rfind("req_", 0) == 0);
    CHECK(fake.paid() == 0);
}

TEST_CASE("fake anthropic: every model the facts name is accepted, a retired one until its date",
          "[clients]") {
    manual_clock time(1'764'547'200'000);  // 2025-12-01
    fakes::fake_anthropic_options options;
    options.time = &time;
    fake_anthropic fake(options);
    // Requested id, and the id the answer names.
    const std::pair<std::string, std::string> models[] = {
        {"claude-haiku-4-5", "claude-haiku-4-5-20251001"},
        {"claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"},
        {"claude-sonnet-4-5", "claude-sonnet-4-5-20250929"},
        {"claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"},
        {"claude-sonnet-4-20250514", "claude-sonnet-4-20250514"},
        {"claude-sonnet-4-0", "claude-sonnet-4-20250514"},
        {"claude-opus-4-5", "claude-opus-4-5-20251101"},
        {"claude-opus-4-5-20251101", "claude-opus-4-5-20251101"},
        {"claude-opus-4-1-20250805", "claude-opus-4-1-20250805"},
        {"claude-opus-4-20250514", "claude-opus-4-20250514"},
        {"claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"},
        {"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"},
        {"claude-3-haiku-20240307", "claude-3-haiku-20240307"},
        {"claude-3-7-sonnet-20250219", "claude-3-7-sonnet-20250219"},
        {"claude-opus-4-6", "claude-opus-4-6"},
        {"claude-sonnet-4-6", "claude-sonnet-4-6"},
        {"claude-opus-4-7", "claude-opus-4-7"},
        {"claude-opus-4-8", "claude-opus-4-8"},
        {"claude-sonnet-5", "claude-sonnet-5"},
        {"claude-fable-5", "claude-fable-5"},
    };
    for (const auto& [requested, answered] : models) {
        INFO(requested);
        auto a = post(fake, valid_body(requested));
        CHECK(a.status == 200);
        if (a.status == 200) {
            CHECK(a.json().at("model").as_string() == answered);
        }
    }

    // Retired on 2026-02-19: from then on refused like an unknown model.
    time.advance_ms(90LL * 86'400'000);
    for (const char* retired : {"claude-3-5-haiku-20241022", "claude-3-7-sonnet-20250219"}) {
        auto a = post(fake, valid_body(retired));
        CHECK(a.status == 404);
        CHECK(a.message() == std::string("model: ") + retired);
    }
    CHECK(post(fake, valid_body("claude-haiku-4-5")).status == 200);

    // The newest models refuse sampling parameters.
    auto body = valid_body("claude-opus-4-7");
    body["temperature"] = 0.2;
    CHECK(post(fake, body).status == 400);
    body = valid_body("claude-sonnet-5");
    body["temperature"] = 1.0;
    CHECK(post(fake, body).status == 200);
    body["temperature"] = 0.2;
    CHECK(post(fake, body).status == 400);
}
