// Bad input end to end: each refusal is a specific problem document, nothing half-written is
// left behind, and a bad photo fails only its own item.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/problems.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;
namespace json = boost::json;

namespace {

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

upload jpeg(const std::string& name) {
    return {"photo", name, read_file(data_dir() / "images" / name), "image/jpeg"};
}

// A JPEG header declaring 20000x14000 pixels and no image data: enough to be refused from the
// header alone.
std::string pixel_bomb_header() {
    std::string s = "\xFF\xD8";
    s += std::string("\xFF\xC0\x00\x0B\x08", 5);
    s += std::string("\x36\xB0", 2);  // height 14000
    s += std::string("\x4E\x20", 2);  // width 20000
    s += std::string("\x01\x01\x11\x00", 4);
    s += std::string("\xFF\xD9", 2);
    return s;
}

std::int64_t item_count(api_client& api) {
    auto list = parse_object(api.get("/v1/items?limit=200")->body);
    return static_cast<std::int64_t>(list.at("items").as_array().size());
}

}  // namespace

TEST_CASE("service: bad submissions get specific problem documents", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path(), {"--max-body-mb", "2"});
    api_client api(svc.port());
    auto good = jpeg("orientation-1-landscape.jpg");

    SECTION("not an image") {
        expect_problem(api.post_item({{"photo", "notes.txt", "just some text", "text/plain"}}), 415,
                       "unsupported_media_type");
    }
    SECTION("too many photos") {
        std::vector<upload> many(
            13, {"photo", "tiny.png", read_file(data_dir() / "images" / "ean8-render-01.png"),
                 "image/png"});
        expect_problem(api.post_item(many), 413, "too_many_files");
    }
    SECTION("a body over the limit") {
        std::vector<upload> big(8, good);  // 8 x ~350 KB > 2 MiB
        expect_problem(api.post_item(big), 413, "payload_too_large");
    }
    SECTION("a decompression bomb is refused from its header") {
        expect_problem(api.post_item({{"photo", "bomb.jpg", pixel_bomb_header(), "image/jpeg"}}),
                       413, "too_many_pixels");
    }
    SECTION("no photo at all") {
        expect_problem(api.post_item({}, {{"title_hint", "a lamp"}}), 400, "no_files");
    }
    SECTION("an empty multipart body") {
        httplib::Client raw("127.0.0.1", svc.port());
        auto res = raw.Post("/v1/items", "--b--\r\n", "multipart/form-data; boundary=b");
        REQUIRE(res);
        CHECK(res->status == 400);
        CHECK(res->get_header_value("Content-Type") == "application/problem+json");
    }
    SECTION("neither multipart nor JSON") {
        httplib::Client raw("127.0.0.1", svc.port());
        expect_problem(
            raw.Post("/v1/items", "title_hint=lamp", "application/x-www-form-urlencoded"), 415,
            "unsupported_media_type");
    }
    SECTION("an unknown priority") {
        expect_problem(api.post_item({good}, {{"priority", "asap"}}), 400, "invalid_field");
    }
    SECTION("an unknown field") {
        expect_problem(api.post_item({good}, {{"titel_hint", "typo"}}), 400, "unknown_field");
    }
    SECTION("an unknown item, job or photo") {
        expect_problem(api.get("/v1/items/itm_00000000000000000000000000"), 404, "not_found");
        expect_problem(api.get("/v1/jobs/job_nope"), 404, "not_found");
        expect_problem(api.post("/v1/items/itm_nope/cancel"), 404, "not_found");
        expect_problem(api.get("/v1/items/itm_nope/images/0"), 404, "not_found");
    }
    SECTION("an unknown list filter") {
        expect_problem(api.get("/v1/items?status=done"), 400, "bad_request");
        expect_problem(api.get("/v1/items?limit=0"), 400, "bad_request");
    }
    // Nothing refused above left an item behind.
    CHECK(item_count(api) == 0);
}

TEST_CASE("service: a truncated photo fails its own item and not its neighbour", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());

    auto whole = read_file(data_dir() / "images" / "orientation-3-landscape.jpg");
    upload half{"photo", "half.jpg", whole.substr(0, whole.size() / 2), "image/jpeg"};

    auto bad = parse_object(api.post_item({half}, {{"title_hint", "broken"}})->body);
    auto neighbour = parse_object(
        api.post_item({jpeg("orientation-3-landscape.jpg")}, {{"title_hint", "a print"}})->body);

    auto failed = api.wait_final(str(bad.at("job_id")));
    CHECK(str(failed.at("state")) == "failed");
    CHECK(str(failed.at("error").at("code")) == "corrupt_image");
    CHECK(str(failed.at("error").at("message")).find("half.jpg") != std::string::npos);
    CHECK(failed.at("attempts").as_int64() == 1);  // permanent: never retried

    auto fine = api.wait_final(str(neighbour.at("job_id")));
    CHECK(str(fine.at("state")) != "failed");
    CHECK(api.get("/healthz")->status == 200);
}

TEST_CASE("service: an Idempotency-Key replays the original item", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());
    httplib::Headers key{{"Idempotency-Key", "order-77-photo-set"}};

    auto first = api.post_item({jpeg("orientation-1-landscape.jpg")}, {}, key);
    auto again = api.post_item({jpeg("orientation-1-landscape.jpg")}, {}, key);
    REQUIRE(first->status == 202);
    REQUIRE(again->status == 200);
    CHECK(parse_object(first->body).at("item_id") == parse_object(again->body).at("item_id"));
    CHECK(str(parse_object(again->body).at("status")) != "existing");

    // The same key with other content is refused, not silently mapped to the first item.
    expect_problem(api.post_item({jpeg("orientation-8-landscape.jpg")}, {}, key), 422,
                   "idempotency_key_reused");
    CHECK(item_count(api) == 1);
}

TEST_CASE("service: text that is not UTF-8 is repaired, so every answer stays valid JSON",
          "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());
    auto photo = jpeg("orientation-1-landscape.jpg");
    photo.filename = "bad\xFF\xFE.jpg";
    auto res = api.post_item({photo}, {{"title_hint", "lamp \xC0\xAF"}});
    REQUIRE(res->status == 202);
    auto id = str(parse_object(res->body).at("item_id"));
    auto item = parse_object(api.get("/v1/items/" + id)->body);  // throws on invalid JSON
    CHECK(str(item.at("title_hint")) == "lamp \xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(str(item.at("images").at(0).at("filename")) == "bad\xEF\xBF\xBD\xEF\xBF\xBD.jpg");
    CHECK_NOTHROW(parse_object(api.get("/v1/items")->body));
    expect_problem(api.get("/v1/jobs/%FF"), 404, "not_found");
}

TEST_CASE("service: items are listed newest first with a cursor, and can be canceled", "[e2e]") {
    temp_dir dir;
    // One worker and a queue of five: the later items are still queued when canceled.
    service_process svc(dir.path(), {"--workers", "1"});
    api_client api(svc.port());

    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        auto r = parse_object(api.post_item({jpeg("orientation-8-landscape.jpg")})->body);
        ids.push_back(str(r.at("item_id")));
    }
    auto all = parse_object(api.get("/v1/items?limit=5")->body);
    CHECK(all.at("next_cursor").is_null());  // an exactly full last page says so
    auto page1 = parse_object(api.get("/v1/items?limit=2")->body);
    REQUIRE(page1.at("items").as_array().size() == 2);
    CHECK(str(page1.at("items").at(0).at("item_id")) == ids[4]);
    CHECK(str(page1.at("items").at(1).at("item_id")) == ids[3]);
    auto cursor = str(page1.at("next_cursor"));
    auto page2 = parse_object(api.get("/v1/items?limit=2&cursor=" + cursor)->body);
    CHECK(str(page2.at("items").at(0).at("item_id")) == ids[2]);

    auto canceled = api.post("/v1/items/" + ids[4] + "/cancel");
    REQUIRE(canceled->status == 200);
    auto item = parse_object(api.get("/v1/items/" + ids[4])->body);
    CHECK(str(item.at("status")) == "canceled");
    CHECK(api.post("/v1/items/" + ids[4] + "/cancel")->status == 409);
    // A cancellation is a final state like any other, counted once and logged.
    CHECK_THAT(api.get("/metrics")->body,
               Catch::Contains("boomer_items_finished_total{state=\"canceled\"} 1\n"));
    CHECK_THAT(
        svc.log_text(),
        Catch::Contains("\"event\":\"item_finished\",\"item_id\":\"" + ids[4] + "\",\"job_id\":\"" +
                        str(item.at("job_id")) + "\",\"state\":\"canceled\""));

    auto only_canceled = parse_object(api.get("/v1/items?status=canceled")->body);
    CHECK(only_canceled.at("items").as_array().size() == 1);

    // A canceled item can be queued again.
    CHECK(api.post("/v1/items/" + ids[4] + "/retry")->status == 202);
    auto job = api.wait_final(str(item.at("job_id")));
    CHECK(str(job.at("state")) == "needs_review");
}

TEST_CASE("service: a bad memory bound is refused at start, naming the flag", "[e2e]") {
    for (const char* bad : {"-1", "lots", "2000000"}) {
        INFO(bad);
        // Under `timeout`: a service that accepted the value would otherwise serve forever.
        const std::string command =
            "timeout 20 " + boomer_binary().string() + " serve --max-in-flight-mb " + bad + " 2>&1";
        FILE* out = ::popen(command.c_str(), "r");
        REQUIRE(out != nullptr);
        std::string text;
        char chunk[256];
        while (std::fgets(chunk, sizeof chunk, out) != nullptr) {
            text += chunk;
        }
        int status = ::pclose(out);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) != 0);
        CHECK(text.find("--max-in-flight-mb") != std::string::npos);
        CHECK(text.find("not in range") != std::string::npos);
    }
}
