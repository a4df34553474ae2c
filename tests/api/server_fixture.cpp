// The HTTP server test fixture and the raw-socket client.
#include "tests/api/server_fixture.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <future>

namespace boomer::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

api::server_options fast_options() {
    api::server_options o;
    o.max_body_bytes = 64 * 1024;
    o.max_header_bytes = 4 * 1024;
    o.idle_timeout = 200ms;
    o.body_timeout = 500ms;
    o.write_timeout = 500ms;
    o.drain_timeout = 2s;
    o.linger_timeout = 200ms;
    o.access_log = false;
    return o;
}

server_fixture::server_fixture(api::router routes, api::server_options options, int threads)
    : work_(io_.get_executor()),
      server_(io_, {asio::ip::make_address("127.0.0.1"), 0}, std::move(routes), options,
              registry_) {
    server_.start();
    for (int i = 0; i < threads; ++i) {
        threads_.emplace_back([this] { io_.run(); });
    }
}

server_fixture::~server_fixture() {
    stop();
    work_.reset();
    for (auto& t : threads_) {
        t.join();
    }
}

void server_fixture::stop() {
    if (stopped_) {
        return;
    }
    stopped_ = true;
    std::promise<void> stopped;
    server_.stop([&stopped] { stopped.set_value(); });
    stopped.get_future().wait();
}

raw_client::raw_client(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval timeout{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

void raw_client::send(const std::string& bytes) {
    asio::write(socket_, asio::buffer(bytes));
}

std::optional<response> raw_client::read_response(bool head) {
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    parser.body_limit(16 * 1024 * 1024);
    boost::beast::error_code ec;
    http::read(socket_, buffer_, parser, ec);
    if (ec) {
        return std::nullopt;
    }
    return parser.release();
}

bool raw_client::closed_within(std::chrono::milliseconds limit) {
    timeval timeout{0, static_cast<suseconds_t>(std::chrono::microseconds(limit).count())};
    timeout.tv_sec = timeout.tv_usec / 1'000'000;
    timeout.tv_usec %= 1'000'000;
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    buffer_.clear();
    std::array<char, 4096> scratch;
    while (true) {
        boost::system::error_code ec;
        socket_.read_some(asio::buffer(scratch), ec);
        if (ec == asio::error::eof || ec == asio::error::connection_reset) {
            return true;
        }
        if (ec) {
            return false;  // the receive timeout: still open
        }
    }
}

std::string request(const std::string& method, const std::string& target,
                    const std::string& extra_headers, const std::string& body) {
    std::string text = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
    if (!body.empty()) {
        text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    return text + "\r\n" + body;
}

}  // namespace boomer::test
