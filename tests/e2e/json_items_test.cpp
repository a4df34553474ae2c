// POST /v1/items with a JSON body end to end: photos in base64 and as https URLs (served by a
// test HTTPS server on 127.0.0.1, which the service may reach only with private addresses
// allowed), idempotent replays across both forms, and a specific problem for each bad input.
#include <catch2/catch.hpp>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "core/base64.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/problems.hpp"
#include "tests/support/service_process.hpp"
#include "tests/support/tls_photo_server.hpp"

using namespace boomer::test;
namespace json = boost::json;
using boomer::base64_encode;

namespace {

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

std::string image(const std::string& name) {
    return read_file(data_dir() / "images" / name);
}

std::string body_of(const json::object& o) {
    return json::serialize(o);
}

json::object data_photo(const std::string& bytes, const std::string& filename = "") {
    json::object p{{"data", base64_encode(bytes)}};
    if (!filename.empty()) {
        p["filename"] = filename;
    }
    return p;
}

json::object url_photo(const std::string& url) {
    return {{"url", url}};
}

json::object item_with(json::array photos) {
    return {{"photos", std::move(photos)}};
}

std::int64_t item_count(api_client& api) {
    auto list = parse_object(api.get("/v1/items?limit=200")->body);
    return static_cast<std::int64_t>(list.at("items").as_array().size());
}

// A file holding the test server's certificate, for --photo-fetch-ca-file.
std::string write_ca(const temp_dir& dir, const tls_photo_server& server) {
    auto path = dir.path() / "photo-ca.pem";
    std::ofstream(path) << server.ca_pem();
    return path.string();
}

// A JPEG header declaring 20000x14000 pixels and nothing else.
std::string pixel_bomb_header() {
    std::string s = "\xFF\xD8";
    s += std::string("\xFF\xC0\x00\x0B\x08\x36\xB0\x4E\x20\x01\x01\x11\x00", 13);
    s += std::string("\xFF\xD9", 2);
    return s;
}

}  // namespace

TEST_CASE("service: a JSON item with base64 photos is taken as a multipart one is", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());
    auto photo = image("orientation-1-landscape.jpg");

    json::object item = item_with({data_photo(photo, "front.jpg")});
    item["title_hint"] = "Desk lamp";
    item["condition"] = "used";
    item["category_id"] = 15230;  // a number is taken as the id
    item["priority"] = "urgent";
    httplib::Headers key{{"Idempotency-Key", "json-77"}};
    auto res = api.post_body("/v1/items", body_of(item), "application/json", key);
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 202);
    auto receipt = parse_object(res->body);
    auto id = str(receipt.at("item_id"));
    CHECK(str(receipt.at("status")) == "queued");
    CHECK(res->get_header_value("Location") == "/v1/items/" + id);
    CHECK(str(receipt.at("links").at("job")) == "/v1/jobs/" + str(receipt.at("job_id")));

    auto job = api.wait_final(str(receipt.at("job_id")));
    CHECK(str(job.at("state")) != "failed");
    CHECK(str(job.at("priority")) == "urgent");
    auto stored = parse_object(api.get("/v1/items/" + id)->body);
    CHECK(str(stored.at("title_hint")) == "Desk lamp");
    CHECK(str(stored.at("images").at(0).at("filename")) == "front.jpg");
    CHECK(api.get("/v1/items/" + id + "/images/0")->status == 200);

    // A replay answers 200 with the same item, from JSON and from multipart alike.
    auto again = api.post_body("/v1/items", body_of(item), "application/json", key);
    REQUIRE(again->status == 200);
    CHECK(str(parse_object(again->body).at("item_id")) == id);
    auto multipart = api.post_item({{"photo", "front.jpg", photo, "image/jpeg"}},
                                   {{"title_hint", "Desk lamp"},
                                    {"condition", "used"},
                                    {"category_id", "15230"},
                                    {"priority", "urgent"}},
                                   key);
    REQUIRE(multipart->status == 200);
    CHECK(str(parse_object(multipart->body).at("item_id")) == id);

    // The same key with another photo is refused.
    json::object other = item;
    other["photos"] = json::array{data_photo(image("orientation-8-landscape.jpg"))};
    expect_problem(api.post_body("/v1/items", body_of(other), "application/json", key), 422,
                   "idempotency_key_reused");
    CHECK(item_count(api) == 1);
}

TEST_CASE("service: JSON submissions refuse each bad input with its own problem", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path(), {"--max-body-mb", "2"});
    api_client api(svc.port());
    auto good = data_photo(image("ean8-render-01.png"));
    auto post = [&api](const std::string& body) { return api.post_body("/v1/items", body); };

    SECTION("malformed JSON") {
        auto p = expect_problem(post("{\"photos\": [}"), 400, "malformed_json");
        CHECK(str(p.at("pointer")).empty());
    }
    SECTION("a body that is not an object") {
        auto p = expect_problem(post("[1, 2]"), 400, "invalid_field");
        CHECK(str(p.at("detail")) == "the body must be a JSON object, not an array");
        CHECK(str(p.at("pointer")).empty());
    }
    SECTION("a field of the wrong type") {
        json::object item = item_with({good});
        item["title_hint"] = 5;
        auto p = expect_problem(post(body_of(item)), 400, "invalid_field");
        CHECK(str(p.at("pointer")) == "/title_hint");
    }
    SECTION("an unknown field") {
        json::object item = item_with({good});
        item["colour"] = "red";
        auto p = expect_problem(post(body_of(item)), 400, "unknown_field");
        CHECK(str(p.at("pointer")) == "/colour");
    }
    SECTION("an unknown member of a photo") {
        json::object photo = good;
        photo["caption"] = "x";
        auto p = expect_problem(post(body_of(item_with({photo}))), 400, "unknown_field");
        CHECK(str(p.at("pointer")) == "/photos/0/caption");
    }
    SECTION("a photo with both data and url, or neither") {
        json::object both = good;
        both["url"] = "https://example.invalid/a.jpg";
        auto p = expect_problem(post(body_of(item_with({good, both}))), 400, "invalid_field");
        CHECK(str(p.at("pointer")) == "/photos/1");
        expect_problem(post(body_of(item_with({json::object{{"filename", "a.jpg"}}}))), 400,
                       "invalid_field");
    }
    SECTION("photos of the wrong type") {
        expect_problem(post("{\"photos\": \"a.jpg\"}"), 400, "invalid_field");
        expect_problem(post(body_of(item_with({json::object{{"data", 12}}}))), 400,
                       "invalid_field");
    }
    SECTION("no photos") {
        expect_problem(post("{\"title_hint\": \"lamp\"}"), 400, "no_files");
        expect_problem(post(body_of(item_with({}))), 400, "no_files");
    }
    SECTION("too many photos") {
        json::array many;
        for (int i = 0; i < 13; ++i) {
            many.push_back(good);
        }
        expect_problem(post(body_of(item_with(std::move(many)))), 413, "too_many_files");
    }
    SECTION("bad base64") {
        auto p = expect_problem(post(body_of(item_with({good, json::object{{"data", "ab$d"}}}))),
                                400, "invalid_base64");
        CHECK(str(p.at("pointer")) == "/photos/1/data");
    }
    SECTION("base64 of something that is not an image") {
        expect_problem(post(body_of(item_with({data_photo("just some text")}))), 415,
                       "unsupported_media_type");
    }
    SECTION("a decompression bomb") {
        expect_problem(post(body_of(item_with({data_photo(pixel_bomb_header())}))), 413,
                       "too_many_pixels");
    }
    SECTION("a body over the limit") {
        auto big = data_photo(std::string(3 * 1024 * 1024, 'x'));
        expect_problem(post(body_of(item_with({big}))), 413, "payload_too_large");
    }
    SECTION("an unknown priority and a bad category") {
        json::object item = item_with({good});
        item["priority"] = "soon";
        auto p = expect_problem(post(body_of(item)), 400, "invalid_field");
        CHECK(str(p.at("pointer")) == "/priority");
        item["priority"] = "bulk";
        item["category_id"] = "lamps";
        p = expect_problem(post(body_of(item)), 400, "invalid_category");
        CHECK(str(p.at("pointer")) == "/category_id");
        item["category_id"] = 0;  // a number, but no category id
        p = expect_problem(post(body_of(item)), 400, "invalid_category");
        CHECK(str(p.at("pointer")) == "/category_id");
    }
    SECTION("a text field over the limit") {
        json::object item = item_with({good});
        item["sku"] = std::string(1001, 's');
        auto p = expect_problem(post(body_of(item)), 400, "field_too_long");
        CHECK(str(p.at("pointer")) == "/sku");
    }
    SECTION("a URL that is not https") {
        auto p =
            expect_problem(post(body_of(item_with({url_photo("http://photos.example/a.jpg")}))),
                           400, "url_not_https");
        CHECK(str(p.at("pointer")) == "/photos/0/url");
        expect_problem(post(body_of(item_with({url_photo("ftp://photos.example/a.jpg")}))), 400,
                       "invalid_url");
    }
    SECTION("an Idempotency-Key over 200 characters, refused before any photo is fetched") {
        httplib::Headers key{{"Idempotency-Key", std::string(201, 'k')}};
        auto body = body_of(item_with({url_photo("https://127.0.0.1:1/a.jpg")}));
        expect_problem(api.post_body("/v1/items", body, "application/json", key), 400,
                       "bad_request");
    }
    SECTION("another content type") {
        auto res = api.post_body("/v1/items", "photos=a.jpg", "text/plain");
        auto p = expect_problem(res, 415, "unsupported_media_type");
        CHECK(p.at("accepted").as_array().size() == 2);
    }
    CHECK(item_count(api) == 0);
}

TEST_CASE("service: a photo URL is fetched when private addresses are allowed", "[e2e]") {
    temp_dir dir;
    tls_photo_server photos;
    auto jpeg = image("orientation-1-landscape.jpg");
    photos.route("/a.jpg", {200, "image/jpeg", jpeg});
    photos.route("/moved", {302, "text/plain", "", "/a.jpg"});
    service_process svc(dir.path(), {"--photo-fetch-allow-private", "--photo-fetch-ca-file",
                                     write_ca(dir, photos)});
    api_client api(svc.port());

    json::object item =
        item_with({url_photo(photos.url("/a.jpg")), url_photo(photos.url("/moved"))});
    item["title_hint"] = "Desk lamp";
    auto res = api.post_body("/v1/items", body_of(item));
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 202);
    auto receipt = parse_object(res->body);
    auto job = api.wait_final(str(receipt.at("job_id")));
    CHECK(str(job.at("state")) != "failed");
    auto stored = parse_object(api.get("/v1/items/" + str(receipt.at("item_id")))->body);
    REQUIRE(stored.at("images").as_array().size() == 2);
    CHECK(str(stored.at("images").at(0).at("filename")) == "a.jpg");
    CHECK(stored.at("images").at(0).at("bytes").as_int64() ==
          static_cast<std::int64_t>(jpeg.size()));
    CHECK(photos.requests() == 3);  // a.jpg, the redirect, and a.jpg again
    auto metrics = api.get("/metrics")->body;
    CHECK(metrics.find("boomer_photo_url_fetches_total{outcome=\"ok\"} 1") != std::string::npos);
}

TEST_CASE("service: a replay whose photo URL is gone since answers the original item", "[e2e]") {
    temp_dir dir;
    tls_photo_server photos;
    photos.route("/a.jpg", {200, "image/jpeg", image("orientation-1-landscape.jpg")});
    service_process svc(dir.path(), {"--photo-fetch-allow-private", "--photo-fetch-ca-file",
                                     write_ca(dir, photos)});
    api_client api(svc.port());
    const auto item = body_of(item_with({url_photo(photos.url("/a.jpg"))}));
    httplib::Headers key{{"Idempotency-Key", "gone-1"}};
    auto first = api.post_body("/v1/items", item, "application/json", key);
    REQUIRE(first);
    REQUIRE(first->status == 202);

    photos.route("/a.jpg", {404, "text/plain", "gone"});
    auto replay = api.post_body("/v1/items", item, "application/json", key);
    REQUIRE(replay);
    INFO(replay->body);
    CHECK(replay->status == 200);
    CHECK(str(parse_object(replay->body).at("item_id")) ==
          str(parse_object(first->body).at("item_id")));
    // Without the key the same body gets the fetch's problem.
    expect_problem(api.post_body("/v1/items", item), 422, "url_fetch_failed");
    CHECK(item_count(api) == 1);
}

TEST_CASE("service: a photo URL on a loopback address is refused without the allow flag", "[e2e]") {
    temp_dir dir;
    tls_photo_server photos;
    photos.route("/a.jpg", {200, "image/jpeg", image("orientation-1-landscape.jpg")});
    service_process svc(dir.path(), {"--photo-fetch-ca-file", write_ca(dir, photos)});
    api_client api(svc.port());

    auto p = expect_problem(
        api.post_body("/v1/items", body_of(item_with({url_photo(photos.url("/a.jpg"))}))), 422,
        "url_address_refused");
    CHECK(str(p.at("pointer")) == "/photos/0/url");
    auto by_name = "https://localhost:" + std::to_string(photos.port()) + "/a.jpg";
    expect_problem(api.post_body("/v1/items", body_of(item_with({url_photo(by_name)}))), 422,
                   "url_address_refused");
    CHECK(photos.requests() == 0);  // refused before connecting
    CHECK(item_count(api) == 0);
    auto metrics = api.get("/metrics")->body;
    CHECK(metrics.find("boomer_photo_url_fetches_total{outcome=\"url_address_refused\"} 2") !=
          std::string::npos);
}

TEST_CASE("service: photo URLs that cannot be fetched get their own problems", "[e2e]") {
    temp_dir dir;
    tls_photo_server photos;
    auto jpeg = image("orientation-1-landscape.jpg");
    photos.route("/a.jpg", {200, "image/jpeg", jpeg});
    photos.route("/page", {200, "text/html", "<html>not a photo</html>"});
    photos.route("/to-http", {302, "text/plain", "", "http://127.0.0.1:1/a.jpg"});
    photos.route("/loop", {301, "text/plain", "", "/loop"});
    photos.route("/slow", {.hang = true});
    photos.route("/endless", {.endless = true});
    service_process svc(
        dir.path(), {"--photo-fetch-allow-private", "--photo-fetch-ca-file", write_ca(dir, photos),
                     "--photo-fetch-timeout-ms", "1500", "--max-body-mb", "30"});
    api_client api(svc.port());
    auto post_urls = [&](std::vector<std::string> paths) {
        json::array list;
        for (const auto& p : paths) {
            list.push_back(url_photo(photos.url(p)));
        }
        return api.post_body("/v1/items", body_of(item_with(std::move(list))));
    };

    SECTION("an error status") {
        auto p = expect_problem(post_urls({"/a.jpg", "/missing.jpg"}), 422, "url_fetch_failed");
        CHECK(str(p.at("pointer")) == "/photos/1/url");
    }
    SECTION("an answer that is not an image") {
        expect_problem(post_urls({"/page"}), 422, "url_not_image");
    }
    SECTION("a redirect to plain http") {
        expect_problem(post_urls({"/to-http"}), 422, "url_bad_redirect");
    }
    SECTION("endless redirects") {
        expect_problem(post_urls({"/loop"}), 422, "url_too_many_redirects");
        CHECK(photos.requests() == 6);  // the first request and five redirects, no more
    }
    SECTION("no answer in time") {
        expect_problem(post_urls({"/slow"}), 504, "url_fetch_timeout");
    }
    SECTION("a photo over the size limit is not read to its end") {
        expect_problem(post_urls({"/endless"}), 413, "file_too_large");
        // 25 MiB taken, then the connection dropped (what the socket buffers held aside).
        CHECK(photos.endless_bytes() < 40ull * 1024 * 1024);
    }
    SECTION("photos over the body limit together") {
        expect_problem(post_urls({"/endless", "/endless"}), 413, "payload_too_large");
    }
    SECTION("a host that refuses connections") {
        auto res = api.post_body("/v1/items",
                                 body_of(item_with({url_photo("https://127.0.0.1:1/a.jpg")})));
        expect_problem(res, 502, "url_unreachable");
    }
    CHECK(item_count(api) == 0);
}

namespace {

// The value of an unlabelled sample in a Prometheus text page; -1 when absent.
double sample_of(const std::string& page, const std::string& name) {
    auto at = page.find("\n" + name + " ");
    if (at == std::string::npos) {
        return -1;
    }
    return std::stod(page.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("service: photo downloads past the server's pool are answered 503 until it frees",
          "[e2e]") {
    temp_dir dir;
    tls_photo_server photos;
    photos.route("/a.jpg", {200, "image/jpeg", image("orientation-1-landscape.jpg")});
    photo_route stalled{.endless = true, .stall_after = 2 * 1024 * 1024};
    photos.route("/stalled", stalled);
    service_process svc(
        dir.path(), {"--photo-fetch-allow-private", "--photo-fetch-ca-file", write_ca(dir, photos),
                     "--photo-fetch-timeout-ms", "5000", "--photo-fetch-mb", "1"});
    const std::string stalled_item = body_of(item_with({url_photo(photos.url("/stalled"))}));
    const std::string small_item = body_of(item_with({url_photo(photos.url("/a.jpg"))}));

    // The oldest submission downloading may pass the pool: its download stalls at 2 MiB, over
    // the 1 MiB pool (all but the piece the client is still filling is counted).
    std::optional<httplib::Result> first;
    std::thread slow([&] {
        api_client own(svc.port());
        first.emplace(own.post_body("/v1/items", stalled_item));
    });
    api_client api(svc.port());
    double held = 0;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (held <= 1024 * 1024 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        held = sample_of(api.get("/metrics")->body, "boomer_photo_url_fetch_bytes");
    }
    CHECK(held > 1024 * 1024);  // (no REQUIRE: the thread must be joined)

    // Meanwhile another is turned away at once, told when to come back.
    auto busy = api.post_body("/v1/items", small_item);
    auto p = expect_problem(busy, 503, "photo_fetch_busy");
    CHECK(str(p.at("pointer")) == "/photos/0/url");
    CHECK(busy->get_header_value("Retry-After") == "2");

    slow.join();
    REQUIRE(first);
    expect_problem(*first, 504, "url_fetch_timeout");
    CHECK(sample_of(api.get("/metrics")->body, "boomer_photo_url_fetch_bytes") == 0);
    CHECK(item_count(api) == 0);

    // Once the pool has room again, the same submission is taken.
    auto again = api.post_body("/v1/items", small_item);
    REQUIRE(again);
    CHECK(again->status == 202);
    CHECK(item_count(api) == 1);
}
