// The Messages request we build and the answers we read: recorded answers and error bodies of the
// real API, headers, and how failures are classified.
#include "clients/anthropic_messages.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace boomer;
using namespace boomer::clients;
namespace json = boost::json;

namespace {

http_response with_headers(unsigned status, header_list headers, std::string body = {}) {
    http_response r;
    r.status = status;
    r.headers = std::move(headers);
    r.body = std::move(body);
    return r;
}

failure classify(unsigned status, std::string_view body, header_list headers = {}) {
    auto res = with_headers(status, std::move(headers), std::string(body));
    return classify_error(parse_api_error(status, body), read_response_meta(res, 0));
}

pipeline::identify_request two_photos() {
    pipeline::identify_request r;
    r.item_id = "itm_1";
    r.jpeg_images = {std::string("\xFF\xD8\xFF\xE0 first", 10), std::string("\xFF\xD8\xFF second")};
    r.title_hint = "Canon \"AE-1\" camera";
    r.barcodes = {"EAN-13:9780140013993"};
    return r;
}

}  // namespace

TEST_CASE("anthropic messages: the request puts images first, then text, and forces the tool",
          "[clients]") {
    identify_call_params params;
    params.model = "claude-haiku-4-5";
    params.max_tokens = 1500;
    auto body = json::parse(build_identify_body(two_photos(), params)).as_object();

    CHECK(body.at("model") == "claude-haiku-4-5");
    CHECK(body.at("max_tokens") == 1500);
    CHECK_FALSE(body.contains("temperature"));
    CHECK_FALSE(body.contains("top_p"));

    auto& system = body.at("system").as_array();
    REQUIRE(system.size() == 1);
    CHECK(system[0].at("type") == "text");
    CHECK(system[0].at("cache_control").at("type") == "ephemeral");
    CHECK_FALSE(system[0].at("cache_control").as_object().contains("ttl"));

    auto& messages = body.at("messages").as_array();
    REQUIRE(messages.size() == 1);
    CHECK(messages[0].at("role") == "user");
    auto& content = messages[0].at("content").as_array();
    REQUIRE(content.size() == 3);
    CHECK(content[0].at("type") == "image");
    CHECK(content[0].at("source").at("type") == "base64");
    CHECK(content[0].at("source").at("media_type") == "image/jpeg");
    CHECK(content[0].at("source").at("data") == "/9j/4CBmaXJzdA==");  // base64 of the bytes
    CHECK(content[1].at("source").at("data") == "/9j/IHNlY29uZA==");
    CHECK(content[2].at("type") == "text");
    std::string text(content[2].at("text").as_string());
    CHECK(text.find("Canon \"AE-1\" camera") != std::string::npos);
    CHECK(text.find("EAN-13:9780140013993") != std::string::npos);
    CHECK(text.find("2 photos") != std::string::npos);

    auto& tools = body.at("tools").as_array();
    REQUIRE(tools.size() == 1);
    CHECK(tools[0].at("name").as_string() == identify_tool_name);
    CHECK(body.at("tool_choice").at("type") == "tool");
    CHECK(body.at("tool_choice").at("name").as_string() == identify_tool_name);
}

TEST_CASE("anthropic messages: the tool schema is our identification record", "[clients]") {
    auto tool = json::parse(identification_tool_json()).as_object();
    auto& schema = tool.at("input_schema").as_object();
    CHECK(schema.at("type") == "object");
    auto& props = schema.at("properties").as_object();
    for (auto field : {"title", "brand", "model", "category_path", "condition_guess", "color",
                       "material", "era", "distinguishing_marks", "search_query", "price_estimate",
                       "field_confidence", "overall_confidence"}) {
        INFO(field);
        CHECK(props.contains(field));
    }
    CHECK(props.at("price_estimate").at("required").as_array().size() == 2);
    CHECK(props.at("field_confidence").at("properties").as_object().size() == 10);
    CHECK(props.at("overall_confidence").at("maximum") == 1);
}

TEST_CASE("anthropic messages: the cache TTL and temperature are sent only when set", "[clients]") {
    identify_call_params params;
    params.model = "claude-sonnet-4-5";
    params.cache_ttl = "1h";
    params.temperature = 0.0;
    auto body = json::parse(build_identify_body(two_photos(), params)).as_object();
    CHECK(body.at("system").at(0).at("cache_control").at("ttl") == "1h");
    CHECK(body.at("temperature") == 0.0);
}

TEST_CASE("anthropic messages: the system prompt is long enough to cache on Haiku 4.5",
          "[clients]") {
    // Haiku 4.5 caches prefixes of 4096 tokens or more. English prose runs at about four
    // characters per token; count at five to keep a margin, tool definition included.
    auto chars = identify_system_prompt().size() + identification_tool_json().size();
    CHECK(chars / 5 >= 4096);
    CHECK(identify_system_prompt().find("record_identification") != std::string_view::npos);
}

TEST_CASE("anthropic messages: reads the recorded tool_use answer of Haiku 4.5", "[clients]") {
    // Recorded answer shape, with our tool's name and a record as its input.
    std::string body = R"({"model":"claude-haiku-4-5-20251001","id":"msg_01RMQBcKf2dxTq6qfi31BBTz",
      "type":"message","role":"assistant",
      "content":[{"type":"tool_use","id":"toolu_01A9HHF5Ezy3oBrKmSgfASm9",
        "name":"record_identification","caller":{"type":"direct"},
        "input":{"title":"Canon AE-1 Program 35mm SLR","brand":"Canon","model":"AE-1 Program",
          "category_path":["Cameras & Photo","Film Photography","Film Cameras"],
          "condition_guess":"good","color":"black","era":"1980s",
          "distinguishing_marks":["brassing on top plate",""],
          "search_query":"Canon AE-1 Program","price_estimate":{"amount":129.5,"currency":"USD"},
          "field_confidence":{"title":0.9,"brand":1.4,"model":-1,"unknown_field":0.5},
          "overall_confidence":0.87,"extra":"ignored"}}],
      "stop_reason":"tool_use","stop_sequence":null,
      "usage":{"input_tokens":656,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,
        "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},
        "output_tokens":74,"service_tier":"standard","inference_geo":"not_available"}})";
    auto reply = parse_messages_reply(body);
    REQUIRE(reply);
    CHECK(reply->model == "claude-haiku-4-5-20251001");
    CHECK(reply->stop_reason == "tool_use");
    CHECK(reply->usage.input_tokens == 656);
    CHECK(reply->usage.output_tokens == 74);
    CHECK(reply->usage.has_cache_creation_split);
    CHECK(reply->usage.service_tier == "standard");
    REQUIRE(reply->has_tool_use);
    const auto& id = reply->identification;
    CHECK(id.title == "Canon AE-1 Program 35mm SLR");
    CHECK(id.brand == "Canon");
    CHECK(id.category == "Cameras & Photo > Film Photography > Film Cameras");
    CHECK(id.distinguishing_marks == std::vector<std::string>{"brassing on top plate"});
    REQUIRE(id.price_estimate);
    CHECK(id.price_estimate->minor == 12950);
    CHECK(id.price_estimate->currency == "USD");
    CHECK(id.confidence == Approx(0.87));
    CHECK(id.field_confidence.at("brand") == 1.0);  // clamped
    CHECK(id.field_confidence.at("model") == 0.0);
    CHECK(reply->missing_fields.empty());
}

TEST_CASE("anthropic messages: old answers without cache fields, and text-only answers",
          "[clients]") {
    // The documented batch result message: only input and output tokens, a text block.
    auto reply = parse_messages_reply(
        R"({"id":"msg_014VwiXbi91y3JMjcpyGBHX5","type":"message","role":"assistant",
            "model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hello again!"},
            {"type":"thinking","thinking":"..."}],"stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":11,"output_tokens":36}})");
    REQUIRE(reply);
    CHECK(reply->usage.input_tokens == 11);
    CHECK(reply->usage.cache_creation_input_tokens == 0);
    CHECK_FALSE(reply->usage.has_cache_creation_split);
    CHECK_FALSE(reply->has_tool_use);
    CHECK(reply->missing_fields.size() == 3);
}

TEST_CASE("anthropic messages: an answer missing required fields lists them", "[clients]") {
    auto reply = parse_messages_reply(
        R"({"type":"message","model":"m","content":[{"type":"tool_use","id":"t",
            "name":"record_identification","input":{"title":"Mug","category_path":[]}}],
            "stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":2}})");
    REQUIRE(reply);
    CHECK(reply->has_tool_use);
    CHECK(reply->missing_fields == std::vector<std::string>{"category_path", "search_query"});
}

TEST_CASE("anthropic messages: unreadable answers are retryable bad responses", "[clients]") {
    for (auto body : {"", "not json", "[]", R"({"type":"message"})",
                      R"({"type":"error","error":{"type":"api_error","message":"x"}})"}) {
        INFO(body);
        auto reply = parse_messages_reply(body);
        REQUIRE_FALSE(reply);
        CHECK(reply.error().code == "vision_bad_response");
        CHECK(reply.error().retryable);
    }
}

TEST_CASE("anthropic messages: every documented error shape is read", "[clients]") {
    auto e400 = parse_api_error(400, R"({"type":"error","error":{"type":"invalid_request_error",)"
                                     R"("message":"anthropic-version: header is required"},)"
                                     R"("request_id":"req_011CaDvrymxizFC1oij4M9EK"})");
    CHECK(e400.type == "invalid_request_error");
    CHECK(e400.message == "anthropic-version: header is required");
    CHECK(e400.request_id == "req_011CaDvrymxizFC1oij4M9EK");

    auto e500 = parse_api_error(
        500, R"({"type":"error","error":{"type":"api_error","message":"Internal server error"},)"
             R"("request_id":null})");
    CHECK(e500.type == "api_error");
    CHECK(e500.request_id.empty());

    auto e413 = parse_api_error(
        413,
        R"({"error":{"type":"request_too_large","message":"Request exceeds the maximum size"}})");
    CHECK(e413.type == "request_too_large");
    CHECK(e413.message == "Request exceeds the maximum size");

    auto e529 =
        parse_api_error(529, R"({"type":"error","error":{"details":null,"type":"overloaded_error",)"
                             R"("message":"Overloaded"}})");
    CHECK(e529.type == "overloaded_error");

    auto html = parse_api_error(502, "<html>Bad gateway</html>");
    CHECK(html.type.empty());
    CHECK(html.message == "<html>Bad gateway</html>");
}

TEST_CASE("anthropic messages: permanent and retryable failures", "[clients]") {
    struct row {
        unsigned status;
        const char* code;
        bool retryable;
    };
    for (auto r : {row{400, "vision_bad_request", false}, row{401, "vision_auth", false},
                   row{403, "vision_auth", false}, row{404, "vision_not_found", false},
                   row{413, "vision_request_too_large", false},
                   row{429, "vision_rate_limited", true}, row{500, "vision_upstream_error", true},
                   row{504, "vision_upstream_error", true}, row{529, "vision_overloaded", true},
                   row{402, "vision_billing", false}, row{418, "vision_http_error", false}}) {
        INFO(r.status);
        auto f = classify(r.status, R"({"type":"error","error":{"type":"x","message":"m"}})");
        CHECK(f.code == r.code);
        CHECK(f.retryable == r.retryable);
        CHECK(f.message.find("HTTP " + std::to_string(r.status)) != std::string::npos);
    }
}

TEST_CASE("anthropic messages: x-should-retry wins over the status", "[clients]") {
    auto body = R"({"type":"error","error":{"type":"rate_limit_error","message":"m"}})";
    CHECK_FALSE(classify(429, body, {{"x-should-retry", "false"}}).retryable);
    CHECK(classify(400, body, {{"X-Should-Retry", "true"}}).retryable);
    CHECK(classify(529, body, {{"x-should-retry", "maybe"}}).retryable);
}

TEST_CASE("anthropic messages: rate-limit, retry and request id headers", "[clients]") {
    auto res =
        with_headers(200, {{"request-id", "req_018EeWyXxfu5pfWkrYcMdjWG"},
                           {"anthropic-ratelimit-input-tokens-limit", "30000"},
                           {"anthropic-ratelimit-input-tokens-remaining", "28000"},
                           {"anthropic-ratelimit-input-tokens-reset", "2026-02-25T20:02:37Z"},
                           {"Anthropic-RateLimit-Requests-Limit", "50"},
                           {"anthropic-ratelimit-requests-remaining", "49"},
                           {"anthropic-ratelimit-output-tokens-remaining", "lots"},
                           {"retry-after", "1.5"}});
    auto meta = read_response_meta(res, 0);
    CHECK(meta.request_id == "req_018EeWyXxfu5pfWkrYcMdjWG");
    CHECK(meta.limits.input_tokens.limit == 30000);
    CHECK(meta.limits.input_tokens.remaining == 28000);
    CHECK(meta.limits.input_tokens.reset == "2026-02-25T20:02:37Z");
    CHECK(meta.limits.requests.limit == 50);
    CHECK(meta.limits.requests.remaining == 49);
    CHECK_FALSE(meta.limits.output_tokens.remaining.has_value());
    CHECK_FALSE(meta.limits.tokens.limit.has_value());
    REQUIRE(meta.retry_after);
    CHECK(meta.retry_after->count() == 1500);
    CHECK_FALSE(meta.should_retry.has_value());
}

TEST_CASE("anthropic messages: retry-after-ms first, then seconds, then an HTTP date",
          "[clients]") {
    auto ms =
        read_response_meta(with_headers(429, {{"retry-after", "9"}, {"retry-after-ms", "250"}}), 0);
    CHECK(ms.retry_after->count() == 250);

    // 2015-10-21T07:28:00Z is 1445412480 s after the epoch; now is 2 s earlier.
    auto date = read_response_meta(
        with_headers(429, {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}), 1'445'412'478'000);
    CHECK(date.retry_after->count() == 2000);

    auto junk = read_response_meta(with_headers(429, {{"retry-after", "soon"}}), 0);
    CHECK_FALSE(junk.retry_after.has_value());
    auto negative = read_response_meta(with_headers(429, {{"retry-after", "-3"}}), 0);
    CHECK_FALSE(negative.retry_after.has_value());
}
