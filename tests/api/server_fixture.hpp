// What the HTTP server tests share: a server on 127.0.0.1:0 run by its own io threads, and a
// blocking raw-socket client that can send half a request or read interim responses.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/http_server.hpp"
#include "core/metrics.hpp"

namespace boomer::test {

// Options with short timeouts so that timeout tests take a fraction of a second.
api::server_options fast_options();

// A started server and the threads that run it; stops it on destruction.
class server_fixture {
public:
    explicit server_fixture(api::router routes, api::server_options options = fast_options(),
                            int threads = 2);
    ~server_fixture();
    server_fixture(const server_fixture&) = delete;
    server_fixture& operator=(const server_fixture&) = delete;

    std::uint16_t port() const { return server_.local_endpoint().port(); }
    // stop runs http_server::stop() to completion. Safe to call twice.
    void stop();
    metrics::registry& registry() { return registry_; }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    metrics::registry registry_;
    api::http_server server_;
    std::vector<std::thread> threads_;
    bool stopped_ = false;
};

using response = boost::beast::http::response<boost::beast::http::string_body>;

// A blocking client connection; every read gives up after 5 seconds.
class raw_client {
public:
    explicit raw_client(std::uint16_t port);

    void send(const std::string& bytes);
    // read_response reads one response (an interim 1xx too); nothing when the connection ends
    // or fails first. `head` for a response to HEAD (no body follows).
    std::optional<response> read_response(bool head = false);
    // closed_within tells whether the server closes the connection within `limit`, reading and
    // dropping anything it sends meanwhile.
    bool closed_within(std::chrono::milliseconds limit);

private:
    boost::asio::io_context io_;
    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
};

// request builds a request's text: "<method> <target> HTTP/1.1", Host, the extra header lines
// (each ending in CRLF), Content-Length when `body` is not empty, then the body.
std::string request(const std::string& method, const std::string& target,
                    const std::string& extra_headers = "", const std::string& body = "");

}  // namespace boomer::test
