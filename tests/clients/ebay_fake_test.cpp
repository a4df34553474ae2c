// The fake eBay refuses what the reference says eBay refuses, with eBay's bodies: token
// requests without Basic auth, form body, grant type or a granted scope; API calls without a
// token, with a wrong scheme, an unknown token or another scope; Browse parameters out of
// range; a price filter without currency (a warning); Insights without a category. Also the
// shared pieces: error envelope reading, search text, filters and settings from the
// environment.
#include <httplib.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <tuple>

#include "clients/ebay_common.hpp"
#include "tests/fakes/fake_ebay.hpp"

using namespace boomer;
namespace json = boost::json;
using fakes::ebay_endpoint;

namespace {

const std::string public_scope(clients::ebay_public_scope);
const std::string form = "application/x-www-form-urlencoded";

std::string basic(const std::string& id, const std::string& secret) {
    return httplib::make_basic_authentication_header(id, secret).second;
}

struct fake_client {
    fakes::fake_ebay fake;
    httplib::Client http{fake.base_url()};

    httplib::Result mint(const std::string& scope, const std::string& auth,
                         const std::string& type = form,
                         const std::string& grant = "client_credentials") {
        httplib::Headers h{{"Authorization", auth}};
        std::string body = "grant_type=" + grant + "&scope=" + clients::url_encode(scope);
        return http.Post("/identity/v1/oauth2/token", h, body, type);
    }

    std::string token(const std::string& scope = public_scope) {
        auto r = mint(scope, basic("test-app-id", "test-cert-id"));
        REQUIRE(r);
        REQUIRE(r->status == 200);
        return std::string(json::parse(r->body).at("access_token").as_string());
    }

    httplib::Result get(const std::string& target, const std::string& auth) {
        httplib::Headers h;
        if (!auth.empty()) {
            h.emplace("Authorization", auth);
        }
        return http.Get(target.c_str(), h);
    }
};

int error_id(const httplib::Result& r) {
    auto body = json::parse(r->body);
    const auto& e = body.at("errors").at(0).as_object();
    CHECK(e.contains("domain"));
    CHECK(e.contains("category"));
    CHECK(e.contains("message"));
    CHECK(e.contains("longMessage"));
    return static_cast<int>(e.at("errorId").to_number<std::int64_t>());
}

}  // namespace

TEST_CASE("fake ebay: the token endpoint checks auth, form, grant and scope", "[clients]") {
    fake_client c;
    auto ok = c.mint(public_scope, basic("test-app-id", "test-cert-id"));
    REQUIRE(ok);
    CHECK(ok->status == 200);
    auto body = json::parse(ok->body);
    CHECK(body.at("expires_in").to_number<int>() == 7200);
    CHECK(body.at("token_type").as_string() == "Application Access Token");

    auto wrong = c.mint(public_scope, basic("test-app-id", "nope"));
    CHECK(wrong->status == 401);
    CHECK(json::parse(wrong->body).at("error").as_string() == "invalid_client");
    CHECK(json::parse(wrong->body).at("error_description").as_string() ==
          "client authentication failed");

    auto json_body = c.mint(public_scope, basic("test-app-id", "test-cert-id"), "application/json");
    CHECK(json_body->status == 400);
    auto grant = c.mint(public_scope, basic("test-app-id", "test-cert-id"), form, "password");
    CHECK(grant->status == 400);
    CHECK(json::parse(grant->body).at("error").as_string() == "unsupported_grant_type");
    auto scope = c.mint("https://api.ebay.com/oauth/api_scope/sell.inventory",
                        basic("test-app-id", "test-cert-id"));
    CHECK(scope->status == 400);
    CHECK(json::parse(scope->body).at("error").as_string() == "invalid_scope");
    CHECK(c.fake.tokens_issued() == 1);
}

TEST_CASE("fake ebay: API calls need a bearer token of the API's scope", "[clients]") {
    fake_client c;
    const std::string search = "/buy/browse/v1/item_summary/search?q=lamp";
    auto none = c.get(search, "");
    CHECK(none->status == 400);
    CHECK(error_id(none) == 1002);
    auto scheme = c.get(search, "Basic abc");
    CHECK(scheme->status == 400);
    CHECK(error_id(scheme) == 1003);
    auto unknown = c.get(search, "Bearer nope");
    CHECK(unknown->status == 401);
    CHECK(error_id(unknown) == 1001);
    auto insights =
        c.get("/buy/marketplace_insights/v1_beta/item_sales/search?q=lamp&category_ids=1",
              "Bearer " + c.token());
    CHECK(insights->status == 403);
    CHECK(error_id(insights) == 1100);
    auto ok = c.get(search, "Bearer " + c.token());
    CHECK(ok->status == 200);
    CHECK(ok->get_header_value("Content-Type") == "application/json");
}

TEST_CASE("fake ebay: Browse parameter limits answer eBay's error ids", "[clients]") {
    fake_client c;
    auto bearer = "Bearer " + c.token();
    std::map<std::string, int> cases = {
        {"/buy/browse/v1/item_summary/search?limit=10", 12001},
        {"/buy/browse/v1/item_summary/search?q=a&limit=0", 12006},
        {"/buy/browse/v1/item_summary/search?q=a&limit=201", 12006},
        {"/buy/browse/v1/item_summary/search?q=a&limit=x", 12007},
        {"/buy/browse/v1/item_summary/search?q=a&offset=-50", 12004},
        {"/buy/browse/v1/item_summary/search?q=a&offset=x", 12005},
        {"/buy/browse/v1/item_summary/search?q=a&limit=50&offset=10000", 12029},
        {"/buy/browse/v1/item_summary/search?q=a&limit=50&offset=75", 12515},
    };
    for (const auto& [target, id] : cases) {
        auto r = c.get(target, bearer);
        INFO(target);
        CHECK(r->status == 400);
        CHECK(error_id(r) == id);
    }
    auto warned =
        c.get("/buy/browse/v1/item_summary/search?q=a&filter=price%3A%5B10..50%5D", bearer);
    CHECK(warned->status == 200);
    auto body = json::parse(warned->body);
    CHECK(body.at("warnings").at(0).at("errorId").to_number<int>() == 12012);
    CHECK_FALSE(body.as_object().contains("itemSummaries"));
    CHECK(body.at("total").to_number<int>() == 0);
}

TEST_CASE("fake ebay: Browse pages carry next only while more remain", "[clients]") {
    fake_client c;
    for (int i = 0; i < 3; ++i) {
        fakes::fake_listing l;
        l.item_id = std::to_string(i);
        l.title = "Lamp";
        l.price = "10.00";
        c.fake.add_active("lamp", l);
    }
    auto bearer = "Bearer " + c.token();
    auto first = json::parse(
        c.get("/buy/browse/v1/item_summary/search?q=Lamp&limit=2&offset=0", bearer)->body);
    CHECK(first.at("total").to_number<int>() == 3);
    CHECK(first.at("itemSummaries").as_array().size() == 2);
    CHECK(first.as_object().contains("next"));
    CHECK(first.at("itemSummaries").at(0).at("price").at("value").as_string() == "10.00");
    auto last = json::parse(
        c.get("/buy/browse/v1/item_summary/search?q=lamp&limit=2&offset=2", bearer)->body);
    CHECK(last.at("itemSummaries").as_array().size() == 1);
    CHECK_FALSE(last.as_object().contains("next"));
}

TEST_CASE("fake ebay: Browse answers fieldgroups with categories as eBay does", "[clients]") {
    fake_client c;
    for (auto [id, category, name] :
         {std::tuple{"1", "15230", "Film Cameras"}, std::tuple{"2", "15230", "Film Cameras"},
          std::tuple{"3", "3323", "Lenses"}, std::tuple{"4", "", ""}}) {
        fakes::fake_listing l;
        l.item_id = id;
        l.title = "Canon AE-1";
        l.price = "100.00";
        l.category_id = category;
        l.category_name = name;
        c.fake.add_active("canon ae-1", l);
    }
    auto bearer = "Bearer " + c.token();
    const std::string search = "/buy/browse/v1/item_summary/search?q=canon%20ae-1";

    // Default: items with their leaf categories, no refinement.
    auto plain = json::parse(c.get(search, bearer)->body);
    const auto& first = plain.at("itemSummaries").at(0).as_object();
    CHECK(first.at("leafCategoryIds").at(0).as_string() == "15230");
    CHECK(first.at("categories").at(0).at("categoryId").as_string() == "15230");
    CHECK(first.at("categories").at(0).at("categoryName").as_string() == "Film Cameras");
    CHECK_FALSE(plain.at("itemSummaries").at(3).as_object().contains("leafCategoryIds"));
    CHECK_FALSE(plain.as_object().contains("refinement"));

    // Items and the category refinement over every match.
    auto both = json::parse(
        c.get(search + "&fieldgroups=MATCHING_ITEMS%2CCATEGORY_REFINEMENTS&limit=1", bearer)->body);
    CHECK(both.at("itemSummaries").as_array().size() == 1);
    const auto& refinement = both.at("refinement").as_object();
    CHECK(refinement.at("dominantCategoryId").as_string() == "15230");
    const auto& distributions = refinement.at("categoryDistributions").as_array();
    REQUIRE(distributions.size() == 2);
    CHECK(distributions[0].at("matchCount").to_number<int>() == 2);
    CHECK(distributions[1].at("categoryId").as_string() == "3323");

    // A refinement alone leaves the items out.
    auto only = json::parse(c.get(search + "&fieldgroups=CATEGORY_REFINEMENTS", bearer)->body);
    CHECK_FALSE(only.as_object().contains("itemSummaries"));
    CHECK(only.at("refinement").at("dominantCategoryId").as_string() == "15230");

    // An unknown group is a warning (12016) on a normal answer.
    auto bad = c.get(search + "&fieldgroups=EVERYTHING", bearer);
    REQUIRE(bad->status == 200);
    auto warned = json::parse(bad->body);
    CHECK(warned.at("warnings").at(0).at("errorId").to_number<int>() == 12016);
    CHECK(warned.at("itemSummaries").as_array().size() == 4);

    // category_ids narrows the search to the category.
    auto narrowed = json::parse(c.get(search + "&category_ids=3323", bearer)->body);
    CHECK(narrowed.at("total").to_number<int>() == 2);  // the lens and the uncategorized one
}

TEST_CASE("fake ebay: Insights needs a category, quotas answer 429 2001", "[clients]") {
    fake_client c;
    auto bearer =
        "Bearer " + c.token("https://api.ebay.com/oauth/api_scope/buy.marketplace.insights");
    auto no_category = c.get("/buy/marketplace_insights/v1_beta/item_sales/search?q=a", bearer);
    CHECK(no_category->status == 400);
    auto deep =
        c.get("/buy/marketplace_insights/v1_beta/item_sales/search?q=a&category_ids=1&offset=10000",
              bearer);
    CHECK(error_id(deep) == 100021);
    c.fake.set_quota(ebay_endpoint::insights, 1);
    const std::string ok_target =
        "/buy/marketplace_insights/v1_beta/item_sales/search?q=a&category_ids=1";
    CHECK(c.get(ok_target, bearer)->status == 200);
    auto limited = c.get(ok_target, bearer);
    CHECK(limited->status == 429);
    CHECK(limited->body == R"({"errors":[{"errorId":2001,"domain":"ACCESS","category":"REQUEST",)"
                           R"("message":"Too many requests.","longMessage":)"
                           R"("The request limit has been reached for the resource."}]})");
    auto stats = json::parse(c.http.Get("/_fake/stats")->body);
    CHECK(stats.at("insights").at("429").to_number<int>() == 1);
    CHECK(stats.at("tokens_issued").to_number<int>() == 1);
}

TEST_CASE("ebay common: errors, keywords, filters", "[clients]") {
    auto errors = clients::parse_ebay_errors(
        R"({"errors":[{"errorId":12006,"domain":"API_BROWSE","category":"REQUEST",)"
        R"("message":"Invalid limit","longMessage":"The limit is out of range"}]})");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].error_id == 12006);
    CHECK(clients::describe_ebay_errors(400, errors) ==
          "eBay error 12006 (HTTP 400): The limit is out of range.");
    CHECK(clients::parse_ebay_errors("<html>").empty());

    market::market_query q;
    q.title = "  Canon   AE-1 *Program* ";
    CHECK(clients::ebay_keywords(q) == "Canon AE-1 Program");
    q.keywords = std::string(120, 'x');
    CHECK(clients::ebay_keywords(q).size() == 100);
    q.keywords = "caf\xC3\xA9 " + std::string(98, 'y');
    auto cut = clients::ebay_keywords(q);
    CHECK(cut == "caf\xC3\xA9");

    market::market_query f;
    CHECK(clients::ebay_filter(f).empty());
    f.condition = "brand new in box";
    f.max_price_minor = 5000;
    CHECK(clients::ebay_filter(f) ==
          "conditionIds:{1000|1500|1750},price:[..50.00],priceCurrency:USD");
    f.condition = "gibberish";
    f.max_price_minor.reset();
    f.min_price_minor = 1000;
    CHECK(clients::ebay_filter(f) == "price:[10.00],priceCurrency:USD");
}

TEST_CASE("ebay common: settings from the environment", "[clients]") {
    std::map<std::string, std::string> env;
    auto lookup = [&env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(std::string(name));
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto none = clients::ebay_settings_from_env(lookup);
    REQUIRE(none.has_value());
    CHECK_FALSE(none->browse.enabled);
    CHECK_FALSE(none->insights.enabled);

    env = {{"EBAY_CLIENT_ID", "app"},
           {"EBAY_CLIENT_SECRET", "cert"},
           {"EBAY_MARKETPLACE_ID", "EBAY_DE"},
           {"EBAY_BROWSE_TIMEOUT_MS", "2500"},
           {"EBAY_BROWSE_PAGE_LIMIT", "100"},
           {"EBAY_INSIGHTS_ENABLED", "yes"},
           {"EBAY_BASE_URL", "http://127.0.0.1:9"}};
    auto s = clients::ebay_settings_from_env(lookup);
    REQUIRE(s.has_value());
    CHECK(s->browse.enabled);
    CHECK(s->insights.enabled);
    CHECK(s->api.marketplace_id == "EBAY_DE");
    CHECK(s->browse.timeout == std::chrono::milliseconds(2500));
    CHECK(s->browse.page_limit == 100);
    CHECK(s->api.client_secret.reveal() == "cert");

    env["EBAY_BROWSE_PAGE_LIMIT"] = "500";
    auto bad = clients::ebay_settings_from_env(lookup);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == "bad_config");
    CHECK(bad.error().message.find("EBAY_BROWSE_PAGE_LIMIT") != std::string::npos);

    env = {{"EBAY_INSIGHTS_ENABLED", "1"}};
    auto keyless = clients::ebay_settings_from_env(lookup);
    REQUIRE_FALSE(keyless.has_value());
    CHECK(keyless.error().message.find("EBAY_CLIENT_SECRET") != std::string::npos);
}
