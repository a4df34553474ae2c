// The whole service with its market sources against the fakes: a real photo identified by the
// fake Claude, comps from the fake eBay's Browse API (active listings) and sold-listings page,
// priced from the sold evidence, exported as a bulk listing file in the category Browse learned;
// Marketplace Insights asked with that category (or one it looks up, or the user's hint); a sold
// listing both Insights and the sold page report counted once; a second identical item answered
// from the comps caches (memory and the database); and each way a market source fails (quota,
// changed page, expired token, timeout, everything down) as the item and the metrics show it.
#include <catch2/catch.hpp>
#include <set>

#include "core/clock.hpp"
#include "pipeline/image/analyze.hpp"
#include "pipeline/market/bulk_listing.hpp"
#include "pipeline/market/csv.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/fakes/fake_ebay.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/service_process.hpp"

using namespace boomer;
using namespace boomer::test;
namespace json = boost::json;
namespace market = boomer::market;
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
    l.category_id = "15230";
    l.category_name = "Film Cameras";
    return l;
}

// The value of `name` in the Prometheus text, or -1 when the series is absent.
double metric(const std::string& text, const std::string& series) {
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) {
        return -1;
    }
    return std::stod(text.substr(at + series.size() + 2));
}

std::string outcomes_series(const std::string& source, const std::string& outcome) {
    return "boomer_comps_source_outcomes_total{source=\"" + source + "\",outcome=\"" + outcome +
           "\"}";
}

// The bulk listing file's rows by column name.
std::vector<std::map<std::string, std::string>> export_rows(const std::string& csv) {
    auto records = market::read_csv(csv);
    REQUIRE(records);
    REQUIRE(!records->empty());
    const auto& header = (*records)[0].fields;
    CHECK(header == market::bulk_columns({}));
    std::vector<std::map<std::string, std::string>> rows;
    for (std::size_t i = 1; i < records->size(); ++i) {
        const auto& fields = (*records)[i].fields;
        REQUIRE(fields.size() == header.size());
        std::map<std::string, std::string> row;
        for (std::size_t c = 0; c < header.size(); ++c) {
            row[header[c]] = fields[c];
        }
        rows.push_back(std::move(row));
    }
    return rows;
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
            {"EBAY_SOLD_PAGE_ENABLED", "1"},    {"BOOMER_SHIP_FROM", "Portland, OR"}};
        vars.insert(vars.end(), extra.begin(), extra.end());
        scoped_env env(std::move(vars));
        svc.emplace(dir.path());
        api.emplace(svc->port());
    }

    json::object camera_item(const char* photo = camera_photo,
                             std::vector<std::pair<std::string, std::string>> fields = {}) {
        auto res = api->post_item(
            {{"photo", photo, read_file(data_dir() / "images" / photo), "image/jpeg"}}, fields);
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

    // Browse's category (every listing is a film camera) is the item's, and its comps keep theirs.
    const auto& category = item.at("comps").at("category").as_object();
    CHECK(str(category.at("id")) == "15230");
    CHECK(str(category.at("source")) == "ebay_browse");
    for (const auto& c : item.at("comps").at("comps").as_array()) {
        if (str(c.at("source")) == "ebay_browse") {
            CHECK(str(c.at("category_id")) == "15230");
        }
    }
    for (const auto& r : t.ebay.log()) {
        if (r.endpoint == ebay_endpoint::browse) {
            CHECK(r.target.find("CATEGORY_REFINEMENTS") != std::string::npos);
        }
    }

    // The bulk listing file carries the item at that price, in that category, from our place.
    auto csv = t.api->get("/v1/exports/ebay.csv");
    REQUIRE(csv->status == 200);
    CHECK(csv->get_header_value("Transfer-Encoding") == "chunked");
    CHECK(csv->get_header_value("Boomer-Export-Rows") == "1");
    CHECK(csv->get_header_value("Boomer-Export-Uncategorized") == "0");
    auto rows = export_rows(csv->body);
    REQUIRE(rows.size() == 1);
    const auto& row = rows[0];
    const auto& listing = item.at("listing").as_object();
    CHECK(row.at("CustomLabel") == str(item.at("item_id")));
    CHECK(row.at("*Category") == "15230");
    CHECK(row.at("*Location") == "Portland, OR");
    CHECK(row.at("*Title") == str(listing.at("title")));
    CHECK(row.at("*Title").find("Canon AE-1 Program 35mm SLR Film Camera") == 0);
    CHECK(row.at("*StartPrice") == "170.25");
    CHECK(row.at("*ConditionID") == std::to_string(listing.at("condition_id").as_int64()));
    CHECK(row.at("C:Brand") == "Canon");
    CHECK(row.at("PicURL") == "http://127.0.0.1:" + std::to_string(t.svc->port()) + "/v1/items/" +
                                  str(item.at("item_id")) + "/images/0");
}

TEST_CASE("service with eBay: Marketplace Insights asks in the category Browse learned", "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_active(camera_query, listing("1102", "209.99", "0.00"));
    t.ebay.add_sold(camera_query, listing("2201", "150.00", std::nullopt, days_ago(3)));
    t.ebay.add_sold(camera_query, listing("2202", "160.00", std::nullopt, days_ago(5)));
    auto lens = listing("2203", "15.00", std::nullopt, days_ago(4));
    lens.category_id = "3323";  // another category: Insights must not return it
    t.ebay.add_sold(camera_query, lens);
    t.start({{"EBAY_INSIGHTS_ENABLED", "1"}, {"EBAY_SOLD_PAGE_ENABLED", "0"}});

    auto item = t.camera_item();
    INFO(json::serialize(item.at("comps").at("sources")));
    CHECK(str(item.at("job").at("state")) == "succeeded");
    CHECK(outcome(item, "ebay_browse").at("outcome") == "ok");
    CHECK(outcome(item, "ebay_insights").at("outcome") == "ok");
    CHECK(outcome(item, "ebay_insights").at("count") == 2);
    CHECK(str(item.at("comps").at("category").at("id")) == "15230");
    CHECK(str(item.at("price").at("basis")) == "sold_comps");
    CHECK(item.at("price").at("median_minor") == 15500);
    // Insights waited for Browse's answer instead of asking Browse again.
    CHECK(t.ebay.requests(ebay_endpoint::browse) == 1);
    std::string insights_target;
    for (const auto& r : t.ebay.log()) {
        if (r.endpoint == ebay_endpoint::insights) {
            insights_target = r.target;
        }
    }
    CHECK(insights_target.find("category_ids=15230") != std::string::npos);
    auto metrics = t.api->get("/metrics")->body;
    CHECK(metric(metrics, outcomes_series("ebay_insights", "ok")) == 1);
}

TEST_CASE(
    "service with eBay: a sold listing that Insights and the sold page both report counts once",
    "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    // A multi-quantity listing still on sale that has also sold: active and sold apart.
    t.ebay.add_active(camera_query, listing("200000000001", "179.99", "10.00"));
    t.ebay.add_sold(camera_query, listing("200000000001", "150.00", std::nullopt, days_ago(3)));
    t.ebay.add_sold(camera_query, listing("200000000002", "165.00", std::nullopt, days_ago(9)));
    t.ebay.add_sold(camera_query, listing("200000000003", "172.50", std::nullopt, days_ago(20)));
    t.ebay.add_sold(camera_query, listing("200000000004", "158.00", std::nullopt, days_ago(41)));
    t.start({{"EBAY_INSIGHTS_ENABLED", "1"}, {"EBAY_SOLD_PAGE_ENABLED", "1"}});

    auto item = t.camera_item();
    INFO(json::serialize(item.at("comps")));
    CHECK(str(item.at("job").at("state")) == "succeeded");
    CHECK(outcome(item, "ebay_insights").at("count") == 4);
    CHECK(outcome(item, "ebay_sold_page").at("count") == 4);
    const auto& comps = item.at("comps").at("comps").as_array();
    CHECK(comps.size() == 6);
    for (const auto& c : comps) {
        if (c.at("sold").as_bool()) {
            CHECK(str(c.at("source")) == "ebay_insights");
            CHECK(c.at("seen_by") == json::array{"ebay_insights", "ebay_sold_page"});
            CHECK(str(c.at("listing_id")).find("20000000000") == 0);
        } else {
            CHECK(c.at("seen_by") == json::array{"ebay_browse"});
        }
    }

    const auto& price = item.at("price").as_object();
    INFO(json::serialize(price));
    CHECK(str(price.at("basis")) == "sold_comps");
    CHECK(price.at("sold").at("count") == 4);
    CHECK(price.at("median_minor") == 16150);  // 150.00, 158.00, 165.00, 172.50
    CHECK(price.at("active").at("count") == 2);
    CHECK(price.at("sell_through").at("sold") == 4);
    CHECK(price.at("sell_through").at("active") == 2);
    CHECK(price.at("sell_through").at("rate").as_double() == Approx(4.0 / 6.0));
}

TEST_CASE("service with eBay: a second identical item takes its comps from the caches", "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_sold(camera_query, listing("2201", "150.00", "12.50", days_ago(3)));
    // One answer fits in memory: of the two sources' answers, one is in memory, the other only
    // in the database's cache table.
    t.start({{"BOOMER_COMPS_CACHE_ENTRIES", "1"}, {"BOOMER_COMPS_CACHE_MB", "1"}});

    auto first = t.camera_item();
    CHECK(str(first.at("job").at("state")) == "succeeded");
    CHECK(outcome(first, "ebay_browse").at("cache") == "");
    CHECK(outcome(first, "ebay_sold_page").at("cache") == "");
    auto metrics = t.api->get("/metrics")->body;
    CHECK(metric(metrics, R"(boomer_cache_entries{cache="comps"})") == 1);
    CHECK(metric(metrics, R"(boomer_cache_lookups_total{cache="comps_store",outcome="miss"})") ==
          2);

    auto second = t.camera_item();
    CHECK(str(second.at("job").at("state")) == "succeeded");
    std::multiset<std::string> caches{str(outcome(second, "ebay_browse").at("cache")),
                                      str(outcome(second, "ebay_sold_page").at("cache"))};
    CHECK(caches == std::multiset<std::string>{"memory", "store"});
    CHECK(t.ebay.requests(ebay_endpoint::browse) == 1);
    CHECK(t.ebay.requests(ebay_endpoint::sold_page) == 1);
    CHECK(second.at("price").at("median_minor") == first.at("price").at("median_minor"));
    metrics = t.api->get("/metrics")->body;
    CHECK(metric(metrics, R"(boomer_cache_entries{cache="comps"})") == 1);
    CHECK(metric(metrics, R"(boomer_cache_lookups_total{cache="comps",outcome="hit"})") == 1);
    CHECK(metric(metrics, R"(boomer_cache_lookups_total{cache="comps_store",outcome="hit"})") == 1);
    CHECK(metric(metrics, R"(boomer_cache_bytes{cache="comps"})") > 0);
}

TEST_CASE("service with eBay: with Browse off, Insights looks the category up itself", "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_sold(camera_query, listing("2201", "150.00", std::nullopt, days_ago(3)));
    t.start({{"EBAY_INSIGHTS_ENABLED", "1"},
             {"EBAY_BROWSE_ENABLED", "0"},
             {"EBAY_SOLD_PAGE_ENABLED", "0"}});

    auto item = t.camera_item();
    INFO(json::serialize(item.at("comps")));
    CHECK(item.at("comps").at("sources").as_array().size() == 1);
    CHECK(outcome(item, "ebay_insights").at("outcome") == "ok");
    CHECK(outcome(item, "ebay_insights").at("count") == 1);
    CHECK(str(item.at("comps").at("category").at("id")) == "15230");
    auto log = t.ebay.log();
    REQUIRE(log.size() >= 3);
    // One small Browse page for the category, then Insights with it.
    std::vector<std::string> targets;
    for (const auto& r : log) {
        if (r.endpoint != ebay_endpoint::token) {
            targets.push_back(r.target);
        }
    }
    REQUIRE(targets.size() == 2);
    CHECK(targets[0].find("/buy/browse/v1/item_summary/search?") == 0);
    CHECK(targets[0].find("CATEGORY_REFINEMENTS") != std::string::npos);
    CHECK(targets[1].find("category_ids=15230") != std::string::npos);
}

TEST_CASE("service with eBay: the user's category hint is asked with and exported", "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_sold(camera_query, listing("2201", "150.00", "12.50", days_ago(3)));
    t.start();

    auto refused = t.api->post_item(
        {{"photo", camera_photo, read_file(data_dir() / "images" / camera_photo), "image/jpeg"}},
        {{"category_id", "film cameras"}});
    REQUIRE(refused);
    CHECK(refused->status == 400);
    CHECK(refused->body.find("category_id") != std::string::npos);

    auto item = t.camera_item(camera_photo, {{"category_id", "15230"}});
    CHECK(str(item.at("job").at("state")) == "succeeded");
    CHECK(str(item.at("category_id")) == "15230");
    CHECK(str(item.at("comps").at("category").at("source")) == "hint");
    for (const auto& r : t.ebay.log()) {
        if (r.endpoint == ebay_endpoint::browse) {
            CHECK(r.target.find("category_ids=15230") != std::string::npos);
            CHECK(r.target.find("fieldgroups") == std::string::npos);
        }
    }
    auto rows = export_rows(t.api->get("/v1/exports/ebay.csv")->body);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].at("*Category") == "15230");
}

TEST_CASE("service with eBay: with every source down the item is priced by the model and says why",
          "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.add_sold(camera_query, listing("2201", "150.00", "12.50", days_ago(3)));
    // Each source is asked three times on a server error; Browse also answers the category
    // look-up Insights makes before each of its tries.
    for (int i = 0; i < 3; ++i) {
        t.ebay.inject(ebay_endpoint::browse, 500);
        t.ebay.inject(ebay_endpoint::browse, 500);
        t.ebay.inject(ebay_endpoint::insights, 500);
        t.ebay.inject(ebay_endpoint::sold_page, 500);
    }
    t.start({{"EBAY_INSIGHTS_ENABLED", "1"}});

    auto item = t.camera_item();
    INFO(json::serialize(item.at("comps").at("sources")));
    CHECK(str(item.at("job").at("state")) == "succeeded");
    CHECK(outcome(item, "ebay_browse").at("outcome") == "source_error");
    CHECK(outcome(item, "ebay_browse").at("retryable") == true);
    CHECK(outcome(item, "ebay_sold_page").at("outcome") == "source_error");
    auto insights = outcome(item, "ebay_insights");
    CHECK(insights.at("outcome") != "ok");
    // Insights was never reached: its category look-up through Browse failed, and says so.
    CHECK(str(insights.at("message")).find("category look-up through eBay Browse") !=
          std::string::npos);
    CHECK(item.at("comps").at("comps").as_array().empty());
    CHECK(str(item.at("price").at("basis")) == "vision_estimate");
    CHECK(item.at("price").at("median_minor") == 14900);

    auto metrics = t.api->get("/metrics")->body;
    CHECK(metric(metrics, outcomes_series("ebay_browse", "source_error")) == 1);
    CHECK(metric(metrics, outcomes_series("ebay_sold_page", "source_error")) == 1);
    CHECK(metric(metrics, outcomes_series("ebay_insights", str(insights.at("outcome")))) == 1);
    CHECK(metric(metrics, outcomes_series("ebay_browse", "ok")) == -1);
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
    auto metrics = t.api->get("/metrics")->body;
    CHECK(metric(metrics, R"(boomer_market_token_refreshes_total{scope="public"})") == 2);
    CHECK(metric(metrics, outcomes_series("ebay_browse", "ok")) == 2);
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
    auto metrics = t.api->get("/metrics")->body;
    CHECK(metric(metrics, outcomes_series("ebay_browse", "source_timeout")) == 1);
    CHECK(metric(metrics, outcomes_series("ebay_sold_page", "source_timeout")) == 1);
}

TEST_CASE("service with eBay: a slow token request ends at the source's own budget", "[e2e]") {
    market_service t;
    t.ebay.add_active(camera_query, listing("1101", "189.99", "10.00"));
    t.ebay.set_latency(std::chrono::milliseconds(3000));
    // The fan-out would wait 20 s; Browse's own budget (which its token request is part of)
    // ends it after 300 ms.
    t.start({{"EBAY_BROWSE_TIMEOUT_MS", "300"},
             {"EBAY_SOLD_PAGE_ENABLED", "0"},
             {"BOOMER_COMPS_TIMEOUT_MS", "20000"},
             {"BOOMER_COMPS_DEADLINE_MS", "20000"}});

    auto item = t.camera_item();
    auto browse = outcome(item, "ebay_browse");
    INFO(json::serialize(browse));
    CHECK(browse.at("outcome") == "source_timeout");
    CHECK(str(browse.at("message")).find("time budget") != std::string::npos);
    CHECK(browse.at("ms").as_int64() < 2500);
    CHECK(t.ebay.requests(ebay_endpoint::browse) == 0);  // the token never came in time
    auto metrics = t.api->get("/metrics")->body;
    CHECK(metric(metrics, outcomes_series("ebay_browse", "source_timeout")) == 1);
    CHECK(metric(metrics, R"(boomer_market_source_requests_total{source="ebay_browse",)"
                          R"(outcome="source_timeout"})") == 1);
}
