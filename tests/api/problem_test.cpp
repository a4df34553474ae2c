// Tests of RFC 9457 problem details: members, extensions, and the common problems.
#include "api/problem.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

namespace api = boomer::api;
namespace json = boost::json;

TEST_CASE("problem: serializes the standard members and extensions", "[api]") {
    api::problem p;
    p.status = 409;
    p.type = api::problem_type_uri("item-conflict");
    p.title = "Conflict";
    p.detail = "The item changed meanwhile.";
    p.instance = "/v1/items/itm_1";
    p.extra["retry_after_s"] = 3;
    p.extra["status"] = 200;  // an extension cannot replace a standard member

    json::object out = json::parse(api::to_json(p)).as_object();
    CHECK(out.at("type") == "https://boomer.dev/problems/item-conflict");
    CHECK(out.at("title") == "Conflict");
    CHECK(out.at("status") == 409);
    CHECK(out.at("detail") == "The item changed meanwhile.");
    CHECK(out.at("instance") == "/v1/items/itm_1");
    CHECK(out.at("retry_after_s") == 3);
    CHECK(out.size() == 6);
}

TEST_CASE("problem: an empty type reads as about:blank and empty members are left out", "[api]") {
    api::problem p;
    p.status = 500;
    p.title = "Internal Server Error";
    json::object out = json::parse(api::to_json(p)).as_object();
    CHECK(out.at("type") == "about:blank");
    CHECK(!out.contains("detail"));
    CHECK(!out.contains("instance"));
}

TEST_CASE("problem: to_response sets status, content type and body", "[api]") {
    auto res = api::to_response(api::not_found());
    CHECK(res.result_int() == 404);
    CHECK(res[api::http::field::content_type] == "application/problem+json");
    json::object out = json::parse(res.body()).as_object();
    CHECK(out.at("type") == "https://boomer.dev/problems/not-found");
    CHECK(out.at("title") == "Not Found");
    CHECK(out.at("status") == 404);
    CHECK(out.at("code") == "not_found");
}

TEST_CASE("problem: every common problem names its kind in code", "[api]") {
    for (const auto& [p, code] :
         {std::pair{api::bad_request("x"), "bad_request"}, std::pair{api::not_found(), "not_found"},
          std::pair{api::payload_too_large(1), "payload_too_large"},
          std::pair{api::method_not_allowed("PUT", "GET"), "method_not_allowed"},
          std::pair{api::internal(), "internal"}}) {
        json::object out = json::parse(api::to_json(p)).as_object();
        INFO(out);
        CHECK(out.at("code") == code);
        // The type names the same kind.
        auto slug = std::string(code);
        std::replace(slug.begin(), slug.end(), '_', '-');
        CHECK(out.at("type").as_string() == "https://boomer.dev/problems/" + slug);
    }
}

TEST_CASE("problem: common problems carry their machine-readable details", "[api]") {
    json::object too_large = json::parse(api::to_json(api::payload_too_large(1024))).as_object();
    CHECK(too_large.at("status") == 413);
    CHECK(too_large.at("limit_bytes") == 1024);
    CHECK(too_large.at("detail").as_string().find("1024") != json::string::npos);

    json::object method =
        json::parse(api::to_json(api::method_not_allowed("PUT", "GET, HEAD"))).as_object();
    CHECK(method.at("status") == 405);
    CHECK(method.at("allowed") == json::array{"GET", "HEAD"});

    json::object media = json::parse(api::to_json(api::unsupported_media_type(
                                         "text/csv", {"multipart/form-data", "application/json"})))
                             .as_object();
    CHECK(media.at("type") == "https://boomer.dev/problems/unsupported-media-type");
    CHECK(media.at("accepted") == json::array{"multipart/form-data", "application/json"});
    CHECK(media.at("detail").as_string().find("text/csv") != json::string::npos);
}

TEST_CASE("problem: from_failure keeps the code and the client message", "[api]") {
    boomer::failure f{"image_too_small", "The photo is 120x90 pixels; send at least 512.", false};
    api::problem p = api::from_failure(api::http::status::unprocessable_entity, f);
    CHECK(p.status == 422);
    CHECK(p.type == "https://boomer.dev/problems/image-too-small");
    CHECK(p.detail == f.message);
    CHECK(p.extra.at("code") == "image_too_small");
}

TEST_CASE("problem: internal says nothing about the cause", "[api]") {
    api::problem p = api::internal();
    CHECK(p.status == 500);
    CHECK(p.type == "https://boomer.dev/problems/internal");
    CHECK(p.extra == boost::json::object{{"code", "internal"}});  // its kind, nothing of the cause
    CHECK(p.detail.find("x-request-id") != std::string::npos);
}
