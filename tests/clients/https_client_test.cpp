// The pooled HTTP client against loopback servers: URLs, keep-alive reuse, a connection the
// server closed while idle, deadlines, refused connections, size limits, and TLS with
// certificate and host name verification against a certificate made by the test.
#include "clients/https_client.hpp"

#include <httplib.h>
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "tests/clients/support.hpp"
#include "tests/support/test_certificate.hpp"

using namespace boomer;
using boomer::test::make_certificate;
using clients::http_call;
using clients::https_client;
namespace asio = boost::asio;

namespace {

// An httplib server on a loopback port in a thread, stopped on destruction.
class local_server {
public:
    explicit local_server(std::function<void(httplib::Server&)> setup) {
        setup(server_);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    ~local_server() {
        server_.stop();
        thread_.join();
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

http_call get(std::string url, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    http_call call;
    call.method = "GET";
    call.url = std::move(url);
    call.timeout = timeout;
    return call;
}

// Serves one TLS connection on `acceptor`: each request is answered "secure" until the peer
// closes. Records the SNI name the client sent.
asio::awaitable<void> serve_tls(asio::ip::tcp::acceptor* acceptor, asio::ssl::context* tls,
                                std::string* sni) {
    namespace beast = boost::beast;
    namespace http = beast::http;
    auto as_result = asio::as_tuple(asio::use_awaitable);
    auto [ec, socket] = co_await acceptor->async_accept(as_result);
    if (ec) {
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    auto [hs] = co_await stream.async_handshake(asio::ssl::stream_base::server, as_result);
    if (hs) {
        co_return;
    }
    const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    *sni = name != nullptr ? name : "";
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> req;
        auto [rec, n] = co_await http::async_read(stream, buffer, req, as_result);
        if (rec) {
            co_return;
        }
        http::response<http::string_body> res{http::status::ok, 11};
        res.body() = "secure";
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [wec, m] = co_await http::async_write(stream, res, as_result);
        if (wec) {
            co_return;
        }
    }
}

// Counts the call's end in `timeouts` when it is a timeout.
asio::awaitable<void> count_timeout(https_client* client, http_call call,
                                    std::atomic<int>* timeouts) {
    auto res = co_await client->send(std::move(call));
    if (!res && res.error().code == "timeout") {
        ++*timeouts;
    }
}

}  // namespace

TEST_CASE("https client: URLs are split or refused", "[clients]") {
    auto u = clients::parse_url("https://api.anthropic.com/v1/messages?beta=true");
    REQUIRE(u);
    CHECK(u->tls);
    CHECK(u->host == "api.anthropic.com");
    CHECK(u->port == 443);
    CHECK(u->target == "/v1/messages?beta=true");

    auto plain = clients::parse_url("http://127.0.0.1:8089");
    REQUIRE(plain);
    CHECK_FALSE(plain->tls);
    CHECK(plain->port == 8089);
    CHECK(plain->target == "/");

    for (auto bad :
         {"ftp://x", "api.anthropic.com", "https://", "https://u:p@host/", "https://host:0/",
          "https://host:99999/", "https://host:12ab/", "https://[::1]:80/", "https://host/#frag"}) {
        INFO(bad);
        auto r = clients::parse_url(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "bad_url");
    }
}

TEST_CASE("https client: a kept-alive connection is reused", "[clients]") {
    std::mutex mutex;
    std::set<int> client_ports;
    local_server server([&](httplib::Server& s) {
        s.Post("/echo", [&](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(mutex);
            client_ports.insert(req.remote_port);
            res.set_header("x-got", req.get_header_value("x-test"));
            res.set_content(req.body, "text/plain");
        });
    });
    asio::io_context io;
    https_client client(io.get_executor());
    for (int i = 0; i < 3; ++i) {
        http_call call;
        call.url = server.url("/echo");
        call.headers = {{"x-test", "v" + std::to_string(i)}};
        call.body = "body " + std::to_string(i);
        auto res = test::run_coro(io, client.send(call));
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body == "body " + std::to_string(i));
        CHECK(res->header("X-GOT") == "v" + std::to_string(i));
    }
    CHECK(client.idle_connections() == 1);
    std::lock_guard lock(mutex);
    CHECK(client_ports.size() == 1);
}

TEST_CASE("https client: a pooled connection the server closed is replaced", "[clients]") {
    std::atomic<int> served{0};
    local_server server([&](httplib::Server& s) {
        s.set_keep_alive_timeout(1);
        s.Get("/", [&](const httplib::Request&, httplib::Response& res) {
            ++served;
            res.set_content("ok", "text/plain");
        });
    });
    asio::io_context io;
    https_client client(io.get_executor());
    REQUIRE(test::run_coro(io, client.send(get(server.url("/")))));
    REQUIRE(client.idle_connections() == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the server drops it
    auto again = test::run_coro(io, client.send(get(server.url("/"))));
    REQUIRE(again);
    CHECK(again->body == "ok");
    CHECK(served == 2);
}

namespace {

// A keep-alive server that closes idle connections: on each of its first `connections`
// connections it answers `answers[i]` requests (keep-alive announced), then closes the
// connection; after the last one it stops listening. Runs in its own thread; closed(n) waits
// until n connections have been closed.
class closing_server {
public:
    explicit closing_server(std::vector<int> answers)
        : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
          thread_([this, answers] { serve(answers); }) {}
    ~closing_server() { thread_.join(); }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/";
    }
    void wait_closed(int n) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return closed_ >= n; });
    }
    int requests() const { return requests_.load(); }
    int accepted() const { return accepted_.load(); }

private:
    void serve(const std::vector<int>& answers) {
        namespace http = boost::beast::http;
        for (int n : answers) {
            boost::system::error_code ec;
            auto socket = acceptor_.accept(ec);
            if (ec) {
                break;
            }
            ++accepted_;
            boost::beast::flat_buffer buffer;
            for (int i = 0; i < n; ++i) {
                http::request<http::string_body> req;
                http::read(socket, buffer, req, ec);
                if (ec) {
                    break;
                }
                ++requests_;
                http::response<http::string_body> res{http::status::ok, 11};
                res.body() = "answer " + std::to_string(requests_.load());
                res.keep_alive(true);
                res.prepare_payload();
                http::write(socket, res, ec);
            }
            socket.close(ec);  // the idle connection dies without a word
            std::lock_guard lock(mutex_);
            ++closed_;
            changed_.notify_all();
        }
        acceptor_.close();
    }

    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::atomic<int> accepted_{0};
    std::atomic<int> requests_{0};
    std::mutex mutex_;
    std::condition_variable changed_;
    int closed_ = 0;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace

TEST_CASE("https client: a pooled connection closed while idle is retried once on a fresh one",
          "[clients]") {
    closing_server server({1, 1});
    asio::io_context io;
    https_client client(io.get_executor());
    auto first = test::run_coro(io, client.send(get(server.url())));
    REQUIRE(first);
    REQUIRE(client.idle_connections() == 1);
    server.wait_closed(1);  // the pooled connection is dead now

    // The call succeeds within the same send: the caller never sees the stale connection.
    auto second = test::run_coro(io, client.send(get(server.url())));
    REQUIRE(second);
    CHECK(second->body == "answer 2");
    CHECK(server.accepted() == 2);
    CHECK(server.requests() == 2);
}

TEST_CASE("https client: a fresh connection that fails after a stale one is not retried again",
          "[clients]") {
    closing_server server({1, 0});  // the second connection closes without answering
    asio::io_context io;
    https_client client(io.get_executor());
    REQUIRE(test::run_coro(io, client.send(get(server.url()))));
    server.wait_closed(1);
    auto res = test::run_coro(io, client.send(get(server.url())));
    REQUIRE_FALSE(res);
    CHECK(res.error().code == "connection_failed");
    CHECK(res.error().retryable);
    CHECK(server.accepted() == 2);  // the stale one and one fresh one, no third
    CHECK(server.requests() == 1);
}

TEST_CASE("https client: the deadline ends a slow call as a retryable timeout", "[clients]") {
    local_server server([](httplib::Server& s) {
        s.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
            std::this_thread::sleep_for(std::chrono::milliseconds(600));
            res.set_content("late", "text/plain");
        });
    });
    asio::io_context io;
    https_client client(io.get_executor());
    auto start = std::chrono::steady_clock::now();
    auto res =
        test::run_coro(io, client.send(get(server.url("/slow"), std::chrono::milliseconds(150))));
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(res);
    CHECK(res.error().code == "timeout");
    CHECK(res.error().retryable);
    CHECK(took < std::chrono::milliseconds(550));
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("https client: a timeout on a kept-alive connection does not send the request again",
          "[clients]") {
    std::atomic<int> slow_requests{0};
    local_server server([&](httplib::Server& s) {
        s.Get("/fast", [](const httplib::Request&, httplib::Response& res) {
            res.set_content("ok", "text/plain");
        });
        s.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
            ++slow_requests;
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            res.set_content("late", "text/plain");
        });
    });
    asio::io_context io;
    https_client client(io.get_executor());
    // Each slow call goes out on the connection the fast one left in the pool.
    for (int i = 0; i < 5; ++i) {
        REQUIRE(test::run_coro(io, client.send(get(server.url("/fast")))));
        REQUIRE(client.idle_connections() == 1);
        auto res = test::run_coro(
            io, client.send(get(server.url("/slow"), std::chrono::milliseconds(50))));
        REQUIRE_FALSE(res);
        CHECK(res.error().code == "timeout");
    }
    CHECK(slow_requests.load() == 5);
}

TEST_CASE("https client: a refused connection is a retryable connect failure", "[clients]") {
    // Bind a port, then close it, so that nothing listens there.
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    auto port = probe.local_endpoint().port();
    probe.close();
    https_client client(io.get_executor());
    auto res = test::run_coro(io, client.send(get("http://127.0.0.1:" + std::to_string(port))));
    REQUIRE_FALSE(res);
    CHECK(res.error().code == "connect_failed");
    CHECK(res.error().retryable);
}

TEST_CASE("https client: an answer over the size limit is refused", "[clients]") {
    local_server server([](httplib::Server& s) {
        s.Get("/big", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(std::string(4096, 'x'), "text/plain");
        });
    });
    asio::io_context io;
    clients::https_client_options options;
    options.max_response_bytes = 1024;
    https_client client(io.get_executor(), options);
    auto res = test::run_coro(io, client.send(get(server.url("/big"))));
    REQUIRE_FALSE(res);
    CHECK(res.error().code == "response_too_large");
    CHECK_FALSE(res.error().retryable);
}

TEST_CASE("https client: a streamed answer reaches the sink in pieces, past the size limit",
          "[clients]") {
    std::string body;
    for (int i = 0; body.size() < 300'000; ++i) {
        body += "{\"line\":" + std::to_string(i) + "}\n";
    }
    local_server server([&body](httplib::Server& s) {
        s.Get("/sized", [&body](const httplib::Request&, httplib::Response& res) {
            res.set_content(body, "application/x-jsonl");
        });
        s.Get("/chunked", [&body](const httplib::Request&, httplib::Response& res) {
            res.set_chunked_content_provider(
                "application/x-jsonl", [&body](std::size_t offset, httplib::DataSink& sink) {
                    if (offset >= body.size()) {
                        sink.done();
                    } else {
                        sink.write(body.data() + offset,
                                   std::min<std::size_t>(10'000, body.size() - offset));
                    }
                    return true;
                });
        });
    });
    asio::io_context io;
    clients::https_client_options options;
    options.max_response_bytes = 1024;  // applies to answers read whole, not to streamed ones
    https_client client(io.get_executor(), options);
    for (const std::string path : {"/sized", "/chunked"}) {
        INFO(path);
        std::string got;
        int pieces = 0;
        auto res = test::run_coro(
            io, client.send_streamed(get(server.url(path)), [&](std::string_view piece) {
                got += piece;
                ++pieces;
                return true;
            }));
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body.empty());
        CHECK(res->header("content-type") == "application/x-jsonl");
        CHECK(got == body);
        CHECK(pieces >= 5);  // 64 KiB at most per piece
        CHECK(client.idle_connections() == 1);
    }
    REQUIRE_FALSE(test::run_coro(io, client.send(get(server.url("/sized")))));
}

TEST_CASE("https client: a streamed call reads an error answer whole, and its sink can stop it",
          "[clients]") {
    local_server server([](httplib::Server& s) {
        s.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
            res.status = 404;
            res.set_content(R"({"type":"error"})", "application/json");
        });
        s.Get("/long", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(std::string(500'000, 'x'), "text/plain");
        });
    });
    asio::io_context io;
    https_client client(io.get_executor());
    int calls = 0;
    auto count = [&calls](std::string_view) {
        ++calls;
        return true;
    };
    auto missing = test::run_coro(io, client.send_streamed(get(server.url("/missing")), count));
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(missing->body == R"({"type":"error"})");
    CHECK(calls == 0);

    std::size_t taken = 0;
    auto stop_early = [&taken](std::string_view piece) {
        taken += piece.size();
        return taken < 100'000;
    };
    auto stopped = test::run_coro(io, client.send_streamed(get(server.url("/long")), stop_early));
    REQUIRE_FALSE(stopped);
    CHECK(stopped.error().code == "stopped");
    CHECK_FALSE(stopped.error().retryable);
    CHECK(taken < 500'000);
    CHECK(client.idle_connections() == 0);  // the rest of the answer is never read: closed
}

TEST_CASE("https client: many deadlines expiring at once on four threads all end as timeouts",
          "[clients]") {
    // A listener that never accepts: connections complete in its backlog and never answer, so
    // every call ends by its stream's timer while other threads run other calls' steps.
    asio::io_context server_io;
    asio::ip::tcp::acceptor silent(server_io, {asio::ip::make_address("127.0.0.1"), 0});
    silent.listen(256);
    const auto url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/";

    asio::io_context io;
    https_client client(io.get_executor());
    constexpr int calls = 64;
    std::atomic<int> timeouts{0};
    std::atomic<int> other{0};  // exceptions
    for (int i = 0; i < calls; ++i) {
        auto call = get(url, std::chrono::milliseconds(20 + i % 7 * 10));
        asio::co_spawn(io, count_timeout(&client, std::move(call), &timeouts),
                       [&other](std::exception_ptr e) {
                           if (e) {
                               ++other;
                           }
                       });
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&io] { io.run(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(timeouts.load() == calls);
    CHECK(other.load() == 0);
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("https client: TLS verifies the certificate and the host name, and sends SNI",
          "[clients]") {
    auto cert = make_certificate("DNS:localhost");
    asio::ssl::context server_tls(asio::ssl::context::tls_server);
    server_tls.use_certificate_chain(asio::buffer(cert.cert_pem));
    server_tls.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);

    asio::io_context io;
    auto serve_once = [&](std::string* sni) {
        auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(
            io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        asio::co_spawn(io, serve_tls(acceptor.get(), &server_tls, sni),
                       [acceptor](std::exception_ptr) {});
        return acceptor->local_endpoint().port();
    };

    SECTION("trusted through the extra CA, by name") {
        std::string sni;
        auto port = serve_once(&sni);
        clients::https_client_options options;
        options.extra_ca_pem = cert.cert_pem;
        https_client client(io.get_executor(), options);
        auto res =
            test::run_coro(io, client.send(get("https://localhost:" + std::to_string(port))));
        REQUIRE(res);
        CHECK(res->body == "secure");
        CHECK(sni == "localhost");
    }
    SECTION("an unknown issuer is refused") {
        std::string sni;
        auto port = serve_once(&sni);
        https_client client(io.get_executor());
        auto res =
            test::run_coro(io, client.send(get("https://localhost:" + std::to_string(port))));
        REQUIRE_FALSE(res);
        CHECK(res.error().code == "tls_failed");
    }
    SECTION("a certificate for another name is refused") {
        std::string sni;
        auto port = serve_once(&sni);
        clients::https_client_options options;
        options.extra_ca_pem = cert.cert_pem;
        https_client client(io.get_executor(), options);
        auto res =
            test::run_coro(io, client.send(get("https://127.0.0.1:" + std::to_string(port))));
        REQUIRE_FALSE(res);
        CHECK(res.error().code == "tls_failed");
    }
}
