// Tests of the router: template matching, parameters, 404/405, precedence, and URL decoding.
#include "api/router.hpp"

#include <catch2/catch.hpp>

namespace api = boomer::api;
namespace http = boost::beast::http;
using outcome = api::route_match::outcome;

namespace {

boost::asio::awaitable<api::http_response> no_op(api::request_context) {
    co_return api::http_response{};
}

api::router sample_router() {
    api::router r;
    r.add(http::verb::get, "/v1/items", no_op, "list_items");
    r.add(http::verb::post, "/v1/items", no_op, "create_item");
    r.add(http::verb::get, "/v1/items/{id}", no_op);
    r.add(http::verb::get, "/v1/items/{id}/images/{n}", no_op);
    r.add(http::verb::post, "/v1/items/{id}/cancel", no_op);
    r.add(http::verb::get, "/v1/items/export", no_op);
    r.add(http::verb::get, "/", no_op);
    return r;
}

}  // namespace

TEST_CASE("router: matches templates and decodes path parameters", "[api]") {
    api::router r = sample_router();
    api::route_match m = r.find(http::verb::get, "/v1/items/itm%2042/images/3");
    REQUIRE(m.result == outcome::found);
    CHECK(m.path_template == "/v1/items/{id}/images/{n}");
    CHECK(m.path.get("id") == "itm 42");
    CHECK(m.path.get("n") == "3");
    CHECK(!m.path.contains("other"));
    CHECK(m.target != nullptr);
    CHECK(r.routes()[m.route_index].path_template == "/v1/items/{id}/images/{n}");

    CHECK(r.find(http::verb::get, "/").result == outcome::found);
    CHECK(r.find(http::verb::post, "/v1/items").route_index == 1);
}

TEST_CASE("router: unknown paths are not found, known paths with another method list Allow",
          "[api]") {
    api::router r = sample_router();
    CHECK(r.find(http::verb::get, "/v2/items").result == outcome::not_found);
    CHECK(r.find(http::verb::get, "/v1/items/").result == outcome::not_found);
    CHECK(r.find(http::verb::get, "/v1/items//images/1").result == outcome::not_found);
    CHECK(r.find(http::verb::get, "v1/items").result == outcome::not_found);

    api::route_match m = r.find(http::verb::delete_, "/v1/items");
    CHECK(m.result == outcome::method_not_allowed);
    CHECK(m.allow == "GET, HEAD, POST");
    CHECK(m.path_template == "/v1/items");

    api::route_match cancel = r.find(http::verb::get, "/v1/items/x/cancel");
    CHECK(cancel.result == outcome::method_not_allowed);
    CHECK(cancel.allow == "POST");
}

TEST_CASE("router: a literal segment wins over a parameter", "[api]") {
    api::router r = sample_router();
    api::route_match m = r.find(http::verb::get, "/v1/items/export");
    REQUIRE(m.result == outcome::found);
    CHECK(m.path_template == "/v1/items/export");
    CHECK(m.path.items().empty());

    // Without the method on the literal route, the parameter route still answers.
    api::router other;
    other.add(http::verb::post, "/a/b", no_op);
    other.add(http::verb::get, "/a/{x}", no_op);
    api::route_match get = other.find(http::verb::get, "/a/b");
    REQUIRE(get.result == outcome::found);
    CHECK(get.path.get("x") == "b");
    CHECK(other.find(http::verb::put, "/a/b").allow == "GET, HEAD, POST");
}

TEST_CASE("router: HEAD is answered by the GET route", "[api]") {
    api::router r = sample_router();
    api::route_match m = r.find(http::verb::head, "/v1/items/abc");
    CHECK(m.result == outcome::found);
    CHECK(r.find(http::verb::head, "/v1/items/abc/cancel").result == outcome::method_not_allowed);
}

TEST_CASE("router: a malformed escape in a parameter is a bad request", "[api]") {
    api::router r = sample_router();
    CHECK(r.find(http::verb::get, "/v1/items/a%zz").result == outcome::bad_request);
    CHECK(r.find(http::verb::get, "/v1/items/a%4").result == outcome::bad_request);
}

TEST_CASE("router: routes lists every route in order", "[api]") {
    auto routes = sample_router().routes();
    REQUIRE(routes.size() == 7);
    CHECK(routes[0].method == http::verb::get);
    CHECK(routes[0].path_template == "/v1/items");
    CHECK(routes[0].name == "list_items");
    CHECK(routes[2].name == "/v1/items/{id}");
    CHECK(routes[4].method == http::verb::post);
}

TEST_CASE("router: add rejects malformed templates and duplicates", "[api]") {
    api::router r;
    CHECK_THROWS_AS(r.add(http::verb::get, "v1/items", no_op), std::invalid_argument);
    CHECK_THROWS_AS(r.add(http::verb::get, "/v1/{}", no_op), std::invalid_argument);
    CHECK_THROWS_AS(r.add(http::verb::get, "/v1/{a-b}", no_op), std::invalid_argument);
    CHECK_THROWS_AS(r.add(http::verb::get, "/v1/x{id}", no_op), std::invalid_argument);
    CHECK_THROWS_AS(r.add(http::verb::get, "/v1/{id}/{id}", no_op), std::invalid_argument);
    CHECK_THROWS_AS(r.add(http::verb::get, "/v1/a", api::handler{}), std::invalid_argument);
    r.add(http::verb::get, "/v1/a", no_op);
    CHECK_THROWS_AS(r.add(http::verb::get, "/v1/a", no_op), std::invalid_argument);
}

TEST_CASE("router: parse_query decodes names and values", "[api]") {
    auto q = api::parse_query("status=ready&cursor=a%2Fb&q=red+shoes&flag&&status=draft");
    REQUIRE(q.has_value());
    CHECK(q->get("status") == "ready");
    CHECK(q->get("cursor") == "a/b");
    CHECK(q->get("q") == "red shoes");
    CHECK(q->get("flag") == "");
    CHECK(q->items().size() == 5);
    CHECK(q->items().back().second == "draft");
    CHECK(!api::parse_query("a=%G1").has_value());
    CHECK(api::parse_query("").value().items().empty());
}

TEST_CASE("router: percent_decode leaves '+' alone in paths", "[api]") {
    CHECK(api::percent_decode("a+b%2B", false) == "a+b+");
    CHECK(api::percent_decode("a+b", true) == "a b");
    CHECK(!api::percent_decode("%", false).has_value());
}
