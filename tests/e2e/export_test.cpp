// End to end: real photos with the sample sales history become priced items, and the eBay bulk
// listing export of the ready ones, streamed in chunks, parses back into one well-formed row
// per item whose values match the items, in the user's category, from the configured location;
// items without a category are left out and named, or written when asked for.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "pipeline/market/bulk_listing.hpp"
#include "pipeline/market/csv.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer::test;
namespace json = boost::json;
namespace market = boomer::market;

namespace {

upload photo(const std::string& name, const std::string& content_type) {
    return {"photo", name, read_file(data_dir() / "images" / name), content_type};
}

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

struct submitted {
    std::string item_id;
    std::string job_id;
};

submitted submit(api_client& api, const std::vector<upload>& photos,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
    auto res = api.post_item(photos, fields);
    REQUIRE(res);
    REQUIRE(res->status == 202);
    auto receipt = parse_object(res->body);
    return {str(receipt.at("item_id")), str(receipt.at("job_id"))};
}

std::string price_text(std::int64_t minor) {
    return fmt::format("{}.{:02}", minor / 100, minor % 100);
}

std::map<std::string, std::string> by_column(const std::vector<std::string>& header,
                                             const std::vector<std::string>& row) {
    REQUIRE(row.size() == header.size());
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < header.size(); ++i) {
        out[header[i]] = row[i];
    }
    return out;
}

}  // namespace

TEST_CASE("export: ready items become an eBay bulk listing file that parses back", "[e2e]") {
    temp_dir dir;
    service_process svc(
        dir.path(),
        {"--sales-csv", (source_dir() / "examples/sales/ebay-orders-sample.csv").string(),
         "--ship-from", "97201", "--dispatch-days", "2", "--returns-accepted", "true",
         "--shipping-profile", "Flat, USPS \"Ground\""});
    api_client api(svc.port());

    // A can whose barcode the seller sold before; a camera and a teapot named by their hints
    // (commas and quotes in the title, two photos of the teapot); a photo nothing identifies;
    // a second camera whose seller gave no category (own sales carry none).
    auto can = submit(api, {photo("ean13-can-photo-01.png", "image/png")},
                      {{"condition", "new"}, {"category_id", "11829"}});
    auto camera = submit(api, {photo("orientation-1-landscape.jpg", "image/jpeg")},
                         {{"title_hint", "Canon AE-1 35mm Film Camera, \"Body Only\""},
                          {"condition", "used"},
                          {"sku", "CAM,7"},
                          {"category_id", "15230"}});
    auto teapot = submit(api,
                         {photo("orientation-3-landscape.jpg", "image/jpeg"),
                          photo("orientation-8-landscape.jpg", "image/jpeg")},
                         {{"title_hint", "Brown Betty Teapot 6 Cup"},
                          {"condition", "used"},
                          {"category_id", "20696"}});
    auto unknown = submit(api, {photo("orientation-6-landscape.jpg", "image/jpeg")}, {});
    auto uncategorized = submit(
        api, {photo("orientation-2-landscape.jpg", "image/jpeg")},
        {{"title_hint", "Canon AE-1 35mm Film Camera, \"Body Only\""}, {"condition", "used"}});
    for (const auto* s : {&can, &camera, &teapot, &uncategorized}) {
        auto job = api.wait_final(s->job_id);
        INFO(json::serialize(job));
        REQUIRE(str(job.at("state")) == "succeeded");
    }
    CHECK(str(api.wait_final(unknown.job_id).at("state")) == "needs_review");

    auto res = api.get("/v1/exports/ebay.csv");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "text/csv; charset=utf-8");
    CHECK(res->get_header_value("Transfer-Encoding") == "chunked");
    CHECK(res->get_header_value("Boomer-Export-Rows") == "3");
    CHECK(res->get_header_value("Boomer-Export-Skipped") == "0");
    // The uncategorized camera is left out, and named, since eBay would refuse its row.
    CHECK(res->get_header_value("Boomer-Export-Uncategorized") == "1");
    CHECK(res->get_header_value("Boomer-Export-Uncategorized-Items") == uncategorized.item_id);
    auto records = market::read_csv(res->body);
    REQUIRE(records);
    REQUIRE(records->size() == 4);  // the header and one row per ready item
    const auto& header = (*records)[0].fields;
    CHECK(header.front() == "*Action(SiteID=US|Country=US|Currency=USD|Version=1193|CC=UTF-8)");
    CHECK(header == market::bulk_columns({}));
    CHECK(res->body.find("\r\n") != std::string::npos);

    std::map<std::string, std::map<std::string, std::string>> rows;  // by custom label
    for (std::size_t i = 1; i < records->size(); ++i) {
        auto row = by_column(header, (*records)[i].fields);
        rows[row.at("CustomLabel")] = row;
    }
    REQUIRE(rows.size() == 3);
    REQUIRE(rows.contains("CAM,7"));  // the SKU, when there is one, else the item id
    REQUIRE(rows.contains(can.item_id));
    REQUIRE(rows.contains(teapot.item_id));

    std::string base = fmt::format("http://127.0.0.1:{}", svc.port());
    for (const auto& [id, label] :
         {std::pair{can.item_id, can.item_id}, std::pair{camera.item_id, std::string("CAM,7")},
          std::pair{teapot.item_id, teapot.item_id}}) {
        auto item = parse_object(api.get("/v1/items/" + id)->body);
        const auto& listing = item.at("listing").as_object();
        const auto& row = rows.at(label);
        INFO(id);
        CHECK(row.at("*Action(SiteID=US|Country=US|Currency=USD|Version=1193|CC=UTF-8)") == "Add");
        CHECK(row.at("*Title") == str(listing.at("title")));
        CHECK(row.at("*Title").size() <= 80);
        CHECK(row.at("*ConditionID") == std::to_string(listing.at("condition_id").as_int64()));
        CHECK(row.at("*StartPrice") == price_text(listing.at("price_minor").as_int64()));
        CHECK(row.at("*Description") == market::description_html(str(listing.at("description"))));
        CHECK(row.at("*Format") == "FixedPrice");
        CHECK(row.at("*Duration") == "GTC");
        CHECK(row.at("*Quantity") == "1");
        CHECK(row.at("*Location") == "97201");
        CHECK(row.at("*DispatchTimeMax") == "2");
        CHECK(row.at("*ReturnsAcceptedOption") == "ReturnsAccepted");
        CHECK(row.at("ShippingProfileName") == "Flat, USPS \"Ground\"");
        CHECK(row.at("ReturnProfileName").empty());
        CHECK(row.at("*Category") == str(item.at("category_id")));
        CHECK(row.at("*Category") == str(item.at("comps").at("category").at("id")));
        CHECK(str(item.at("comps").at("category").at("source")) == "hint");
        CHECK(str(item.at("price").at("basis")) == "sold_comps");

        // One picture URL per photo, each served by the image route as a JPEG.
        std::string expected;
        auto photos = item.at("images").as_array().size();
        for (std::size_t n = 0; n < photos; ++n) {
            expected += fmt::format("{}{}/v1/items/{}/images/{}", n > 0 ? "|" : "", base, id, n);
        }
        CHECK(row.at("PicURL") == expected);
        auto first = api.get(fmt::format("/v1/items/{}/images/0", id));
        CHECK(first->status == 200);
        CHECK(first->get_header_value("Content-Type") == "image/jpeg");
    }
    CHECK(rows.at("CAM,7").at("*Title") == "Canon AE-1 35mm Film Camera, \"Body Only\"");
    CHECK(rows.at("CAM,7").at("*ConditionID") == "3000");
    CHECK(rows.at(can.item_id).at("*ConditionID") == "1000");
    CHECK(rows.at(can.item_id).at("C:EAN") == "8413000065504");
    CHECK(std::count(rows.at(teapot.item_id).at("PicURL").begin(),
                     rows.at(teapot.item_id).at("PicURL").end(), '|') == 1);
    CHECK(rows.at("CAM,7").at("*Category") == "15230");
    CHECK(rows.at(teapot.item_id).at("*Category") == "20696");

    // Asked for, the uncategorized item is written with its category left for the seller.
    auto all = api.get("/v1/exports/ebay.csv?uncategorized=include");
    REQUIRE(all->status == 200);
    CHECK(all->get_header_value("Boomer-Export-Rows") == "4");
    auto every = market::read_csv(all->body);
    REQUIRE(every);
    REQUIRE(every->size() == 5);
    bool found = false;
    for (std::size_t i = 1; i < every->size(); ++i) {
        auto row = by_column(header, (*every)[i].fields);
        if (row.at("CustomLabel") == uncategorized.item_id) {
            found = true;
            CHECK(row.at("*Category").empty());
            CHECK(row.at("*Location") == "97201");
        }
    }
    CHECK(found);

    // The item shows which sources answered; the metric counts them.
    auto item = parse_object(api.get("/v1/items/" + camera.item_id)->body);
    const auto& sources = item.at("comps").at("sources").as_array();
    REQUIRE(sources.size() == 1);
    CHECK(str(sources[0].at("source")) == "own_sales");
    CHECK(str(sources[0].at("outcome")) == "ok");
    CHECK(sources[0].at("count").as_int64() >= 1);
    auto metrics = api.get("/metrics")->body;
    CHECK(metrics.find("boomer_comps_source_outcomes_total"
                       R"({source="own_sales",outcome="ok"} 4)") != std::string::npos);
}

TEST_CASE("export: without --ship-from the export is refused and says how to fix it", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path());
    api_client api(svc.port());
    auto res = api.get("/v1/exports/ebay.csv");
    REQUIRE(res);
    CHECK(res->status == 409);
    CHECK(res->get_header_value("Content-Type") == "application/problem+json");
    auto problem = parse_object(res->body);
    CHECK(str(problem.at("type")) == "https://boomer.dev/problems/export-needs-location");
    CHECK(str(problem.at("detail")).find("--ship-from") != std::string::npos);

    temp_dir other;
    CHECK_THROWS(service_process(other.path(), {"--ship-from", "somewhere; DROP"}));
}

TEST_CASE("export: a bad status is a problem document, needs_review exports drafts only", "[e2e]") {
    temp_dir dir;
    service_process svc(dir.path(), {"--ship-from", "Portland, OR"});
    api_client api(svc.port());

    auto bad = api.get("/v1/exports/ebay.csv?status=running");
    REQUIRE(bad);
    CHECK(bad->status == 400);
    CHECK(bad->get_header_value("Content-Type") == "application/problem+json");
    auto problem = parse_object(bad->body);
    CHECK(str(problem.at("type")) == "https://boomer.dev/problems/invalid-status");
    CHECK(str(problem.at("detail")).find("succeeded") != std::string::npos);
    CHECK(api.get("/v1/exports/ebay.csv?status=nonsense")->status == 400);
    CHECK(api.get("/v1/exports/ebay.csv?uncategorized=maybe")->status == 400);

    // A hinted item without comps is a draft for review; one nothing identifies has no draft.
    auto hinted = submit(api, {photo("orientation-1-landscape.jpg", "image/jpeg")},
                         {{"title_hint", "Framed waterfall print\nwith mount"}});
    auto bare = submit(api, {photo("orientation-6-landscape.jpg", "image/jpeg")}, {});
    api.wait_final(hinted.job_id);
    api.wait_final(bare.job_id);

    auto empty = api.get("/v1/exports/ebay.csv");
    REQUIRE(empty->status == 200);
    auto none = market::read_csv(empty->body);
    REQUIRE(none);
    CHECK(none->size() == 1);  // the header only: nothing is ready

    auto review = api.get("/v1/exports/ebay.csv?status=needs_review&uncategorized=include");
    REQUIRE(review->status == 200);
    CHECK(review->get_header_value("Boomer-Export-Skipped") == "1");
    auto records = market::read_csv(review->body);
    REQUIRE(records);
    REQUIRE(records->size() == 2);
    auto row = by_column((*records)[0].fields, (*records)[1].fields);
    CHECK(row.at("CustomLabel") == hinted.item_id);
    CHECK(row.at("*StartPrice").empty());  // no price: left for the seller
    CHECK(row.at("*Title").find('\n') == std::string::npos);
}
