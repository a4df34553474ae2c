// One HTTP connection: read a request under limits and deadlines, dispatch it, answer, repeat
// while keep-alive holds, then close.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>

#include "api/http_server_state.hpp"
#include "api/problem.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "store/store.hpp"

namespace boomer::api::detail {
namespace {

using steady = std::chrono::steady_clock;
using beast::error_code;

constexpr std::string_view unmatched_route = "unmatched";
constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

// What the server knows about the request being answered: for the response and the log.
struct exchange {
    http::verb method = http::verb::unknown;
    unsigned version = 11;
    bool keep_alive = false;
    std::string request_id;
    std::string_view route = unmatched_route;
    std::optional<std::size_t> route_index;
    std::size_t bytes_in = 0;
    steady::time_point start = steady::now();
};

// Removes a session from the server's set when its coroutine ends, however it ends.
class session_registration {
public:
    session_registration(std::shared_ptr<server_state> state, std::uint64_t id)
        : state_(std::move(state)), id_(id) {
        state_->metrics.open_connections.inc();
    }
    ~session_registration() {
        state_->metrics.open_connections.dec();
        std::lock_guard lock(state_->mutex);
        state_->sessions.erase(id_);
    }
    session_registration(const session_registration&) = delete;
    session_registration& operator=(const session_registration&) = delete;

private:
    std::shared_ptr<server_state> state_;
    std::uint64_t id_;
};

class in_flight_guard {
public:
    explicit in_flight_guard(metrics::gauge& g) : gauge_(g) { gauge_.inc(); }
    ~in_flight_guard() { gauge_.dec(); }
    in_flight_guard(const in_flight_guard&) = delete;
    in_flight_guard& operator=(const in_flight_guard&) = delete;

private:
    metrics::gauge& gauge_;
};

// An incoming x-request-id is echoed when it is 1..128 characters of [A-Za-z0-9._:-].
bool is_sane_request_id(std::string_view id) {
    return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
    });
}

std::string request_id_for(const http_request& header) {
    std::string_view incoming = header["x-request-id"];
    if (is_sane_request_id(incoming)) {
        return std::string(incoming);
    }
    return new_id("req", system_clock::instance().now_ms());
}

exchange begin_exchange(const http_request& header) {
    exchange ex;
    ex.method = header.method();
    ex.version = header.version();
    ex.keep_alive = header.keep_alive();
    ex.request_id = request_id_for(header);
    return ex;
}

// A read error the client should hear about, as a problem; nothing to close quietly (the peer
// left, timed out, or the server is stopping).
std::optional<problem> read_error_problem(error_code ec, const server_options& options) {
    static const auto& http_category = http::make_error_code(http::error::end_of_stream).category();
    if (ec == http::error::header_limit) {
        return request_header_fields_too_large(options.max_header_bytes);
    }
    if (ec == http::error::body_limit) {
        return payload_too_large(options.max_body_bytes);
    }
    if (ec.category() != http_category || ec == http::error::end_of_stream ||
        ec == http::error::partial_message) {
        return std::nullopt;
    }
    return bad_request("The request is not valid HTTP/1.1.");
}

std::string_view target_path(std::string_view target) {
    return target.substr(0, target.find('?'));
}

std::string_view target_query(std::string_view target) {
    std::size_t mark = target.find('?');
    return mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1);
}

// The server's own answer when no handler is called (unknown route, wrong method, bad URL).
http_response unrouted_response(const route_match& match, http::verb method) {
    switch (match.result) {
        case route_match::outcome::method_not_allowed: {
            http_response res = to_response(method_not_allowed(method_label(method), match.allow));
            res.set(http::field::allow, match.allow);
            return res;
        }
        case route_match::outcome::bad_request:
            return to_response(bad_request("The URL path has a malformed percent-escape."));
        default:
            return to_response(not_found());
    }
}

template <class Body>
asio::awaitable<error_code> write_message(std::shared_ptr<session> s,
                                          http::response<Body> message) {
    auto [ec, written] = co_await http::async_write(s->stream, message, as_result);
    co_return ec;
}

void log_request(const server_state& st, const session& s, const exchange& ex, unsigned status,
                 std::size_t bytes_out, double seconds) {
    if (!st.options.access_log || !spdlog::should_log(spdlog::level::info)) {
        return;
    }
    log::event(spdlog::level::info, "http_request",
               {{"method", method_label(ex.method)},
                {"route", ex.route},
                {"status", status},
                {"ms", seconds * 1000.0},
                {"bytes_in", ex.bytes_in},
                {"bytes_out", bytes_out},
                {"request_id", ex.request_id},
                {"peer", s.peer}});
}

// Completes `res` (version, keep-alive, headers, length), records it, writes it. Returns whether
// the connection may carry another request. The request is counted before the write so that a
// client that reads the answer and then scrapes /metrics always finds it counted; its duration
// is the time to a ready answer.
asio::awaitable<bool> respond(std::shared_ptr<server_state> st, std::shared_ptr<session> s,
                              http_response res, exchange ex) {
    bool keep_alive = ex.keep_alive && res.keep_alive() && !st->stopping.load();
    res.version(ex.version);
    res.keep_alive(keep_alive);
    res.set(http::field::server, "boomer");
    res.set("x-request-id", ex.request_id);
    res.prepare_payload();
    unsigned status = res.result_int();
    std::size_t bytes_out = res.body().size();
    double seconds = std::chrono::duration<double>(steady::now() - ex.start).count();
    st->metrics.record(ex.route_index, ex.method, ex.route, status, seconds);
    log_request(*st, *s, ex, status, bytes_out, seconds);

    s->stream.expires_after(st->options.write_timeout);
    error_code ec;
    if (ex.method == http::verb::head) {
        ec = co_await write_message(s, http::response<http::empty_body>(std::move(res.base())));
    } else {
        ec = co_await write_message(s, std::move(res));
    }
    co_return keep_alive && !ec;
}

// Writes the pieces of a streamed body (chunks for HTTP/1.1, raw for 1.0) until the writer ends
// it. Returns whether the body is complete; `bytes` counts what was written.
asio::awaitable<bool> write_pieces(std::shared_ptr<server_state> st, std::shared_ptr<session> s,
                                   std::shared_ptr<body_writer> next, bool chunked,
                                   const exchange& ex, std::size_t* bytes) {
    while (true) {
        std::optional<std::string> piece;
        try {
            piece = co_await (*next)();
        } catch (const std::exception& e) {
            log::event(spdlog::level::err, "http_stream_failed",
                       {{"request_id", ex.request_id}, {"route", ex.route}, {"error", e.what()}});
            co_return false;
        }
        s->stream.expires_after(st->options.write_timeout);
        error_code ec;
        if (!piece) {
            if (chunked) {
                auto last = http::make_chunk_last();  // named: no temporary in the co_await
                std::tie(ec, std::ignore) = co_await asio::async_write(s->stream, last, as_result);
            }
            co_return !ec;
        }
        if (piece->empty()) {
            continue;
        }
        if (chunked) {
            auto chunk = http::make_chunk(asio::buffer(*piece));
            std::tie(ec, std::ignore) = co_await asio::async_write(s->stream, chunk, as_result);
        } else {
            std::tie(ec, std::ignore) =
                co_await asio::async_write(s->stream, asio::buffer(*piece), as_result);
        }
        if (ec) {
            co_return false;
        }
        *bytes += piece->size();
    }
}

// Like respond, for a handler that streams its body through `next`.
asio::awaitable<bool> respond_streamed(std::shared_ptr<server_state> st, std::shared_ptr<session> s,
                                       http_response res, exchange ex,
                                       std::shared_ptr<body_writer> next) {
    bool chunked = ex.version >= 11;
    bool keep_alive = chunked && ex.keep_alive && res.keep_alive() && !st->stopping.load();
    res.version(ex.version);
    res.keep_alive(keep_alive);
    res.set(http::field::server, "boomer");
    res.set("x-request-id", ex.request_id);
    res.body().clear();
    res.erase(http::field::content_length);
    res.chunked(chunked);
    unsigned status = res.result_int();

    http::response<http::empty_body> head(std::move(res.base()));
    http::response_serializer<http::empty_body> serializer(head);
    s->stream.expires_after(st->options.write_timeout);
    auto [ec, n] = co_await http::async_write_header(s->stream, serializer, as_result);
    std::size_t bytes_out = 0;
    bool complete = !ec;
    if (complete && ex.method != http::verb::head) {
        complete = co_await write_pieces(st, s, next, chunked, ex, &bytes_out);
    }

    double seconds = std::chrono::duration<double>(steady::now() - ex.start).count();
    st->metrics.record(ex.route_index, ex.method, ex.route, status, seconds);
    log_request(*st, *s, ex, status, bytes_out, seconds);
    co_return keep_alive&& complete;
}

// Answers early, before (or instead of) reading the body; the connection then closes.
asio::awaitable<bool> respond_and_close(std::shared_ptr<server_state> st,
                                        std::shared_ptr<session> s, problem p, exchange ex) {
    ex.keep_alive = false;
    s->linger = true;
    co_await respond(st, s, to_response(p), std::move(ex));
    co_return false;
}

// Calls the route's handler; an escaping exception becomes a generic 500 (a 503 with Retry-After
// when it is a retryable store failure), its text goes to the log only.
asio::awaitable<http_response> call_handler(const handler* fn, request_context ctx) {
    std::string request_id = ctx.request_id;
    std::string route = ctx.route;
    std::exception_ptr error;
    try {
        co_return co_await (*fn)(std::move(ctx));
    } catch (...) {
        error = std::current_exception();
    }
    bool database_away = false;
    try {
        std::rethrow_exception(error);
    } catch (const store::store_error& e) {
        database_away = e.kind() == store::error_kind::retryable;
        log::event(database_away ? spdlog::level::warn : spdlog::level::err, "http_handler_failed",
                   {{"request_id", request_id}, {"route", route}, {"error", e.what()}});
    } catch (const std::exception& e) {
        log::event(spdlog::level::err, "http_handler_failed",
                   {{"request_id", request_id}, {"route", route}, {"error", e.what()}});
    } catch (...) {
        log::event(spdlog::level::err, "http_handler_failed",
                   {{"request_id", request_id}, {"route", route}, {"error", "unknown"}});
    }
    if (database_away) {
        // A retryable store failure (database restarting, connection lost): the client may try
        // again; an Idempotency-Key keeps a repeated submission from creating a second item.
        auto response = to_response(
            make_problem(http::status::service_unavailable, "database-unavailable",
                         "The database is unavailable right now. Retry in a few seconds; send "
                         "an Idempotency-Key header so that a repeated submission is safe."));
        response.set(http::field::retry_after, "2");
        co_return response;
    }
    co_return to_response(internal());
}

// Routes a fully read request: to its handler, or to the server's own 400/404/405.
asio::awaitable<http_response> dispatch(std::shared_ptr<session> s, http_request req,
                                        route_match match, std::string request_id,
                                        std::shared_ptr<body_writer> streamed) {
    if (match.result != route_match::outcome::found) {
        co_return unrouted_response(match, req.method());
    }
    auto query = parse_query(target_query(req.target()));
    if (!query) {
        co_return to_response(bad_request("The query string has a malformed percent-escape."));
    }
    request_context ctx{std::move(req),     std::move(match.path), std::move(*query),
                        s->remote,          std::move(request_id), std::string(match.path_template),
                        std::move(streamed)};
    co_return co_await call_handler(match.target, std::move(ctx));
}

// Reads the body when the headers leave it pending: refuses too large a Content-Length early,
// answers `Expect: 100-continue`. Returns a problem to answer with, or nothing when the body is
// read (or the connection is lost: then `lost` is set).
asio::awaitable<std::optional<problem>> read_body(std::shared_ptr<server_state> st,
                                                  std::shared_ptr<session> s,
                                                  http::request_parser<http::string_body>* parser,
                                                  route_match const* match, bool* lost) {
    const server_options& options = st->options;
    auto length = parser->content_length();
    if (length && *length > options.max_body_bytes) {
        co_return payload_too_large(options.max_body_bytes);
    }
    parser->body_limit(options.max_body_bytes);
    if (parser->is_done()) {
        co_return std::nullopt;
    }

    // A client waiting for 100 Continue hears about a wrong URL before it sends the body.
    bool expects_continue = parser->get().version() >= 11 &&
                            beast::iequals(parser->get()[http::field::expect], "100-continue");
    if (expects_continue) {
        if (match->result != route_match::outcome::found) {
            co_return std::nullopt;
        }
        s->stream.expires_after(options.write_timeout);
        http::response<http::empty_body> go_on{http::status::continue_, 11};
        if (co_await write_message(s, std::move(go_on))) {
            *lost = true;
            co_return std::nullopt;
        }
    }

    s->stream.expires_after(options.body_timeout);
    auto [ec, n] = co_await http::async_read(s->stream, s->buffer, *parser, as_result);
    if (ec) {
        auto refusal = read_error_problem(ec, options);
        *lost = !refusal;
        co_return refusal;
    }
    co_return std::nullopt;
}

// Serves one request on the connection. Returns whether another may follow.
asio::awaitable<bool> serve_one(std::shared_ptr<server_state> st, std::shared_ptr<session> s) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st->options.max_header_bytes));
    parser.body_limit(boost::none);

    s->busy = false;
    if (st->stopping.load()) {
        co_return false;
    }
    s->stream.expires_after(st->options.idle_timeout);
    auto [ec, n] = co_await http::async_read_header(s->stream, s->buffer, parser, as_result);
    s->busy = true;
    std::optional<problem> refusal;
    if (ec && !(refusal = read_error_problem(ec, st->options))) {
        co_return false;
    }
    exchange ex = begin_exchange(parser.get());
    in_flight_guard counted(st->metrics.in_flight);
    if (refusal) {
        co_return co_await respond_and_close(st, s, std::move(*refusal), std::move(ex));
    }

    route_match match = st->routes.find(ex.method, target_path(parser.get().target()));
    if (match.result == route_match::outcome::found ||
        match.result == route_match::outcome::method_not_allowed) {
        ex.route = match.path_template;
    }
    if (match.result == route_match::outcome::found) {
        ex.route_index = match.route_index;
    }

    bool lost = false;
    refusal = co_await read_body(st, s, &parser, &match, &lost);
    if (lost) {
        co_return false;
    }
    if (refusal) {
        co_return co_await respond_and_close(st, s, std::move(*refusal), std::move(ex));
    }
    if (!parser.is_done()) {
        // Expect: 100-continue to a URL without a route: answer without reading the body.
        ex.keep_alive = false;
        s->linger = true;
    }

    ex.bytes_in = parser.get().body().size();
    auto streamed = std::make_shared<body_writer>();
    http_response res =
        co_await dispatch(s, parser.release(), std::move(match), ex.request_id, streamed);
    if (*streamed && res.result() == http::status::ok) {
        co_return co_await respond_streamed(st, s, std::move(res), std::move(ex), streamed);
    }
    co_return co_await respond(st, s, std::move(res), std::move(ex));
}

// Ends the connection: half-close, and when input may still arrive, read and drop it for a
// moment so that the client gets our response rather than a reset.
asio::awaitable<void> close_connection(std::shared_ptr<server_state> st,
                                       std::shared_ptr<session> s) {
    error_code ignored;
    s->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (s->linger) {
        s->stream.expires_after(st->options.linger_timeout);
        std::array<char, 4096> scratch;
        while (true) {
            auto [ec, n] = co_await s->stream.async_read_some(asio::buffer(scratch), as_result);
            if (ec) {
                break;
            }
        }
    }
    s->stream.close();
}

}  // namespace

asio::awaitable<void> run_session(std::shared_ptr<server_state> st, std::shared_ptr<session> s) {
    session_registration registration(st, s->id);
    bool cancelled = false;
    try {
        while (co_await serve_one(st, s)) {
        }
    } catch (const boost::system::system_error& e) {
        if (e.code() != asio::error::operation_aborted) {
            throw;
        }
        cancelled = true;  // forced stop: the handler was cancelled
    }
    if (cancelled) {
        s->stream.close();
        co_return;
    }
    co_await close_connection(st, s);
}

}  // namespace boomer::api::detail
