// What a photo URL may reach: the public-address rule against request forgery, the client's
// address filter applied before connecting, and redirect targets resolved against their URL.
#include "clients/photo_fetcher.hpp"

#include <httplib.h>

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "clients/https_client.hpp"
#include "clients/public_address.hpp"
#include "tests/clients/support.hpp"

using namespace boomer;
namespace asio = boost::asio;

namespace {

bool is_public(const char* text) {
    return clients::is_public_address(asio::ip::make_address(text));
}

}  // namespace

TEST_CASE("public address: private, loopback, link-local and special ranges are refused",
          "[clients]") {
    for (const char* refused : {"0.0.0.0",
                                "10.1.2.3",
                                "100.64.0.1",
                                "127.0.0.1",
                                "127.255.255.254",
                                "169.254.169.254",
                                "172.16.0.1",
                                "172.31.255.255",
                                "192.0.0.8",
                                "192.0.2.1",
                                "192.168.1.1",
                                "198.18.0.1",
                                "198.51.100.7",
                                "203.0.113.9",
                                "224.0.0.1",
                                "240.0.0.1",
                                "255.255.255.255",
                                "::",
                                "::1",
                                "::ffff:127.0.0.1",
                                "::ffff:10.0.0.1",
                                "::127.0.0.1",
                                "64:ff9b::a9fe:a9fe",
                                "2002:7f00:1::",
                                "fc00::1",
                                "fd12:3456::1",
                                "fe80::1",
                                "fec0::1",
                                "ff02::1",
                                "2001:db8::1",
                                "100::1"}) {
        INFO(refused);
        CHECK_FALSE(is_public(refused));
    }
}

TEST_CASE("public address: globally reachable addresses pass", "[clients]") {
    for (const char* allowed :
         {"1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1",
          "169.253.0.1", "192.169.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
          "2002:0808:0808::1"}) {
        INFO(allowed);
        CHECK(is_public(allowed));
    }
    // With private ranges allowed, only what can never be a peer stays refused.
    CHECK(clients::is_reachable_address(asio::ip::make_address("127.0.0.1")));
    CHECK(clients::is_reachable_address(asio::ip::make_address("10.0.0.1")));
    CHECK_FALSE(clients::is_reachable_address(asio::ip::make_address("0.0.0.0")));
    CHECK_FALSE(clients::is_reachable_address(asio::ip::make_address("224.0.0.1")));
}

TEST_CASE("https client: an address filter refuses a host before connecting to it", "[clients]") {
    httplib::Server server;
    std::atomic<int> hits{0};
    server.Get("/", [&hits](const httplib::Request&, httplib::Response& res) {
        ++hits;
        res.set_content("hello", "text/plain");
    });
    int port = server.bind_to_any_port("127.0.0.1");
    std::thread thread([&server] { server.listen_after_bind(); });
    while (!server.is_running()) {
        std::this_thread::yield();
    }

    asio::io_context io;
    clients::https_client_options options;
    options.allow_address = &clients::is_public_address;
    clients::https_client guarded(io.get_executor(), options);
    clients::http_call call;
    call.method = "GET";
    call.url = "http://127.0.0.1:" + std::to_string(port) + "/";
    auto refused = test::run_coro(io, guarded.send(call));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == "address_refused");
    CHECK_FALSE(refused.error().retryable);
    call.url = "http://localhost:" + std::to_string(port) + "/";  // a name, resolved first
    auto by_name = test::run_coro(io, guarded.send(call));
    REQUIRE_FALSE(by_name);
    CHECK(by_name.error().code == "address_refused");
    CHECK(hits == 0);

    // The same call through a filter that allows loopback goes through.
    options.allow_address = &clients::is_reachable_address;
    options.reuse_connections = false;
    clients::https_client open(io.get_executor(), options);
    auto answered = test::run_coro(io, open.send(call));
    REQUIRE(answered);
    CHECK(answered->body == "hello");
    CHECK(hits == 1);
    CHECK(open.idle_connections() == 0);  // not kept for reuse
    server.stop();
    thread.join();
}

TEST_CASE("photo fetcher: redirect targets are resolved against the URL they came from",
          "[clients]") {
    using clients::resolve_location;
    const std::string base = "https://photos.example:8443/sets/12/front.jpg?size=large";
    CHECK(resolve_location(base, "https://cdn.example/a.jpg") == "https://cdn.example/a.jpg");
    CHECK(resolve_location(base, "http://cdn.example/a.jpg") == "http://cdn.example/a.jpg");
    CHECK(resolve_location(base, "//cdn.example/a.jpg") == "https://cdn.example/a.jpg");
    CHECK(resolve_location(base, "/b.jpg") == "https://photos.example:8443/b.jpg");
    CHECK(resolve_location(base, "back.jpg") == "https://photos.example:8443/sets/12/back.jpg");
    CHECK(resolve_location("https://photos.example", "b.jpg") == "https://photos.example/b.jpg");
    CHECK(resolve_location(base, "").empty());
}
