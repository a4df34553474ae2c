// End to end, as a user would: the real binary on 127.0.0.1, photos posted over HTTP, results
// read back from the API.
#include <catch2/catch.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;
namespace json = boost::json;

namespace {

upload photo(const std::string& name, const std::string& content_type = "image/png") {
    return {"photo", name, read_file(data_dir() / "images" / name), content_type};
}

std::vector<std::string> sample_sales() {
    return {"--sales-csv", (source_dir() / "examples/sales/ebay-orders-sample.csv").string()};
}

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

}  // namespace

TEST_CASE("service: a barcode photo becomes a priced listing draft", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path(), sample_sales());
    api_client api(svc.port());

    auto res = api.post_item({photo("ean13-can-photo-01.png")}, {{"condition", "new"}});
    REQUIRE(res);
    REQUIRE(res->status == 202);
    auto receipt = parse_object(res->body);
    CHECK(res->get_header_value("Location") == "/v1/items/" + str(receipt.at("item_id")));

    auto job = api.wait_final(str(receipt.at("job_id")));
    CHECK(str(job.at("state")) == "succeeded");
    CHECK(job.at("attempts").as_int64() == 1);
    CHECK(job.at("stage_ms").as_object().size() == 6);

    auto item = parse_object(api.get("/v1/items/" + str(receipt.at("item_id")))->body);
    REQUIRE(item.contains("error"));
    CHECK(item.at("error").is_null());
    const auto& codes = item.at("analysis").at("barcodes").as_array();
    REQUIRE(!codes.empty());
    CHECK(str(codes[0].at("text")) == "8413000065504");
    CHECK(str(item.at("identification").at("source")) == "sales_match");
    const auto& listing = item.at("listing").as_object();
    CHECK(!listing.at("title").as_string().empty());
    CHECK(listing.at("title").as_string().size() <= 80);
    CHECK(listing.at("price_minor").as_int64() > 0);
    CHECK(item.at("price").at("count").as_int64() >= 1);

    // The normalized photo is served as a JPEG with no metadata segment.
    auto img = api.get("/v1/items/" + str(receipt.at("item_id")) + "/images/0");
    REQUIRE(img->status == 200);
    CHECK(img->get_header_value("Content-Type") == "image/jpeg");
    REQUIRE(img->body.size() > 4);
    CHECK(static_cast<unsigned char>(img->body[0]) == 0xFF);
    CHECK(static_cast<unsigned char>(img->body[1]) == 0xD8);
    CHECK(img->body.find("Exif") == std::string::npos);
}

TEST_CASE("service: an item nothing identifies ends needs_review with its analysis", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());

    auto res = api.post_item({photo("orientation-6-landscape.jpg", "image/jpeg")});
    REQUIRE(res->status == 202);
    auto receipt = parse_object(res->body);
    auto job = api.wait_final(str(receipt.at("job_id")));
    CHECK(str(job.at("state")) == "needs_review");
    CHECK(str(job.at("error").at("code")) == "not_identified");

    auto item = parse_object(api.get("/v1/items/" + str(receipt.at("item_id")))->body);
    const auto& norm = item.at("images").at(0).at("normalized").as_object();
    CHECK(norm.at("width").as_int64() == 1568);  // stored 1200x1800 with orientation 6
    CHECK(norm.at("height").as_int64() == 1045);
    CHECK(norm.at("exif_orientation").as_int64() == 6);
    CHECK(item.at("analysis").is_object());
    CHECK(item.at("listing").is_null());
}

TEST_CASE("service: a title hint without comps drafts a listing for review", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());

    auto res = api.post_item({photo("orientation-1-landscape.jpg", "image/jpeg")},
                             {{"title_hint", "Framed waterfall landscape print, 18x12"},
                              {"condition", "used"},
                              {"priority", "urgent"},
                              {"sku", "A-17"}});
    REQUIRE(res->status == 202);
    auto receipt = parse_object(res->body);
    auto job = api.wait_final(str(receipt.at("job_id")));
    CHECK(str(job.at("state")) == "needs_review");
    CHECK(str(job.at("error").at("code")) == "no_price");
    CHECK(str(job.at("priority")) == "urgent");

    auto item = parse_object(api.get("/v1/items/" + str(receipt.at("item_id")))->body);
    CHECK(str(item.at("listing").at("title")) == "Framed waterfall landscape print, 18x12");
    CHECK(item.at("price").is_null());
    CHECK(str(item.at("sku")) == "A-17");
}
