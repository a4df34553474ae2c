// The whole service with its market sources against the fakes: a real photo identified by the
// fake Claude, comps from the fake eBay's Browse API (active listings) and sold-listings page,
// priced from the sold evidence, exported as a bulk listing file; and each way a market source
// fails (quota, changed page, expired token, timeout, everything down) as the item and the
// metrics show it.
#include <catch2/catch.hpp>

#include "core/clock.hpp"
#include "pipeline/image/analyze.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/fakes/fake_ebay.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace boomer::test;
namespace json = boost::json;
using fakes::ebay_endpoint;

namespace {

const char* const camera_photo = "orientation-1-landscape.jpg";
const char* const camera_query = "canon ae-1 program 35mm slr";

std::string str(const json::value& v) {
    return std::string(v.as_string());
}

// YYYY-MM-DD `days` before today.
std::string days_ago(int days) {
    return iso8601_utc(system_clock::instance().now_ms() - days * 86'400'000LL).substr(0, 10);
}

fakes::fake_listing listing(std::string id, std::string price, std::optional<std::string> ship,
                            std::string sold_date = {}) {
    fakes::fake_listing l;
    l.item_id = std::move(id);
    l.title = "Canon AE-1 Program 35mm SLR Film Camera Body";
    l.price = std::move(price);
    l.shipping = std::move(ship);
    l.sold_date = std::move(sold_date);
    return l;
}

// Both fakes and one service using them: Browse and the sold page enabled.
struct market_service {
    fakes::fake_anthropic claude;
    fakes::fake_ebay ebay;
    temp_dir dir;
    std::optional<service_process> svc;
    std::optional<api_client> api;

    market_service() { identify_as(camera_photo, camera_query); }

    // identify_as makes the fake Claude answer confidently for `photo`, searching `query`.
    void identify_as(const char* photo, const char* query) {
        image::normalize_limits limits;
        limits.max_pixels = 50'000'000;  // the service's default --max-megapixels
        auto done = image::process(read_file(data_dir() / "images" / photo), limits);
        REQUIRE(done);
        claude.add_fixture(done->image.sha256, "claude-haiku-4-5",
                           {{"title", "Canon AE-1 Program 35mm SLR Film Camera"},
                            {"brand", "Canon"},
                            {"model", "AE-1 Program"},
                            {"category_path", json::array{"Cameras & Photo", "Film Cameras"}},
                            {"condition_guess", "used"},
                            {"search_query", query},
                            {"price_estimate", {{"amount", 149.0}, {"currency", "USD"}}},
                            {"overall_confidence", 0.92}});
    }

    void start(std::vector<std::pair<std::string, std::string>> extra = {}) {
        std::vector<std::pair<std::string, std::string>> vars{
            {"ANTHROPIC_API_KEY", "test-key"},  {"ANTHROPIC_BASE_URL", claude.base_url()},
            {"EBAY_CLIENT_ID", "test-app-id"},  {"EBAY_CLIENT_SECRET", "test-cert-id"},
            {"EBAY_BASE_URL", ebay.base_url()}, {"EBAY_WEB_BASE_URL", ebay.base_url()},
            {"EBAY_SOLD_PAGE_ENABLED", "1"}};
        vars.insert(vars.end(), extra.begin(), extra.end());
        scoped_env env(std::move(vars));
        svc.emplace(dir.path());
        api.emplace(svc->port());
    }

    json::object camera_item(const char* photo = camera_photo) {
        auto res = api->post_item(
            {{"photo", photo, read_file(data_dir() / "images" / photo), "image/jpeg"}});
        REQUIRE(res);
        REQUIRE(res->status == 202);
        auto receipt = parse_object(res->body);
        auto job = api->wait_final(str(receipt.at("job_id")));
        auto item = parse_object(api->get("/v1/items/" + str(receipt.at("item_id")))->body);
        item["job"] = std::move(job);
        return item;
    }
};

// The outcome the item's comps record for `source`.
json::object outcome(const json::object& item, const std::string& source) {
    for (const auto& o : item.at("comps").at("sources").as_array()) {
        if (str(o.at("source")) == source) {
            return o.as_object();
        }
    }
    FAIL("no outcome for " << source << " in " << json::serialize(item.at("comps")));
    return {};
}

}  // namespace

TEST_CASE("service with eBay: sold comps price the item, active ones are the competition",
          "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_active(camera_query, listing("1102", "209.99", "0.00"));
    t.ebay.add_active(camera_query, listing("1103", "199.00", "15.00"));
    t.ebay.add_sold(camera_query, listing("2201", "150.00", "12.50", days_ago(3)));
    t.ebay.add_sold(camera_query, listing("2202", "165.00", "10.00", days_ago(9)));
    t.ebay.add_sold(camera_query, listing("2203", "172.50", "0.00", days_ago(20)));
    t.ebay.add_sold(camera_query, listing("2204", "158.00", "9.99", days_ago(41)));
    t.start();

    auto item = t.camera_item();
    CHECK(str(item.at("job").at("state")) == "succeeded");
    CHECK(outcome(item, "ebay_browse").at("outcome") == "ok");
    CHECK(outcome(item, "ebay_browse").at("count") == 3);
    CHECK(outcome(item, "ebay_sold_page").at("outcome") == "ok");
    CHECK(outcome(item, "ebay_sold_page").at("count") == 4);

    const auto& price = item.at("price").as_object();
    INFO(json::serialize(price));
    CHECK(str(price.at("basis")) == "sold_comps");
    // Sold, shipping included: 162.50, 175.00, 172.50, 167.99 → median (167.99 + 172.50) / 2.
    CHECK(price.at("median_minor") == 17025);
    CHECK(price.at("sold").at("count") == 4);
    CHECK(price.at("active").at("count") == 3);
    // Active, shipping included: 199.99, 209.99, 214.00.
    CHECK(price.at("active").at("median_minor") == 20999);
    CHECK(price.at("sell_through").at("rate").as_double() == Approx(4.0 / 7.0));
    CHECK(t.ebay.tokens_issued() == 1);

    // The bulk listing file carries the item at that price.
    auto csv = t.api->get("/v1/exports/ebay.csv");
    REQUIRE(csv->status == 200);
    CHECK(csv->body.rfind("*Action(SiteID=US", 0) == 0);
    CHECK(csv->body.find("Canon AE-1 Program 35mm SLR Film Camera") != std::string::npos);
    CHECK(csv->body.find(",170.25,") != std::string::npos);
}

TEST_CASE(
    "service with eBay: a quota 429 and a changed page show in the item and the metrics, "
    "the model's estimate prices it",
    "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_sold(camera_query, listing("2201", "150.00", "12.50", days_ago(3)));
    t.ebay.inject(ebay_endpoint::browse, 429);
    t.ebay.set_markup(fakes::sold_markup::changed);
    t.start();

    auto item = t.camera_item();
    CHECK(str(item.at("job").at("state")) == "succeeded");
    CHECK(outcome(item, "ebay_browse").at("outcome") == "source_limited");
    CHECK(outcome(item, "ebay_sold_page").at("outcome") == "layout_changed");
    CHECK(str(item.at("price").at("basis")) == "vision_estimate");
    CHECK(item.at("price").at("median_minor") == 14900);

    auto metrics = t.api->get("/metrics")->body;
    CHECK(metrics.find(R"(boomer_comps_source_outcomes_total{source="ebay_browse",)"
                       R"(outcome="source_limited"} 1)") != std::string::npos);
    CHECK(metrics.find(R"(boomer_comps_source_outcomes_total{source="ebay_sold_page",)"
                       R"(outcome="layout_changed"} 1)") != std::string::npos);
}

TEST_CASE("service with eBay: a revoked token is renewed once and the search goes on", "[e2e]") {
    market_service t;
    t.identify_as("grayscale-jpeg-concert.jpg", "canon ae-1 program camera");
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_active("canon ae-1 program camera", listing("1102", "179.99", "10.00"));
    t.start();

    auto first = t.camera_item();
    CHECK(outcome(first, "ebay_browse").at("outcome") == "ok");
    CHECK(t.ebay.tokens_issued() == 1);
    t.ebay.revoke_tokens();

    // Another photo searching another query, so the comps cache cannot answer for eBay.
    auto second = t.camera_item("grayscale-jpeg-concert.jpg");
    auto browse = outcome(second, "ebay_browse");
    CHECK(browse.at("outcome") == "ok");
    CHECK(browse.at("count") == 1);
    CHECK(browse.at("cache") == "");
    CHECK(t.ebay.tokens_issued() == 2);  // one renewal after the 401, not one per caller
}

TEST_CASE("service with eBay: slow sources time out without holding the item", "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.set_latency(std::chrono::milliseconds(3000));
    // The sold page is bounded by its own client budget; Browse (whose token request is slow
    // too) by the fan-out's per-source timeout.
    t.start({{"EBAY_SOLD_PAGE_TIMEOUT_MS", "300"}, {"BOOMER_COMPS_TIMEOUT_MS", "600"}});

    auto item = t.camera_item();
    CHECK(str(item.at("job").at("state")) == "succeeded");
    CHECK(outcome(item, "ebay_browse").at("outcome") == "source_timeout");
    CHECK(outcome(item, "ebay_sold_page").at("outcome") == "source_timeout");
    CHECK(str(item.at("price").at("basis")) == "vision_estimate");
    INFO(json::serialize(item.at("comps").at("sources")));
    CHECK(outcome(item, "ebay_browse").at("ms").as_int64() < 2000);
    CHECK(outcome(item, "ebay_sold_page").at("ms").as_int64() < 2000);
    CHECK(item.at("stage_ms").at("comps").as_int64() < 2500);
}
