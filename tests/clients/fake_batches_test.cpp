// The fake's Message Batches endpoints: creation refuses what the real API refuses with its
// texts, params are checked only when the batch ends (errored lines), a batch is in_progress
// with retry-after until it ends, results are JSONL in another order than the requests with the
// batch service tier, and cancel, injected lines and the counters behave.
#include <httplib.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "clients/anthropic_batches.hpp"
#include "pipeline/image/normalize.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/paths.hpp"

using namespace boomer;
namespace json = boost::json;
using fakes::fake_anthropic;

namespace {

const image::normalized_image& sample_photo() {
    static const image::normalized_image photo = [] {
        image::normalize_limits limits;
        limits.max_long_edge = 400;
        auto bytes = test::read_file(test::data_dir() / "images" / "orientation-1-landscape.jpg");
        return image::normalize(bytes, limits).value();
    }();
    return photo;
}

json::value params(const std::string& model = "claude-haiku-4-5") {
    pipeline::identify_request r;
    r.jpeg_images = {sample_photo().jpeg};
    r.title_hint = "landscape photo print";
    clients::identify_call_params p;
    p.model = model;
    return json::parse(clients::build_identify_body(r, p));
}

json::object request(const std::string& custom_id, json::value p = params()) {
    return {{"custom_id", custom_id}, {"params", std::move(p)}};
}

json::object batch_of(std::initializer_list<json::object> requests) {
    json::array list;
    for (const auto& r : requests) {
        list.push_back(r);
    }
    return {{"requests", std::move(list)}};
}

const httplib::Headers good_headers = {{"x-api-key", "test-key"},
                                       {"anthropic-version", "2023-06-01"}};

struct reply {
    int status = 0;
    std::string body;
    httplib::Headers headers;

    json::object json() const { return json::parse(body).as_object(); }
    std::string message() const {
        return std::string(json().at("error").at("message").as_string());
    }
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

reply post(const fake_anthropic& fake, const std::string& path, const std::string& body,
           const httplib::Headers& headers = good_headers) {
    httplib::Client client("127.0.0.1", fake.port());
    client.set_read_timeout(30, 0);
    auto res = client.Post(path.c_str(), headers, body, "application/json");
    REQUIRE(res);
    return reply{res->status, res->body, res->headers};
}

reply create(const fake_anthropic& fake, const json::object& body) {
    return post(fake, "/v1/messages/batches", json::serialize(body));
}

reply get(const fake_anthropic& fake, const std::string& path_or_url,
          const httplib::Headers& headers = good_headers) {
    auto path = path_or_url;
    if (auto at = path.find("://"); at != std::string::npos) {
        path = path.substr(path.find('/', at + 3));
    }
    httplib::Client client("127.0.0.1", fake.port());
    auto res = client.Get(path.c_str(), headers);
    REQUIRE(res);
    return reply{res->status, res->body, res->headers};
}

std::string id_of(const reply& r) {
    return std::string(r.json().at("id").as_string());
}

// Retrieves until the batch ends (at most `polls` times) and returns the last answer.
reply retrieve_until_ended(const fake_anthropic& fake, const std::string& id, int polls = 5) {
    reply r;
    for (int i = 0; i < polls; ++i) {
        r = get(fake, "/v1/messages/batches/" + id);
        if (r.json().at("processing_status") == "ended") {
            break;
        }
    }
    return r;
}

}  // namespace

TEST_CASE("fake batches: a created batch is in progress, without results", "[clients]") {
    fake_anthropic fake;
    auto created = create(fake, batch_of({request("a"), request("b")}));
    REQUIRE(created.status == 200);
    auto batch = clients::parse_message_batch(created.body);
    REQUIRE(batch);
    CHECK(batch->id.rfind("msgbatch_", 0) == 0);
    CHECK(batch->processing_status == "in_progress");
    CHECK(batch->counts.processing == 2);
    CHECK(batch->results_url.empty());
    CHECK(created.json().at("results_url").is_null());
    CHECK(fake.batches_created() == 1);

    auto results = get(fake, "/v1/messages/batches/" + batch->id + "/results");
    CHECK(results.status == 404);
    CHECK(results.json().at("error").at("type") == "not_found_error");
    CHECK(fake.paid() == 0);
    CHECK(fake.batch_billed().empty());
}

TEST_CASE("fake batches: creation refuses bad bodies with the API's texts", "[clients]") {
    fake_anthropic fake;
    auto refused = [&fake](const json::object& body) {
        auto r = create(fake, body);
        CHECK(r.status == 400);
        CHECK(r.json().at("error").at("type") == "invalid_request_error");
        return r.message();
    };
    CHECK(refused(batch_of({request(std::string(65, 'x'))})) ==
          "requests.0.custom_id: String should have at most 64 characters");
    CHECK(refused(batch_of({request("ok"), request("has space")})) ==
          "requests.1.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
    CHECK(refused(batch_of({request("")})) ==
          "requests.0.custom_id: String should have at least 1 character");
    CHECK(refused(batch_of({request("same"), request("same")})).find("\"same\"") !=
          std::string::npos);
    CHECK(refused(json::object{{"requests", json::array{}}}) ==
          "requests: List should have at least 1 item after validation, not 0");
    CHECK(refused(json::object{}) == "requests: Field required");
    CHECK(refused(batch_of({json::object{{"custom_id", "a"}}})) ==
          "requests.0.params: Field required");
    CHECK(refused(batch_of({json::object{{"custom_id", "a"}, {"params", 1}, {"x", 1}}})) ==
          "requests.0.x: Extra inputs are not permitted");

    json::array many;
    for (int i = 0; i <= 10'000; ++i) {
        many.push_back(json::object{{"custom_id", "r" + std::to_string(i)}, {"params", {}}});
    }
    CHECK(refused(json::object{{"requests", std::move(many)}}) ==
          "requests: List should have at most 10000 items after validation, not 10001");
    CHECK(create(fake, batch_of({request(std::string(64, 'x'))})).status == 200);
    CHECK(fake.batches_created() == 1);
}

TEST_CASE("fake batches: the endpoints check the key and the version", "[clients]") {
    fake_anthropic fake;
    auto body = json::serialize(batch_of({request("a")}));
    auto no_key = post(fake, "/v1/messages/batches", body, {{"anthropic-version", "2023-06-01"}});
    CHECK(no_key.status == 401);
    CHECK(no_key.message() == "x-api-key header is required");
    auto no_version = post(fake, "/v1/messages/batches", body, {{"x-api-key", "test-key"}});
    CHECK(no_version.status == 400);
    CHECK(no_version.message() == "anthropic-version: header is required");

    auto id = id_of(create(fake, batch_of({request("a")})));
    auto wrong = get(fake, "/v1/messages/batches/" + id,
                     {{"x-api-key", "other"}, {"anthropic-version", "2023-06-01"}});
    CHECK(wrong.status == 401);
    CHECK(wrong.message() == "invalid x-api-key");
    CHECK(get(fake, "/v1/messages/batches/msgbatch_01Unknown").status == 404);
}

TEST_CASE("fake batches: in progress with retry-after, then ended with counts and results",
          "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 2;
    options.batches.retry_after_seconds = 10;
    fake_anthropic fake(options);
    auto id = id_of(create(fake, batch_of({request("first"), request("second"),
                                           request("bad-model", params("claude-nope-9"))})));

    for (int i = 0; i < 2; ++i) {
        auto polled = get(fake, "/v1/messages/batches/" + id);
        CHECK(polled.json().at("processing_status") == "in_progress");
        CHECK(polled.header("retry-after") == "10");
    }
    auto ended = get(fake, "/v1/messages/batches/" + id);
    auto batch = clients::parse_message_batch(ended.body);
    REQUIRE(batch);
    REQUIRE(batch->ended());
    CHECK(ended.header("retry-after").empty());
    CHECK(batch->counts.succeeded == 2);
    CHECK(batch->counts.errored == 1);
    CHECK(batch->counts.processing == 0);
    CHECK_FALSE(batch->ended_at.empty());
    CHECK(batch->results_url == fake.base_url() + "/v1/messages/batches/" + id + "/results");
    CHECK(fake.batch_polls() == 3);

    auto results = get(fake, batch->results_url);
    REQUIRE(results.status == 200);
    CHECK(results.header("Content-Type") == "application/x-jsonl");
    auto lines = clients::parse_batch_results(results.body);
    REQUIRE(lines);
    REQUIRE(lines->size() == 3);
    std::vector<std::string> order;
    for (const auto& l : *lines) {
        order.push_back(l.custom_id);
    }
    CHECK(order != std::vector<std::string>{"first", "second", "bad-model"});

    auto billed = fake.batch_billed();
    REQUIRE(billed.size() == 2);
    CHECK(fake.paid() == 0);  // nothing went through /v1/messages
    for (const auto& l : *lines) {
        if (l.custom_id == "bad-model") {
            CHECK(l.type == "errored");
            REQUIRE(l.error);
            CHECK(l.error->type == "not_found_error");
            CHECK(l.error->message == "model: claude-nope-9");
            continue;
        }
        CHECK(l.type == "succeeded");
        REQUIRE(l.reply);
        CHECK(l.reply->usage.service_tier == "batch");
        CHECK(l.reply->model == "claude-haiku-4-5-20251001");
        const auto& b = l.custom_id == billed[0].custom_id ? billed[0] : billed[1];
        CHECK(b.custom_id == l.custom_id);
        CHECK(l.reply->usage.input_tokens == b.usage.input_tokens);
        CHECK(l.reply->usage.output_tokens == b.usage.output_tokens);
        CHECK(l.reply->usage.cache_creation_input_tokens ==
              b.usage.cache_write_5m + b.usage.cache_write_1h);
        CHECK(b.usage.output_tokens > 0);
    }
    // Fetching again shows the same lines and bills nothing more.
    CHECK(get(fake, batch->results_url).body == results.body);
    CHECK(fake.batch_billed().size() == 2);
}

TEST_CASE("fake batches: invalid params become errored lines, not a refused batch", "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 0;
    fake_anthropic fake(options);
    auto streaming = params();
    streaming.as_object()["stream"] = true;
    auto no_tokens = params();
    no_tokens.as_object().erase("max_tokens");
    auto created = create(fake, batch_of({request("s", streaming), request("m", no_tokens)}));
    REQUIRE(created.status == 200);
    auto ended = retrieve_until_ended(fake, id_of(created));
    auto url = std::string(ended.json().at("results_url").as_string());
    auto lines = clients::parse_batch_results(get(fake, url).body);
    REQUIRE(lines);
    REQUIRE(lines->size() == 2);
    for (const auto& l : *lines) {
        CHECK(l.type == "errored");
        REQUIRE(l.error);
        CHECK(l.error->type == "invalid_request_error");
        CHECK(l.error->status == 400);
        CHECK(l.error->message == (l.custom_id == "s" ? "stream: Extra inputs are not permitted"
                                                      : "max_tokens: Field required"));
    }
    CHECK(fake.batch_billed().empty());
}

TEST_CASE("fake batches: processing time on the injected clock", "[clients]") {
    manual_clock time(1'700'000'000'000);
    fakes::fake_anthropic_options options;
    options.time = &time;
    options.batches.in_progress_polls = 0;
    options.batches.processing_time = std::chrono::minutes(5);
    fake_anthropic fake(options);
    auto id = id_of(create(fake, batch_of({request("a")})));
    CHECK(get(fake, "/v1/messages/batches/" + id).json().at("processing_status") == "in_progress");
    time.advance_ms(5 * 60'000);
    auto ended = get(fake, "/v1/messages/batches/" + id).json();
    CHECK(ended.at("processing_status") == "ended");
    CHECK(ended.at("created_at") == "2023-11-14T22:13:20Z");
    CHECK(ended.at("expires_at") == "2023-11-15T22:13:20Z");
}

TEST_CASE("fake batches: cancel, injected lines, an unusual results path, and stats", "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 1;
    options.batches.unusual_results_path = true;
    fake_anthropic fake(options);

    auto canceled_id = id_of(create(fake, batch_of({request("c1"), request("c2")})));
    auto canceling =
        post(fake, "/v1/messages/batches/" + canceled_id + "/cancel", "", good_headers).json();
    CHECK(canceling.at("processing_status") == "canceling");
    CHECK(canceling.at("cancel_initiated_at").is_string());
    auto ended = get(fake, "/v1/messages/batches/" + canceled_id).json();
    CHECK(ended.at("processing_status") == "ended");
    CHECK(ended.at("request_counts").at("canceled") == 2);
    auto url = std::string(ended.at("results_url").as_string());
    CHECK(url.find("/v1/files/") != std::string::npos);
    auto canceled = clients::parse_batch_results(get(fake, url).body);
    REQUIRE(canceled);
    CHECK(canceled->at(0).type == "canceled");

    fake.inject_batch_line({"x1", "expired", "", ""});
    fake.inject_batch_line({"x2", "errored", "overloaded_error", "Overloaded"});
    auto id = id_of(create(fake, batch_of({request("x1"), request("x2"), request("x3")})));
    auto done = retrieve_until_ended(fake, id);
    auto lines = clients::parse_batch_results(
        get(fake, std::string(done.json().at("results_url").as_string())).body);
    REQUIRE(lines);
    std::map<std::string, std::string> types;
    for (const auto& l : *lines) {
        types[l.custom_id] = l.type;
        if (l.custom_id == "x2") {
            REQUIRE(l.error);
            CHECK(l.error->status == 529);
        }
    }
    CHECK(types == std::map<std::string, std::string>{
                       {"x1", "expired"}, {"x2", "errored"}, {"x3", "succeeded"}});

    auto stats = get(fake, "/_fake/stats").json();
    CHECK(stats.at("batches_created") == 2);
    CHECK(stats.at("batch_requests_billed") == 1);
    CHECK(stats.at("batch_polls").as_int64() == static_cast<std::int64_t>(fake.batch_polls()));
}

TEST_CASE("fake batches: the list is newest first, paged by after_id and before_id", "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 1'000;  // listing counts as polling: none ends here
    fake_anthropic fake(options);
    std::vector<std::string> ids;  // oldest first
    for (int i = 0; i < 5; ++i) {
        ids.push_back(id_of(create(fake, batch_of({request("l" + std::to_string(i))}))));
    }
    auto ids_of = [](const json::object& page) {
        std::vector<std::string> out;
        for (const auto& b : page.at("data").as_array()) {
            CHECK(b.at("type") == "message_batch");
            out.emplace_back(b.at("id").as_string());
        }
        return out;
    };

    auto all = get(fake, "/v1/messages/batches").json();
    CHECK(ids_of(all) == std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]});
    CHECK(all.at("has_more") == false);
    CHECK(all.at("first_id").as_string() == ids[4]);
    CHECK(all.at("last_id").as_string() == ids[0]);

    auto first = get(fake, "/v1/messages/batches?limit=2").json();
    CHECK(ids_of(first) == std::vector<std::string>{ids[4], ids[3]});
    CHECK(first.at("has_more") == true);
    auto older = get(fake, "/v1/messages/batches?limit=2&after_id=" + ids[3]).json();
    CHECK(ids_of(older) == std::vector<std::string>{ids[2], ids[1]});
    CHECK(older.at("has_more") == true);
    auto last = get(fake, "/v1/messages/batches?limit=2&after_id=" + ids[1]).json();
    CHECK(ids_of(last) == std::vector<std::string>{ids[0]});
    CHECK(last.at("has_more") == false);
    auto newer = get(fake, "/v1/messages/batches?limit=2&before_id=" + ids[1]).json();
    CHECK(ids_of(newer) == std::vector<std::string>{ids[3], ids[2]});
    CHECK(newer.at("has_more") == true);

    // What the client reads of it.
    auto page = clients::parse_batch_page(get(fake, "/v1/messages/batches?limit=2").body);
    REQUIRE(page);
    REQUIRE(page->data.size() == 2);
    CHECK(page->data[0].id == ids[4]);
    CHECK(page->data[0].processing_status == "in_progress");
    CHECK_FALSE(page->data[0].created_at.empty());
    CHECK(page->has_more);
    CHECK(page->last_id == ids[3]);

    for (const char* bad : {"0", "1001", "ten"}) {
        auto refused = get(fake, std::string("/v1/messages/batches?limit=") + bad);
        CHECK(refused.status == 400);
        CHECK(refused.json().at("error").at("type") == "invalid_request_error");
        CHECK(refused.message().rfind("limit: ", 0) == 0);
    }
    CHECK(get(fake, "/v1/messages/batches", {{"anthropic-version", "2023-06-01"}}).status == 401);
}

TEST_CASE("fake batches: a late create answer still made the batch", "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.create_answer_delay = std::chrono::milliseconds(200);
    fake_anthropic fake(options);
    httplib::Client client("127.0.0.1", fake.port());
    client.set_read_timeout(0, 50'000);  // 50 ms: gives up before the answer
    auto res = client.Post("/v1/messages/batches", good_headers,
                           json::serialize(batch_of({request("late")})), "application/json");
    CHECK_FALSE(res);
    // The server may not have read the request yet when the client gave up: wait for it.
    for (int i = 0; i < 500 && fake.batches_created() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(fake.batches_created() == 1);
    auto page = get(fake, "/v1/messages/batches").json();
    CHECK(page.at("data").as_array().size() == 1);
}

TEST_CASE("fake batches: over the per-minute limit a call is answered 429 with retry-after",
          "[clients]") {
    manual_clock time(1'700'000'000'000);
    fakes::fake_anthropic_options options;
    options.time = &time;
    options.batches.requests_per_minute = 2;
    fake_anthropic fake(options);
    auto made = create(fake, batch_of({request("a")}));
    REQUIRE(made.status == 200);
    auto id = id_of(made);
    CHECK(get(fake, "/v1/messages/batches/" + id).status == 200);

    auto limited = get(fake, "/v1/messages/batches/" + id);
    CHECK(limited.status == 429);
    CHECK(limited.json().at("error").at("type") == "rate_limit_error");
    CHECK(limited.message().find("2 requests per minute") != std::string::npos);
    CHECK(limited.header("retry-after") == "30");  // one call's share of a minute
    CHECK(limited.header("x-should-retry") == "true");
    // Creates and lists count against the same limit; a refused create makes no batch.
    CHECK(create(fake, batch_of({request("b")})).status == 429);
    CHECK(get(fake, "/v1/messages/batches").status == 429);
    CHECK(fake.batches_created() == 1);
    CHECK(fake.batch_calls_refused() == 3);

    time.advance_ms(29'000);
    CHECK(get(fake, "/v1/messages/batches/" + id).status == 429);
    time.advance_ms(1'000);
    CHECK(get(fake, "/v1/messages/batches/" + id).status == 200);
}

TEST_CASE("fake batches: error dice on the endpoints and on the result lines", "[clients]") {
    SECTION("every call overloaded") {
        fakes::fake_anthropic_options options;
        options.batches.overloaded_share = 1.0;
        fake_anthropic fake(options);
        auto refused = create(fake, batch_of({request("a")}));
        CHECK(refused.status == 529);
        CHECK(refused.json().at("error").at("type") == "overloaded_error");
        CHECK(fake.batches_created() == 0);
        CHECK(get(fake, "/v1/messages/batches").status == 529);
        CHECK(fake.batch_calls_refused() == 2);
    }
    SECTION("every call an internal error") {
        fakes::fake_anthropic_options options;
        options.batches.internal_share = 1.0;
        fake_anthropic fake(options);
        auto refused = create(fake, batch_of({request("a")}));
        CHECK(refused.status == 500);
        CHECK(refused.json().at("error").at("type") == "api_error");
        CHECK(fake.batches_created() == 0);
    }
    SECTION("lines errored or expired, none billed") {
        fakes::fake_anthropic_options options;
        options.batches.errored_line_share = 0.5;
        options.batches.expired_line_share = 0.5;
        fake_anthropic fake(options);
        std::initializer_list<json::object> many = {request("a"), request("b"), request("c"),
                                                    request("d"), request("e"), request("f")};
        auto id = id_of(create(fake, batch_of(many)));
        auto ended = retrieve_until_ended(fake, id).json();
        REQUIRE(ended.at("processing_status") == "ended");
        auto counts = ended.at("request_counts").as_object();
        CHECK(counts.at("succeeded") == 0);
        CHECK(counts.at("errored").to_number<int>() + counts.at("expired").to_number<int>() == 6);
        CHECK(counts.at("errored").to_number<int>() > 0);
        CHECK(counts.at("expired").to_number<int>() > 0);
        auto lines = clients::parse_batch_results(
            get(fake, std::string(ended.at("results_url").as_string())).body);
        REQUIRE(lines);
        for (const auto& l : *lines) {
            if (l.type == "errored") {
                REQUIRE(l.error);
                CHECK(l.error->type == "api_error");
            } else {
                CHECK(l.type == "expired");
            }
        }
        CHECK(fake.batch_billed().empty());
    }
}

TEST_CASE("fake batches: a due batch ends when it is listed, as it would upstream", "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 1;
    fake_anthropic fake(options);
    auto id = id_of(create(fake, batch_of({request("a")})));
    auto first = get(fake, "/v1/messages/batches").json();
    CHECK(first.at("data").at(0).at("processing_status") == "in_progress");
    auto second = get(fake, "/v1/messages/batches").json();
    const auto& listed = second.at("data").at(0);
    CHECK(listed.at("id").as_string() == id);
    CHECK(listed.at("processing_status") == "ended");
    CHECK(get(fake, std::string(listed.at("results_url").as_string())).status == 200);
    CHECK(fake.batch_billed().size() == 1);
}

namespace {

reply remove(const fake_anthropic& fake, const std::string& id,
             const httplib::Headers& headers = good_headers) {
    httplib::Client client("127.0.0.1", fake.port());
    auto res = client.Delete(("/v1/messages/batches/" + id).c_str(), headers);
    REQUIRE(res);
    return reply{res->status, res->body, res->headers};
}

}  // namespace

TEST_CASE("fake batches: every answer carries a request-id that an error's body repeats",
          "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 1;
    fake_anthropic fake(options);
    auto created = create(fake, batch_of({request("a")}));
    auto id = id_of(created);
    std::vector<reply> answers{
        created,
        get(fake, "/v1/messages/batches/" + id),
        get(fake, "/v1/messages/batches/" + id + "/results"),  // 404: not ended yet
        get(fake, "/v1/messages/batches"),
        get(fake, "/v1/messages/batches?limit=0"),  // 400
        get(fake, "/v1/messages/batches/msgbatch_01Unknown"),
        create(fake, json::object{{"requests", json::array{}}}),
        post(fake, "/v1/messages/batches/" + id + "/cancel", ""),
    };
    std::set<std::string> seen;
    for (const auto& a : answers) {
        INFO(a.status << " " << a.body);
        auto request_id = a.header("request-id");
        CHECK(request_id.rfind("req_", 0) == 0);
        CHECK(seen.insert(request_id).second);
        if (a.status != 200) {
            CHECK(a.json().at("request_id") == request_id.c_str());
        }
    }
    auto results =
        get(fake, std::string(retrieve_until_ended(fake, id).json().at("results_url").as_string()));
    CHECK(results.status == 200);
    CHECK(results.header("request-id").rfind("req_", 0) == 0);
}

TEST_CASE("fake batches: max_tokens 0 in a batch line is an errored line, unlike on /v1/messages",
          "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 0;
    fake_anthropic fake(options);
    auto zero = params();
    zero.as_object()["max_tokens"] = 0;
    auto negative = params();
    negative.as_object()["max_tokens"] = -1;

    // The synchronous endpoint takes 0 (it fills the prompt cache without an answer).
    auto sync = post(fake, "/v1/messages", json::serialize(zero));
    CHECK(sync.status == 200);
    CHECK(sync.json().at("stop_reason") == "max_tokens");

    // In a batch the line errors; the batch itself is created (params are checked later).
    auto created = create(
        fake, batch_of({request("zero", zero), request("negative", negative), request("fine")}));
    REQUIRE(created.status == 200);
    auto ended = retrieve_until_ended(fake, id_of(created));
    auto lines = clients::parse_batch_results(
        get(fake, std::string(ended.json().at("results_url").as_string())).body);
    REQUIRE(lines);
    std::map<std::string, std::string> messages;
    for (const auto& l : *lines) {
        if (l.type == "errored") {
            REQUIRE(l.error);
            CHECK(l.error->type == "invalid_request_error");
            messages[l.custom_id] = l.error->message;
        } else {
            CHECK(l.type == "succeeded");
            CHECK(l.custom_id == "fine");
        }
    }
    CHECK(messages == std::map<std::string, std::string>{
                          {"zero", "max_tokens: must be greater than or equal to 1"},
                          {"negative", "max_tokens: must be greater than or equal to 1"}});
    CHECK(ended.json().at("request_counts").at("errored") == 2);
    CHECK(fake.batch_billed().size() == 1);
}

TEST_CASE("fake batches: only an ended batch is deleted, then it is gone", "[clients]") {
    fakes::fake_anthropic_options options;
    options.batches.in_progress_polls = 1;
    fake_anthropic fake(options);
    auto id = id_of(create(fake, batch_of({request("a")})));
    auto other = id_of(create(fake, batch_of({request("b")})));

    auto early = remove(fake, id);
    CHECK(early.status == 400);
    CHECK(early.json().at("error").at("type") == "invalid_request_error");
    CHECK(early.header("request-id").rfind("req_", 0) == 0);
    CHECK(get(fake, "/v1/messages/batches/" + id).status == 200);

    REQUIRE(retrieve_until_ended(fake, id).json().at("processing_status") == "ended");
    auto deleted = remove(fake, id);
    CHECK(deleted.status == 200);
    CHECK(deleted.json() == json::object{{"id", id}, {"type", "message_batch_deleted"}});
    CHECK(deleted.header("request-id").rfind("req_", 0) == 0);

    CHECK(get(fake, "/v1/messages/batches/" + id).status == 404);
    CHECK(get(fake, "/v1/messages/batches/" + id + "/results").status == 404);
    auto again = remove(fake, id);
    CHECK(again.status == 404);
    CHECK(again.json().at("error").at("type") == "not_found_error");
    auto listed = get(fake, "/v1/messages/batches").json().at("data").as_array();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("id").as_string() == other);

    auto no_key = remove(fake, other, {{"anthropic-version", "2023-06-01"}});
    CHECK(no_key.status == 401);
    CHECK(no_key.json().at("error").at("type") == "authentication_error");
}

TEST_CASE("fake batches: a doubled anthropic-version header is not a valid version", "[clients]") {
    fake_anthropic fake;
    auto doubled = post(fake, "/v1/messages/batches", json::serialize(batch_of({request("a")})),
                        {{"x-api-key", "test-key"},
                         {"anthropic-version", "2023-06-01"},
                         {"anthropic-version", "2023-06-01"}});
    CHECK(doubled.status == 400);
    CHECK(doubled.json().at("error").at("type") == "invalid_request_error");
    CHECK(doubled.message() ==
          "anthropic-version: \"2023-06-01, 2023-06-01\" is not a valid version");
    CHECK(fake.batches_created() == 0);
}
