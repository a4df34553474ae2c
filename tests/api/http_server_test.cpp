// Tests of the HTTP server over real sockets on 127.0.0.1: routing, limits, Expect: 100-continue,
// keep-alive, errors, timeouts, metrics and the drain on stop.
#include "api/http_server.hpp"

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <memory>

#include "api/multipart.hpp"
#include "core/ids.hpp"
#include "tests/api/server_fixture.hpp"

namespace api = boomer::api;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using boomer::test::raw_client;
using boomer::test::request;
using boomer::test::server_fixture;
using namespace std::chrono_literals;

namespace {

api::http_response text(std::string body) {
    api::http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain");
    res.body() = std::move(body);
    return res;
}

asio::awaitable<api::http_response> echo_params(api::request_context ctx) {
    co_return text("route=" + ctx.route + " id=" + std::string(ctx.path.get("id").value_or("-")) +
                   " n=" + std::string(ctx.path.get("n").value_or("-")) +
                   " q=" + std::string(ctx.query.get("q").value_or("-")));
}

asio::awaitable<api::http_response> count_body(api::request_context ctx) {
    co_return text("bytes=" + std::to_string(ctx.request.body().size()));
}

asio::awaitable<api::http_response> leak_secret(api::request_context ctx) {
    if (!ctx.request.target().empty()) {
        throw std::runtime_error("database password is hunter2");
    }
    co_return text("unreachable");
}

// Lists the parts of a multipart upload as "name:filename:type:size;".
asio::awaitable<api::http_response> list_parts(api::request_context ctx) {
    auto parts = api::parse_multipart(ctx.request.body(), ctx.request[http::field::content_type]);
    if (!parts) {
        co_return text("error=" + parts.error().code);
    }
    std::string out;
    for (const api::part& p : *parts) {
        out += p.name + ":" + p.filename + ":" + p.content_type + ":" +
               std::to_string(p.data.size()) + ";";
    }
    co_return text(out);
}

struct slow_state {
    std::chrono::milliseconds delay;
    std::atomic<int> started{0};
};

asio::awaitable<api::http_response> slow(std::shared_ptr<slow_state> state,
                                         api::request_context ctx) {
    state->started++;
    asio::steady_timer timer(co_await asio::this_coro::executor, state->delay);
    co_await timer.async_wait(asio::use_awaitable);
    co_return text("done " + ctx.request_id);
}

api::router test_router(std::shared_ptr<slow_state> slow_handler = nullptr) {
    api::router r;
    r.add(http::verb::get, "/v1/items/{id}/images/{n}", echo_params);
    r.add(http::verb::get, "/v1/items/export", echo_params);
    r.add(http::verb::post, "/upload", count_body);
    r.add(http::verb::post, "/parts", list_parts);
    r.add(http::verb::get, "/boom", leak_secret);
    if (slow_handler) {
        r.add(http::verb::get, "/slow", [slow_handler](api::request_context ctx) {
            return slow(slow_handler, std::move(ctx));
        });
    }
    return r;
}

// Polls `condition` for up to two seconds (the server records metrics after writing).
bool eventually(const std::function<bool()>& condition) {
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("http_server: routes to handlers with path and query parameters", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    client.send(request("GET", "/v1/items/itm%201/images/2?q=red+shoes&x=1"));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    CHECK(res->body() == "route=/v1/items/{id}/images/{n} id=itm 1 n=2 q=red shoes");
    CHECK((*res)[http::field::content_length] == std::to_string(res->body().size()));
    CHECK((*res)[http::field::server] == "boomer");
    CHECK(boomer::is_valid_id((*res)["x-request-id"], "req"));

    client.send(request("GET", "/v1/items/export"));
    res = client.read_response();
    REQUIRE(res);
    CHECK(contains(res->body(), "route=/v1/items/export id=-"));
}

TEST_CASE("http_server: echoes a sane x-request-id and replaces others", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    client.send(request("GET", "/v1/items/a/images/1", "X-Request-Id: trace-42.a_b:c\r\n"));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK((*res)["x-request-id"] == "trace-42.a_b:c");

    client.send(request("GET", "/v1/items/a/images/1", "X-Request-Id: <script>\r\n"));
    res = client.read_response();
    REQUIRE(res);
    CHECK(boomer::is_valid_id((*res)["x-request-id"], "req"));
}

TEST_CASE("http_server: unknown paths get 404 and wrong methods 405 with Allow", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    client.send(request("GET", "/nowhere"));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 404);
    CHECK((*res)[http::field::content_type] == "application/problem+json");
    CHECK(contains(res->body(), "\"type\":\"https://boomer.dev/problems/not-found\""));
    CHECK(res->keep_alive());

    client.send(request("DELETE", "/v1/items/a/images/1"));
    res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 405);
    CHECK((*res)[http::field::allow] == "GET, HEAD");
    CHECK(contains(res->body(), "\"allowed\":[\"GET\",\"HEAD\"]"));

    client.send(request("GET", "/v1/items/a%zz/images/1"));
    res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 400);
    client.send(request("GET", "/v1/items/a/images/1?q=%zz"));
    res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 400);
}

TEST_CASE("http_server: HEAD gets the GET headers without a body", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    client.send(request("HEAD", "/v1/items/a/images/1"));
    auto head = client.read_response(true);
    REQUIRE(head);
    CHECK(head->result_int() == 200);
    CHECK(head->body().empty());
    std::string length((*head)[http::field::content_length]);

    // The next response on the same connection parses cleanly: no stray body bytes were sent.
    client.send(request("GET", "/v1/items/a/images/1"));
    auto get = client.read_response();
    REQUIRE(get);
    CHECK(std::to_string(get->body().size()) == length);
}

TEST_CASE("http_server: keeps the connection alive across requests, pipelined too", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    client.send(request("POST", "/upload", "", "12345"));
    auto first = client.read_response();
    client.send(request("POST", "/upload", "", "123"));
    auto second = client.read_response();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->body() == "bytes=5");
    CHECK(second->body() == "bytes=3");

    client.send(request("GET", "/v1/items/a/images/1") + request("POST", "/upload", "", "xy"));
    auto third = client.read_response();
    auto fourth = client.read_response();
    REQUIRE(third);
    REQUIRE(fourth);
    CHECK(contains(third->body(), "id=a"));
    CHECK(fourth->body() == "bytes=2");
    CHECK(server.registry().render().find("http_open_connections 1\n") != std::string::npos);
}

TEST_CASE("http_server: Connection: close and HTTP/1.0 end the connection", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    client.send(request("GET", "/v1/items/a/images/1", "Connection: close\r\n"));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(!res->keep_alive());
    CHECK(client.closed_within(1s));

    raw_client old(server.port());
    old.send("GET /v1/items/a/images/1 HTTP/1.0\r\n\r\n");
    res = old.read_response();
    REQUIRE(res);
    CHECK(res->version() == 10);
    CHECK(old.closed_within(1s));
}

TEST_CASE("http_server: a body over the limit gets 413 and the connection closes", "[api]") {
    server_fixture server(test_router());

    SECTION("announced by Content-Length, refused before the body is read") {
        raw_client client(server.port());
        client.send(request("POST", "/upload", "Content-Length: 70000\r\n"));
        auto res = client.read_response();
        REQUIRE(res);
        CHECK(res->result_int() == 413);
        CHECK(contains(res->body(), "\"limit_bytes\":65536"));
        CHECK(!res->keep_alive());
        CHECK(client.closed_within(1s));
    }
    SECTION("sent in full anyway: the client still reads the 413") {
        raw_client client(server.port());
        client.send(request("POST", "/upload", "", std::string(100000, 'x')));
        auto res = client.read_response();
        REQUIRE(res);
        CHECK(res->result_int() == 413);
        CHECK(client.closed_within(1s));
    }
    SECTION("sent chunked") {
        raw_client client(server.port());
        std::string chunk(40000, 'x');
        std::string chunked = "9c40\r\n" + chunk + "\r\n9c40\r\n" + chunk + "\r\n0\r\n\r\n";
        client.send(request("POST", "/upload", "Transfer-Encoding: chunked\r\n") + chunked);
        auto res = client.read_response();
        REQUIRE(res);
        CHECK(res->result_int() == 413);
        CHECK(client.closed_within(1s));
    }
    SECTION("exactly at the limit is accepted") {
        raw_client client(server.port());
        client.send(request("POST", "/upload", "", std::string(64 * 1024, 'x')));
        auto res = client.read_response();
        REQUIRE(res);
        CHECK(res->body() == "bytes=65536");
    }
}

TEST_CASE("http_server: answers Expect: 100-continue before the body, or refuses early", "[api]") {
    server_fixture server(test_router());

    SECTION("within the limit: 100 Continue, then the final response") {
        raw_client client(server.port());
        client.send(request("POST", "/upload", "Expect: 100-continue\r\nContent-Length: 5\r\n"));
        auto interim = client.read_response();
        REQUIRE(interim);
        CHECK(interim->result_int() == 100);
        client.send("hello");
        auto res = client.read_response();
        REQUIRE(res);
        CHECK(res->body() == "bytes=5");
    }
    SECTION("over the limit: 413 without 100") {
        raw_client client(server.port());
        client.send(
            request("POST", "/upload", "Expect: 100-continue\r\nContent-Length: 1000000\r\n"));
        auto res = client.read_response();
        REQUIRE(res);
        CHECK(res->result_int() == 413);
        CHECK(client.closed_within(1s));
    }
    SECTION("to an unknown URL: 404 without 100") {
        raw_client client(server.port());
        client.send(request("POST", "/nowhere", "Expect: 100-continue\r\nContent-Length: 10\r\n"));
        auto res = client.read_response();
        REQUIRE(res);
        CHECK(res->result_int() == 404);
        CHECK(!res->keep_alive());
        CHECK(client.closed_within(1s));
    }
}

TEST_CASE("http_server: malformed requests get 400 and oversized headers 431", "[api]") {
    server_fixture server(test_router());
    raw_client garbage(server.port());
    garbage.send("THIS IS NOT HTTP\r\n\r\n");
    auto res = garbage.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 400);
    CHECK((*res)[http::field::content_type] == "application/problem+json");
    CHECK(garbage.closed_within(1s));

    raw_client big(server.port());
    big.send(
        request("GET", "/v1/items/a/images/1", "X-Filler: " + std::string(5000, 'f') + "\r\n"));
    res = big.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 431);
}

TEST_CASE("http_server: a throwing handler gives a generic 500", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    client.send(request("GET", "/boom"));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 500);
    CHECK(contains(res->body(), "https://boomer.dev/problems/internal"));
    CHECK(!contains(res->body(), "hunter2"));
    CHECK(!contains(res->body(), "database"));
    // The connection survives the failure.
    client.send(request("GET", "/v1/items/a/images/1"));
    CHECK(client.read_response().has_value());
}

TEST_CASE("http_server: a client that sends half a request is closed after the timeout", "[api]") {
    server_fixture server(test_router());

    SECTION("half the headers: idle timeout") {
        raw_client client(server.port());
        auto start = std::chrono::steady_clock::now();
        client.send("GET /v1/items/a/images/1 HTTP/1.1\r\nHost: x\r\n");
        CHECK(client.closed_within(3s));
        auto waited = std::chrono::steady_clock::now() - start;
        CHECK(waited >= 150ms);
        CHECK(waited < 2s);
    }
    SECTION("half the body: body timeout") {
        raw_client client(server.port());
        auto start = std::chrono::steady_clock::now();
        client.send(request("POST", "/upload", "Content-Length: 100\r\n") + "only ten..");
        CHECK(client.closed_within(3s));
        auto waited = std::chrono::steady_clock::now() - start;
        CHECK(waited >= 400ms);
        CHECK(waited < 2500ms);
    }
}

TEST_CASE("http_server: counts requests by method, route template and status", "[api]") {
    server_fixture server(test_router());
    raw_client client(server.port());
    for (const char* target : {"/v1/items/a/images/1", "/v1/items/b/images/2", "/nowhere/x"}) {
        client.send(request("GET", target));
        REQUIRE(client.read_response());
    }
    client.send(request("PUT", "/upload"));
    REQUIRE(client.read_response());

    auto& registry = server.registry();
    CHECK(eventually([&registry] {
        return contains(registry.render(),
                        "http_requests_total{method=\"PUT\",route=\"/upload\",status=\"405\"} 1\n");
    }));
    std::string text = registry.render();
    CHECK(contains(text,
                   "http_requests_total{method=\"GET\",route=\"/v1/items/{id}/images/{n}\","
                   "status=\"200\"} 2\n"));
    CHECK(contains(text,
                   "http_requests_total{method=\"GET\",route=\"unmatched\","
                   "status=\"404\"} 1\n"));
    CHECK(contains(text,
                   "http_request_duration_seconds_count{method=\"GET\","
                   "route=\"/v1/items/{id}/images/{n}\"} 2\n"));
    CHECK(!contains(text, "/v1/items/a/images/1"));
    // The gauge drops once the response is written, a moment after it is counted.
    CHECK(eventually(
        [&registry] { return contains(registry.render(), "http_requests_in_flight 0\n"); }));
}

TEST_CASE("http_server: takes a multipart upload the way curl sends it", "[api]") {
    server_fixture server(test_router());
    std::string boundary = "------------------------4ebf00fbcf09";
    std::string photo(3000, '\0');
    for (std::size_t i = 0; i < photo.size(); ++i) {
        photo[i] = static_cast<char>(i * 7 + 13);
    }
    std::string body = "--" + boundary + "\r\n" +
                       "Content-Disposition: form-data; name=\"photo\"; filename=\"shoe.jpg\"\r\n"
                       "Content-Type: image/jpeg\r\n\r\n" +
                       photo + "\r\n--" + boundary + "\r\n" +
                       "Content-Disposition: form-data; name=\"hint\"\r\n\r\n"
                       "red shoes\r\n--" +
                       boundary + "--\r\n";

    // curl announces the body, waits for 100 Continue, then sends it.
    raw_client client(server.port());
    client.send(request(
        "POST", "/parts",
        "User-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nContent-Type: multipart/form-data; boundary=" + boundary +
            "\r\nExpect: 100-continue\r\n"));
    auto interim = client.read_response();
    REQUIRE(interim);
    REQUIRE(interim->result_int() == 100);
    client.send(body);
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    CHECK(res->body() == "photo:shoe.jpg:image/jpeg:3000;hint:::9;");
}

TEST_CASE("http_server: stop lets a request in flight finish, then refuses connections", "[api]") {
    auto state = std::make_shared<slow_state>();
    state->delay = 300ms;
    api::server_options options = boomer::test::fast_options();
    options.idle_timeout = 10s;
    server_fixture server(test_router(state), options);

    raw_client idle(server.port());
    raw_client busy(server.port());
    busy.send(request("GET", "/slow"));
    REQUIRE(eventually([&state] { return state->started.load() == 1; }));

    auto start = std::chrono::steady_clock::now();
    server.stop();
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 150ms);
    CHECK(took < 2s);

    auto res = busy.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    CHECK(contains(res->body(), "done "));
    CHECK(!res->keep_alive());
    CHECK(idle.closed_within(500ms));
    CHECK_THROWS(raw_client(server.port()));
}

TEST_CASE("http_server: stop closes requests that outlive the drain timeout", "[api]") {
    auto state = std::make_shared<slow_state>();
    state->delay = 20s;
    api::server_options options = boomer::test::fast_options();
    options.drain_timeout = 100ms;
    server_fixture server(test_router(state), options);

    raw_client busy(server.port());
    busy.send(request("GET", "/slow"));
    REQUIRE(eventually([&state] { return state->started.load() == 1; }));

    auto start = std::chrono::steady_clock::now();
    server.stop();
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);
    CHECK(!busy.read_response().has_value());
}

namespace {

// Streams "piece 0" .. "piece <count-1>", then ends (or throws instead of ending).
struct piece_counter {
    int count = 0;
    bool fail_at_end = false;
    int next = 0;
};

asio::awaitable<std::optional<std::string>> next_piece(std::shared_ptr<piece_counter> c) {
    if (c->next == c->count) {
        if (c->fail_at_end) {
            throw std::runtime_error("the store went away");
        }
        co_return std::nullopt;
    }
    co_return "piece " + std::to_string(c->next++) + "\n";
}

asio::awaitable<api::http_response> streamed(int count, bool fail_at_end,
                                             api::request_context ctx) {
    auto counter = std::make_shared<piece_counter>();
    counter->count = count;
    counter->fail_at_end = fail_at_end;
    *ctx.streamed_body = [counter] { return next_piece(counter); };
    api::http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain");
    res.body() = "ignored";
    co_return res;
}

api::router stream_router() {
    api::router r;
    r.add(http::verb::get, "/stream",
          [](api::request_context ctx) { return streamed(3, false, std::move(ctx)); });
    r.add(http::verb::get, "/broken",
          [](api::request_context ctx) { return streamed(2, true, std::move(ctx)); });
    return r;
}

}  // namespace

TEST_CASE("http_server: a streamed body goes out in chunks, the connection stays usable", "[api]") {
    server_fixture server(stream_router());
    raw_client client(server.port());
    client.send(request("GET", "/stream"));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    CHECK(res->chunked());
    CHECK((*res)[http::field::content_length].empty());
    CHECK(res->body() == "piece 0\npiece 1\npiece 2\n");
    CHECK(res->keep_alive());

    client.send(request("GET", "/stream"));
    auto again = client.read_response();
    REQUIRE(again);
    CHECK(again->body() == "piece 0\npiece 1\npiece 2\n");

    client.send(request("HEAD", "/stream"));
    auto head = client.read_response(true);
    REQUIRE(head);
    CHECK(head->body().empty());
}

TEST_CASE("http_server: a streamed body to HTTP/1.0 is sent plain and the connection closes",
          "[api]") {
    server_fixture server(stream_router());
    raw_client old(server.port());
    old.send("GET /stream HTTP/1.0\r\n\r\n");
    auto res = old.read_response();
    REQUIRE(res);
    CHECK_FALSE(res->chunked());
    CHECK(res->body() == "piece 0\npiece 1\npiece 2\n");
    CHECK(old.closed_within(1s));
}

TEST_CASE("http_server: a streamed body that fails is cut without its last chunk", "[api]") {
    server_fixture server(stream_router());
    raw_client client(server.port());
    client.send(request("GET", "/broken"));
    // The pieces before the failure arrive, but never the final chunk: the response does not
    // parse as complete, and the connection closes.
    auto res = client.read_response();
    CHECK_FALSE(res);
    CHECK(client.closed_within(1s));
}
