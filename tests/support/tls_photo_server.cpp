// The test HTTPS server: one coroutine per connection, one request per connection.
#include "tests/support/tls_photo_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace boomer::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

struct tls_photo_server::state {
    asio::io_context io;
    asio::ssl::context tls{asio::ssl::context::tls_server};
    asio::ip::tcp::acceptor acceptor{io};
    std::mutex mutex;
    std::map<std::string, photo_route> routes;  // guarded by mutex
    std::atomic<int> requests{0};
    std::atomic<std::uint64_t> endless_bytes{0};

    photo_route find(const std::string& path) {
        std::lock_guard lock(mutex);
        auto it = routes.find(path);
        if (it == routes.end()) {
            return photo_route{404, "text/plain", "no such photo"};
        }
        return it->second;
    }
};

namespace {

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> write_endless(tls_stream& stream, tls_photo_server::state* s,
                                    std::uint64_t stall_after) {
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n";
    auto [hec, hn] = co_await asio::async_write(stream, asio::buffer(head), as_result);
    if (hec) {
        co_return;
    }
    // Starts like a JPEG, then filler, for as long as the client reads.
    std::string chunk(64 * 1024, '\x42');
    chunk[0] = '\xFF';
    chunk[1] = '\xD8';
    std::string framed = "10000\r\n" + chunk + "\r\n";
    for (std::uint64_t written = 0; stall_after == 0 || written < stall_after;
         written += chunk.size()) {
        auto [ec, n] = co_await asio::async_write(stream, asio::buffer(framed), as_result);
        if (ec) {
            co_return;
        }
        s->endless_bytes += chunk.size();
    }
    asio::steady_timer stalled(s->io, std::chrono::seconds(60));
    co_await stalled.async_wait(as_result);
}

asio::awaitable<void> serve(asio::ip::tcp::socket socket, tls_photo_server::state* s) {
    tls_stream stream(std::move(socket), s->tls);
    stream.next_layer().expires_after(std::chrono::seconds(30));
    auto [hs] = co_await stream.async_handshake(asio::ssl::stream_base::server, as_result);
    if (hs) {
        co_return;
    }
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [rec, rn] = co_await http::async_read(stream, buffer, req, as_result);
    if (rec) {
        co_return;
    }
    ++s->requests;
    auto r = s->find(std::string(req.target()));
    if (r.hang) {
        asio::steady_timer never(s->io, std::chrono::seconds(60));
        co_await never.async_wait(as_result);
        co_return;
    }
    if (r.endless) {
        stream.next_layer().expires_never();
        co_await write_endless(stream, s, r.stall_after);
        co_return;
    }
    http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
    res.set(http::field::content_type, r.content_type);
    if (!r.location.empty()) {
        res.set(http::field::location, r.location);
    }
    res.body() = r.body;
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(stream, res, as_result);
    co_await stream.async_shutdown(as_result);
}

asio::awaitable<void> accept_loop(tls_photo_server::state* s) {
    for (;;) {
        auto [ec, socket] = co_await s->acceptor.async_accept(as_result);
        if (ec) {
            co_return;
        }
        asio::co_spawn(s->io, serve(std::move(socket), s), asio::detached);
    }
}

}  // namespace

tls_photo_server::tls_photo_server()
    : cert_(make_certificate("DNS:localhost,IP:127.0.0.1")),
      state_(std::make_shared<state>()),
      requests_(state_->requests),
      endless_bytes_(state_->endless_bytes) {
    state_->tls.use_certificate_chain(asio::buffer(cert_.cert_pem));
    state_->tls.use_private_key(asio::buffer(cert_.key_pem), asio::ssl::context::pem);
    asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
    state_->acceptor.open(at.protocol());
    state_->acceptor.bind(at);
    state_->acceptor.listen();
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(state_->io, accept_loop(state_.get()), asio::detached);
    thread_ = std::thread([s = state_] { s->io.run(); });
}

tls_photo_server::~tls_photo_server() {
    state_->io.stop();
    thread_.join();
}

void tls_photo_server::route(const std::string& path, photo_route r) {
    std::lock_guard lock(state_->mutex);
    state_->routes[path] = std::move(r);
}

std::string tls_photo_server::url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace boomer::test
