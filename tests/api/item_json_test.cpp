// The JSON form of a submission: fields read with their types, photos checked for shape, count
// and size before anything is decoded, and each refusal pointing at its member.
#include "api/item_json.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "core/base64.hpp"

using namespace boomer;
using api::read_item_json;

namespace {

pipeline::intake_limits small_limits() {
    pipeline::intake_limits limits;
    limits.max_files = 3;
    limits.max_file_bytes = 100;
    return limits;
}

struct reading {
    simdjson::dom::parser parser;
    result<api::item_json, api::input_error> item;

    explicit reading(const std::string& body,
                     const pipeline::intake_limits& limits = small_limits())
        : item(read_item_json(body, parser, limits)) {}

    void refused(std::string_view code, std::string_view pointer) const {
        REQUIRE_FALSE(item);
        INFO(item.error().what.message);
        CHECK(item.error().what.code == code);
        CHECK(item.error().pointer == pointer);
        CHECK_FALSE(item.error().what.message.empty());
    }
};

}  // namespace

TEST_CASE("item json: every field is read, null counts as absent", "[api]") {
    reading r(R"({"title_hint": "Lamp", "sku": "A-1", "condition": null, "category_id": 15230,
                  "priority": "bulk",
                  "photos": [{"data": "aGVsbG8=", "filename": "a.jpg", "content_type": "x"},
                             {"url": "https://photos.example/sets/back.jpg?x=1"}]})");
    REQUIRE(r.item);
    const auto& req = r.item->request;
    CHECK(req.title_hint == "Lamp");
    CHECK(req.sku == "A-1");
    CHECK(req.condition.empty());
    CHECK(req.category_hint == "15230");
    CHECK(req.prio == store::priority::bulk);
    REQUIRE(r.item->photos.size() == 2);
    CHECK(r.item->photos[0].filename == "a.jpg");
    CHECK(r.item->photos[1].filename == "back.jpg");  // named after the URL's last segment

    auto decoded = api::decode_photos(*r.item, small_limits());
    REQUIRE(decoded);
    CHECK(r.item->photos[0].bytes == "hello");
    r.item->photos[1].bytes = "fetched";
    api::attach_photos(*r.item);
    REQUIRE(r.item->request.files.size() == 2);
    CHECK(r.item->request.files[1].bytes == "fetched");
}

TEST_CASE("item json: malformed bodies and wrong types point at their member", "[api]") {
    reading("{\"photos\": [").refused("malformed_json", "");
    reading("\"photos\"").refused("invalid_field", "");
    reading(R"({"photos": [{"data": "aGk="}], "sku": 12})").refused("invalid_field", "/sku");
    reading(R"({"photos": [{"data": "aGk="}], "category_id": -3})")
        .refused("invalid_field", "/category_id");
    reading(R"({"photos": [{"data": "aGk="}], "priority": "now"})")
        .refused("invalid_field", "/priority");
    reading(R"({"photos": {"data": "aGk="}})").refused("invalid_field", "/photos");
    reading(R"({"photos": ["aGk="]})").refused("invalid_field", "/photos/0");
    reading(R"({"photos": [{"data": "aGk="}, {"url": 7}]})")
        .refused("invalid_field", "/photos/1/url");
    reading(R"({"photos": [{"data": "aGk=", "url": "https://a.example/x"}]})")
        .refused("invalid_field", "/photos/0");
}

TEST_CASE("item json: unknown members are refused, their names escaped in the pointer", "[api]") {
    reading(R"({"photos": [{"data": "aGk="}], "a/b~c": 1})").refused("unknown_field", "/a~1b~0c");
    reading(R"({"photos": [{"data": "aGk=", "size": 2}]})")
        .refused("unknown_field", "/photos/0/size");
}

TEST_CASE("item json: a member given twice is refused, not read twice", "[api]") {
    // Two photo arrays would otherwise pass the photo limit one array at a time.
    reading(R"({"photos": [{"data": "aGk="}, {"data": "aGk="}],
                "photos": [{"data": "aGk="}, {"data": "aGk="}]})")
        .refused("invalid_field", "/photos");
    reading(R"({"photos": [{"url": "https://a.example/x", "url": "https://b.example/y"}]})")
        .refused("invalid_field", "/photos/0/url");
}

TEST_CASE("item json: photo count and size are checked before decoding", "[api]") {
    reading(R"({"title_hint": "x"})").refused("no_files", "/photos");
    reading(R"({"photos": []})").refused("no_files", "/photos");
    reading(R"({"photos": [{"data": "aGk="}, {"data": "aGk="}, {"data": "aGk="},
                           {"data": "aGk="}]})")
        .refused("too_many_files", "/photos");
    // 300 base64 characters decode to 225 bytes, over the 100-byte limit: refused unread.
    reading(R"({"photos": [{"data": ")" + std::string(300, '!') + R"("}]})")
        .refused("file_too_large", "/photos/0/data");
}

TEST_CASE("item json: bad base64 and photos over the limit fail decoding", "[api]") {
    reading bad(R"({"photos": [{"data": "aGk="}, {"data": "a$k="}]})");
    REQUIRE(bad.item);
    auto refused = api::decode_photos(*bad.item, small_limits());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().what.code == "invalid_base64");
    CHECK(refused.error().pointer == "/photos/1/data");

    // 101 bytes with line breaks: short enough to pass the first check, over the limit decoded.
    std::string text = base64_encode(std::string(101, 'x'));
    text.insert(40, "\\r\\n");
    reading big(R"({"photos": [{"data": ")" + text + R"("}]})");
    REQUIRE(big.item);
    auto over = api::decode_photos(*big.item, small_limits());
    REQUIRE_FALSE(over);
    CHECK(over.error().what.code == "file_too_large");
}
