// The pooled HTTP/1.1 client: connect (resolve, TCP, TLS), exchange one request, pool the
// connection again when the response allows keep-alive.
#include "clients/https_client.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/system_error.hpp>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>
#include <stdexcept>

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using beast::error_code;
using namespace asio::experimental::awaitable_operators;

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

using strand = asio::strand<asio::any_io_executor>;

// One kept-alive connection, plain or TLS. Its stream runs on its own strand, and so does every
// step a call takes with it: the stream's timeout handler (which closes the socket) and the
// call's coroutine (which reads the result and may destroy the connection) never run at once,
// even on an executor run by several threads.
struct connection {
    explicit connection(strand on) : runs_on(std::move(on)) {}

    strand runs_on;
    std::string key;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    steady::time_point idle_since = steady::now();

    beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
};
using connection_ptr = std::unique_ptr<connection>;

std::string pool_key(const url_parts& url) {
    return std::string(url.tls ? "https://" : "http://") + url.host + ":" +
           std::to_string(url.port);
}

// Milliseconds left until `deadline`, at least 1 so that an expiry always fires.
std::chrono::milliseconds remaining(steady::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    return std::max(left, std::chrono::milliseconds(1));
}

// Ends the call with an exception when the awaiting coroutine was cancelled.
asio::awaitable<void> throw_if_cancelled() {
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
        throw boost::system::system_error(asio::error::operation_aborted);
    }
}

// The failure for a transport error `ec` met during `step`.
failure transport_failure(const error_code& ec, steady::time_point deadline, std::string_view code,
                          std::string_view step) {
    if (ec == beast::error::timeout || steady::now() >= deadline) {
        return failure{"timeout",
                       "The upstream did not answer in time (" + std::string(step) + ").", true};
    }
    return failure{
        std::string(code),
        "The upstream connection failed while " + std::string(step) + ": " + ec.message() + ".",
        true};
}

// Bytes of a streamed answer read before they go to the sink.
constexpr std::size_t stream_piece_bytes = 64 * 1024;

// read_part reads the header only, or else the message (or as much of the body as the parser's
// buffer takes), from either kind of stream.
template <class Parser>
asio::awaitable<error_code> read_part(connection& conn, Parser& parser, bool header_only) {
    error_code ec;
    if (conn.plain && header_only) {
        std::tie(ec, std::ignore) =
            co_await http::async_read_header(*conn.plain, conn.buffer, parser, as_result);
    } else if (conn.plain) {
        std::tie(ec, std::ignore) =
            co_await http::async_read(*conn.plain, conn.buffer, parser, as_result);
    } else if (header_only) {
        std::tie(ec, std::ignore) =
            co_await http::async_read_header(*conn.secure, conn.buffer, parser, as_result);
    } else {
        std::tie(ec, std::ignore) =
            co_await http::async_read(*conn.secure, conn.buffer, parser, as_result);
    }
    co_return ec;
}

// allowed_endpoints keeps the endpoints `allow` accepts (all of them when it is unset).
result<std::vector<tcp::endpoint>> allowed_endpoints(
    std::vector<tcp::endpoint> endpoints,
    const std::function<bool(const asio::ip::address&)>& allow) {
    if (allow) {
        std::erase_if(endpoints, [&](const tcp::endpoint& e) { return !allow(e.address()); });
    }
    if (endpoints.empty()) {
        return fail("address_refused",
                    "The host's addresses are not ones this client may connect to.");
    }
    return endpoints;
}

// An exchange that failed before the peer sent anything may be retried on a new connection.
struct exchange_outcome {
    std::optional<http_response> response;
    failure error;
    bool nothing_received = false;
    bool keep_alive = false;
};

}  // namespace

struct https_client::impl {
    asio::any_io_executor executor;
    https_client_options options;
    ssl::context tls{ssl::context::tls_client};
    mutable std::mutex mutex;
    std::map<std::string, std::vector<connection_ptr>> idle;  // guarded by mutex

    connection_ptr take_idle(const std::string& key);
    void give_back(connection_ptr conn);
    asio::awaitable<exchange_outcome> attempt(std::shared_ptr<impl> self, connection_ptr conn,
                                              strand on, const url_parts& url,
                                              const http_call& call, const body_sink* sink,
                                              steady::time_point deadline);
    asio::awaitable<result<connection_ptr>> connect(strand on, const url_parts& url,
                                                    steady::time_point deadline);
    asio::awaitable<result<std::vector<tcp::endpoint>>> resolve(const url_parts& url,
                                                                steady::time_point deadline);
    asio::awaitable<exchange_outcome> exchange(connection& conn, const url_parts& url,
                                               const http_call& call, const body_sink* sink,
                                               steady::time_point deadline);
    asio::awaitable<failure> stream_body(connection& conn,
                                         http::response_parser<http::buffer_body>& parser,
                                         const body_sink& sink, steady::time_point deadline);
    asio::awaitable<result<http_response>> send(std::shared_ptr<impl> self, http_call call,
                                                const body_sink* sink);
};

result<url_parts> parse_url(std::string_view url) {
    url_parts out;
    if (url.starts_with("https://")) {
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
        out.tls = false;
        out.port = 80;
    } else {
        return fail("bad_url", "The URL must start with http:// or https://.");
    }
    auto slash = url.find_first_of("/?");
    auto authority = url.substr(0, slash);
    if (slash != std::string_view::npos) {
        out.target = std::string(url.substr(slash));
        if (out.target.front() == '?') {
            out.target.insert(0, "/");
        }
    }
    if (authority.find('@') != std::string_view::npos || url.find('#') != std::string_view::npos) {
        return fail("bad_url", "The URL must not carry user information or a fragment.");
    }
    auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
        auto port_text = authority.substr(colon + 1);
        unsigned port = 0;
        auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535) {
            return fail("bad_url", "The URL's port must be a number from 1 to 65535.");
        }
        out.port = static_cast<std::uint16_t>(port);
    }
    if (out.host.empty() || out.host.front() == '[') {
        return fail("bad_url", "The URL must name a host (IPv6 literals are not supported).");
    }
    return out;
}

std::optional<std::string_view> http_response::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

https_client::https_client(asio::any_io_executor executor, https_client_options options)
    : impl_(std::make_shared<impl>()) {
    impl_->executor = std::move(executor);
    impl_->options = std::move(options);
    impl_->tls.set_default_verify_paths();
    impl_->tls.set_verify_mode(ssl::verify_peer);
    if (!impl_->options.extra_ca_pem.empty()) {
        error_code ec;
        impl_->tls.add_certificate_authority(asio::buffer(impl_->options.extra_ca_pem), ec);
        if (ec) {
            throw std::runtime_error("https_client: the extra CA certificates cannot be read: " +
                                     ec.message());
        }
    }
}

https_client::~https_client() = default;

std::size_t https_client::idle_connections() const {
    std::lock_guard lock(impl_->mutex);
    std::size_t n = 0;
    for (const auto& [key, list] : impl_->idle) {
        n += list.size();
    }
    return n;
}

connection_ptr https_client::impl::take_idle(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end()) {
        return nullptr;
    }
    auto& list = it->second;
    auto now = steady::now();
    std::erase_if(
        list, [&](const connection_ptr& c) { return now - c->idle_since > options.idle_timeout; });
    if (list.empty()) {
        return nullptr;
    }
    auto conn = std::move(list.back());
    list.pop_back();
    return conn;
}

void https_client::impl::give_back(connection_ptr conn) {
    conn->idle_since = steady::now();
    std::lock_guard lock(mutex);
    auto& list = idle[conn->key];
    if (list.size() >= options.max_idle_per_host) {
        list.erase(list.begin());  // the oldest goes
    }
    list.push_back(std::move(conn));
}

asio::awaitable<result<std::vector<tcp::endpoint>>> https_client::impl::resolve(
    const url_parts& url, steady::time_point deadline) {
    error_code ec;
    auto literal = asio::ip::make_address(url.host, ec);
    if (!ec) {
        co_return allowed_endpoints({tcp::endpoint(literal, url.port)}, options.allow_address);
    }
    tcp::resolver resolver(executor);
    asio::steady_timer timer(executor, remaining(deadline));
    auto raced = co_await (resolver.async_resolve(url.host, std::to_string(url.port), as_result) ||
                           timer.async_wait(as_result));
    if (raced.index() == 1) {
        co_return fail("timeout", "The upstream's host name could not be resolved in time.", true);
    }
    auto [resolve_ec, found] = std::get<0>(raced);
    if (resolve_ec) {
        co_await throw_if_cancelled();
        co_return fail(
            "connect_failed",
            "The upstream's host name could not be resolved: " + resolve_ec.message() + ".", true);
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : found) {
        endpoints.push_back(entry.endpoint());
    }
    co_return allowed_endpoints(std::move(endpoints), options.allow_address);
}

asio::awaitable<result<connection_ptr>> https_client::impl::connect(strand on, const url_parts& url,
                                                                    steady::time_point deadline) {
    auto endpoints = co_await resolve(url, deadline);
    if (!endpoints) {
        co_return make_unexpected(endpoints.error());
    }
    auto conn = std::make_unique<connection>(on);
    conn->key = pool_key(url);
    if (url.tls) {
        conn->secure.emplace(asio::any_io_executor(on), tls);
    } else {
        conn->plain.emplace(asio::any_io_executor(on));
    }

    conn->lowest().expires_after(remaining(deadline));
    auto [ec, ep] = co_await conn->lowest().async_connect(*endpoints, as_result);
    if (ec) {
        co_await throw_if_cancelled();
        co_return make_unexpected(transport_failure(ec, deadline, "connect_failed", "connecting"));
    }
    if (url.tls) {
        // SNI (names only, never address literals), then the certificate must chain to a
        // trusted root and name the host.
        error_code not_ip;
        asio::ip::make_address(url.host, not_ip);
        if (not_ip) {
            SSL_ctrl(conn->secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                     TLSEXT_NAMETYPE_host_name, const_cast<char*>(url.host.c_str()));
        }
        conn->secure->set_verify_mode(ssl::verify_peer);
        conn->secure->set_verify_callback(ssl::host_name_verification(url.host));
        conn->lowest().expires_after(remaining(deadline));
        auto [hs_ec] = co_await conn->secure->async_handshake(ssl::stream_base::client, as_result);
        if (hs_ec) {
            co_await throw_if_cancelled();
            co_return make_unexpected(
                transport_failure(hs_ec, deadline, "tls_failed", "setting up TLS"));
        }
    }
    co_return std::move(conn);
}

asio::awaitable<exchange_outcome> https_client::impl::exchange(connection& conn,
                                                               const url_parts& url,
                                                               const http_call& call,
                                                               const body_sink* sink,
                                                               steady::time_point deadline) {
    // The body is sent from the call itself, never copied: it may hold megabytes of photos.
    http::request<http::span_body<const char>> req{http::string_to_verb(call.method), url.target,
                                                   11};
    bool default_port = url.port == (url.tls ? 443 : 80);
    req.set(http::field::host, default_port ? url.host : url.host + ":" + std::to_string(url.port));
    req.set(http::field::user_agent, options.user_agent);
    for (const auto& [name, value] : call.headers) {
        req.set(name, value);
    }
    const std::string& body = call.shared_body ? *call.shared_body : call.body;
    req.body() = {body.data(), body.size()};
    req.keep_alive(options.reuse_connections);
    req.prepare_payload();

    exchange_outcome out;
    conn.lowest().expires_after(remaining(deadline));
    error_code ec;
    if (conn.plain) {
        std::tie(ec, std::ignore) = co_await http::async_write(*conn.plain, req, as_result);
    } else {
        std::tie(ec, std::ignore) = co_await http::async_write(*conn.secure, req, as_result);
    }
    if (ec) {
        co_await throw_if_cancelled();
        out.error = transport_failure(ec, deadline, "connection_failed", "sending the request");
        out.nothing_received = true;
        co_return out;
    }

    // The header first: a 2xx answer to a streamed call goes to its sink piece by piece, any
    // other answer is read whole.
    http::response_parser<http::empty_body> head;
    head.body_limit(boost::none);
    conn.lowest().expires_after(remaining(deadline));
    ec = co_await read_part(conn, head, true);
    if (ec) {
        co_await throw_if_cancelled();
        out.error = transport_failure(ec, deadline, "connection_failed", "reading the answer");
        out.nothing_received = !head.got_some();
        co_return out;
    }
    http_response res;
    res.status = head.get().result_int();
    for (const auto& field : head.get()) {
        res.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.keep_alive = options.reuse_connections && head.get().keep_alive();
    if (sink != nullptr && res.status / 100 == 2) {
        http::response_parser<http::buffer_body> parser(std::move(head));
        out.error = co_await stream_body(conn, parser, *sink, deadline);
    } else {
        // The limit on a declared length is checked here: the parser checks it with the header,
        // which it read without one.
        const auto declared = head.content_length();
        http::response_parser<http::string_body> parser(std::move(head));
        parser.body_limit(options.max_response_bytes);
        ec = declared && *declared > options.max_response_bytes ? http::error::body_limit
                                                                : error_code{};
        if (!ec) {
            conn.lowest().expires_after(remaining(deadline));
            ec = co_await read_part(conn, parser, false);
        }
        if (ec == http::error::body_limit) {
            out.error = failure{"response_too_large",
                                "The upstream's answer is larger than this client accepts.", false};
        } else if (ec) {
            co_await throw_if_cancelled();
            out.error = transport_failure(ec, deadline, "connection_failed", "reading the answer");
        }
        res.body = std::move(parser.get().body());
    }
    if (!out.error.code.empty()) {
        co_return out;
    }
    out.response = std::move(res);
    co_return out;
}

// stream_body reads the rest of a 2xx answer into `sink`, a buffer's worth at a time. Returns
// the failure (empty code: the whole body was read and taken).
asio::awaitable<failure> https_client::impl::stream_body(
    connection& conn, http::response_parser<http::buffer_body>& parser, const body_sink& sink,
    steady::time_point deadline) {
    std::vector<char> piece(stream_piece_bytes);
    while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        conn.lowest().expires_after(remaining(deadline));
        auto ec = co_await read_part(conn, parser, false);
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec) {
            co_await throw_if_cancelled();
            co_return transport_failure(ec, deadline, "connection_failed", "reading the answer");
        }
        const auto got = piece.size() - parser.get().body().size;
        if (got > 0 && !sink(std::string_view(piece.data(), got))) {
            co_return failure{"stopped", "The answer's reader stopped before its end.", false};
        }
    }
    co_return failure{};
}

// attempt runs on `on`, the connection's strand: connects when `conn` is null, exchanges the
// call, and gives the connection back to the pool or closes it, all before it returns, so that
// no step on the connection runs outside its strand. `call` and `url` live in the awaiting send.
asio::awaitable<exchange_outcome> https_client::impl::attempt(
    std::shared_ptr<impl> self, connection_ptr conn, strand on, const url_parts& url,
    const http_call& call, const body_sink* sink, steady::time_point deadline) {
    if (!conn) {
        auto made = co_await self->connect(on, url, deadline);
        if (!made) {
            exchange_outcome out;
            out.error = std::move(made.error());
            co_return out;
        }
        conn = std::move(*made);
    }
    auto out = co_await self->exchange(*conn, url, call, sink, deadline);
    if (out.response && out.keep_alive) {
        self->give_back(std::move(conn));
    }
    co_return out;
}

asio::awaitable<result<http_response>> https_client::send(http_call call) {
    auto self = impl_;  // keeps the pool alive for the whole call
    co_return co_await self->send(self, std::move(call), nullptr);
}

asio::awaitable<result<http_response>> https_client::send_streamed(http_call call, body_sink sink) {
    auto self = impl_;
    co_return co_await self->send(self, std::move(call), &sink);
}

// send is both public sends; `sink` lives in the caller's frame.
asio::awaitable<result<http_response>> https_client::impl::send(std::shared_ptr<impl> self,
                                                                http_call call,
                                                                const body_sink* sink) {
    auto url = parse_url(call.url);
    if (!url) {
        co_return make_unexpected(url.error());
    }
    auto deadline = steady::now() + call.timeout;
    auto key = pool_key(*url);

    auto conn = self->options.reuse_connections ? self->take_idle(key) : nullptr;
    for (;;) {
        const bool reused = conn != nullptr;
        auto on = reused ? conn->runs_on : asio::make_strand(self->executor);
        auto step = self->attempt(self, std::move(conn), on, *url, call, sink, deadline);
        auto out = co_await asio::co_spawn(on, std::move(step), asio::use_awaitable);
        if (out.response) {
            co_return std::move(*out.response);
        }
        // A pooled connection the peer had already closed: once more on a new one. Not after a
        // timeout: the peer may be working on the request (its expiry, rounded down to whole
        // milliseconds, can fire just before `deadline`).
        if (!(reused && out.nothing_received && out.error.code != "timeout" &&
              steady::now() < deadline)) {
            co_return make_unexpected(out.error);
        }
    }
}

}  // namespace boomer::clients
