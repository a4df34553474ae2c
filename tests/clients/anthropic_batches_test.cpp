// Message Batches: the submitted body, and the documented batch object and result lines.
#include "clients/anthropic_batches.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "clients/anthropic_cost.hpp"

using namespace boomer;
using namespace boomer::clients;
namespace json = boost::json;

namespace {

batch_entry entry(std::string id) {
    batch_entry e;
    e.custom_id = std::move(id);
    e.request.jpeg_images = {std::string("\xFF\xD8\xFF\xE0", 4)};
    return e;
}

identify_call_params haiku() {
    identify_call_params p;
    p.model = "claude-haiku-4-5";
    return p;
}

}  // namespace

TEST_CASE("anthropic batches: the body wraps one Messages request per entry", "[clients]") {
    auto body = build_batch_body({entry("itm_1"), entry("itm-2")}, haiku());
    REQUIRE(body);
    auto parsed = json::parse(*body).as_object();
    auto& requests = parsed.at("requests").as_array();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].at("custom_id") == "itm-2");
    auto& params = requests[0].at("params").as_object();
    CHECK(params.at("model") == "claude-haiku-4-5");
    CHECK_FALSE(params.contains("stream"));
    CHECK(params.at("tool_choice").at("type") == "tool");
}

TEST_CASE("anthropic batches: ids must be unique, short and plain", "[clients]") {
    auto long_id = std::string(65, 'a');
    for (auto ids : {std::vector<std::string>{"a", "a"}, std::vector<std::string>{""},
                     std::vector<std::string>{"has space"}, std::vector<std::string>{long_id}}) {
        std::vector<batch_entry> entries;
        for (const auto& id : ids) {
            entries.push_back(entry(id));
        }
        auto body = build_batch_body(entries, haiku());
        REQUIRE_FALSE(body);
        CHECK(body.error().code == "bad_batch");
        CHECK_FALSE(body.error().retryable);
    }
    CHECK_FALSE(build_batch_body({}, haiku()));
    auto no_photo = entry("x");
    no_photo.request.jpeg_images.clear();
    CHECK_FALSE(build_batch_body({no_photo}, haiku()));
    CHECK(build_batch_body({entry(std::string(64, 'a'))}, haiku()));
}

TEST_CASE("anthropic batches: reads the documented batch object", "[clients]") {
    auto batch = parse_message_batch(
        R"({"id":"msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d","type":"message_batch",
            "processing_status":"in_progress",
            "request_counts":{"processing":2,"succeeded":0,"errored":0,"canceled":0,"expired":0},
            "ended_at":null,"created_at":"2024-09-24T18:37:24.100435Z",
            "expires_at":"2024-09-25T18:37:24.100435Z","cancel_initiated_at":null,
            "results_url":null})");
    REQUIRE(batch);
    CHECK(batch->id == "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d");
    CHECK_FALSE(batch->ended());
    CHECK(batch->counts.processing == 2);
    CHECK(batch->results_url.empty());
    CHECK(batch->expires_at == "2024-09-25T18:37:24.100435Z");

    CHECK_FALSE(parse_message_batch(R"({"type":"message"})"));
    CHECK_FALSE(parse_message_batch("nope"));
}

TEST_CASE("anthropic batches: reads a list page, refuses one that cannot be paged", "[clients]") {
    const std::string batch =
        R"({"id":"msgbatch_01B","type":"message_batch","processing_status":"ended",)"
        R"("request_counts":{"processing":0,"succeeded":1,"errored":0,"canceled":0,"expired":0},)"
        R"("created_at":"2024-09-24T18:37:24.100435Z","ended_at":"2024-09-24T18:40:00Z",)"
        R"("results_url":"https://api.anthropic.com/v1/messages/batches/msgbatch_01B/results"})";
    auto page = parse_batch_page(R"({"data":[)" + batch +
                                 R"(],"has_more":true,"first_id":"msgbatch_01B",)"
                                 R"("last_id":"msgbatch_01B"})");
    REQUIRE(page);
    REQUIRE(page->data.size() == 1);
    CHECK(page->data[0].ended());
    CHECK(page->data[0].created_at == "2024-09-24T18:37:24.100435Z");
    CHECK(page->has_more);
    CHECK(page->last_id == "msgbatch_01B");

    auto empty = parse_batch_page(R"({"data":[],"has_more":false,"first_id":null,"last_id":null})");
    REQUIRE(empty);
    CHECK(empty->data.empty());
    CHECK_FALSE(empty->has_more);

    CHECK_FALSE(parse_batch_page(R"({"data":[],"has_more":true,"last_id":null})"));
    CHECK_FALSE(parse_batch_page(R"({"data":[{"type":"message"}],"has_more":false})"));
    CHECK_FALSE(parse_batch_page(R"({"has_more":false})"));
    CHECK(parse_batch_page("nope").error().code == "vision_bad_response");
}

TEST_CASE("anthropic batches: reads succeeded, errored and canceled result lines", "[clients]") {
    std::string jsonl =
        R"({"custom_id":"my-second-request","result":{"type":"succeeded","message":{)"
        R"("id":"msg_014VwiXbi91y3JMjcpyGBHX5","type":"message","role":"assistant",)"
        R"("model":"claude-sonnet-4-5-20250929","content":[{"type":"text",)"
        R"("text":"Hello again!"}],"stop_reason":"end_turn","stop_sequence":null,)"
        R"("usage":{"input_tokens":11,"output_tokens":36}}}})"
        "\n\n"
        R"({"custom_id":"bad-model","result":{"type":"errored","error":{"type":"error",)"
        R"("error":{"details":{"error_visibility":"user_facing"},"type":"not_found_error",)"
        R"("message":"model: claude-does-not-exist-9"},"request_id":null}}})"
        "\r\n"
        R"({"custom_id":"c-1","result":{"type":"canceled"}})"
        "\n";
    auto results = parse_batch_results(jsonl);
    REQUIRE(results);
    REQUIRE(results->size() == 3);

    const auto& ok = (*results)[0];
    CHECK(ok.custom_id == "my-second-request");
    CHECK(ok.type == "succeeded");
    REQUIRE(ok.reply);
    CHECK(ok.reply->model == "claude-sonnet-4-5-20250929");
    CHECK(ok.reply->usage.output_tokens == 36);
    // Batch calls cost half: (11×3 + 36×15) / 2 = 286.5 micro-dollars.
    auto price = *price_table::with_defaults().find(ok.reply->model);
    CHECK(price_call(price, ok.reply->usage, true).total == 287);

    const auto& bad = (*results)[1];
    CHECK(bad.type == "errored");
    REQUIRE(bad.error);
    CHECK(bad.error->type == "not_found_error");
    CHECK(bad.error->status == 404);
    CHECK(bad.error->message == "model: claude-does-not-exist-9");
    CHECK_FALSE(classify_error(*bad.error, {}).retryable);

    CHECK((*results)[2].type == "canceled");
    CHECK_FALSE((*results)[2].reply);

    auto broken =
        parse_batch_results("{\"custom_id\":\"a\",\"result\":{\"type\":\"canceled\"}}\n{oops");
    REQUIRE_FALSE(broken);
    CHECK(broken.error().message.find("line 2") != std::string::npos);
    CHECK(status_of_error_type("overloaded_error") == 529);
    CHECK(status_of_error_type("something_new") == 500);
}

TEST_CASE("anthropic batches: results read in pieces cut anywhere give the same lines",
          "[clients]") {
    std::string jsonl =
        R"({"custom_id":"a-1","result":{"type":"succeeded","message":{)"
        R"("id":"msg_01","type":"message","role":"assistant","model":"claude-haiku-4-5",)"
        R"("content":[{"type":"text","text":"one"}],"stop_reason":"end_turn",)"
        R"("stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":7}}}})"
        "\r\n\n"
        R"({"custom_id":"b-2","result":{"type":"expired"}})"
        "\n"
        R"({"custom_id":"c-3","result":{"type":"canceled"}})";  // no newline at the end
    auto whole = parse_batch_results(jsonl);
    REQUIRE(whole);
    REQUIRE(whole->size() == 3);
    for (std::size_t piece = 1; piece <= jsonl.size(); piece += piece < 8 ? 1 : 13) {
        INFO("pieces of " << piece << " bytes");
        std::vector<std::string> ids;
        batch_results_reader reader([&ids](batch_result line) { ids.push_back(line.custom_id); });
        for (std::size_t at = 0; at < jsonl.size(); at += piece) {
            REQUIRE(reader.feed(std::string_view(jsonl).substr(at, piece)));
        }
        CHECK(ids.size() == 2);  // the last line waits for the end
        REQUIRE(reader.finish());
        CHECK(ids == std::vector<std::string>{"a-1", "b-2", "c-3"});
    }

    std::vector<std::string> ids;
    batch_results_reader broken([&ids](batch_result line) { ids.push_back(line.custom_id); });
    REQUIRE(broken.feed(R"({"custom_id":"x","result":{"type":"canceled"}})"));
    auto fed = broken.feed("\n{oops\n");
    REQUIRE_FALSE(fed);
    CHECK(fed.error().code == "vision_bad_response");
    CHECK(fed.error().message.find("line 2") != std::string::npos);
    CHECK(ids == std::vector<std::string>{"x"});
}
