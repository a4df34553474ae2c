// The HTTP/1.1 server: accepts connections, reads requests with limits and deadlines, routes
// them to handlers, writes the responses, counts them in metrics and logs one line per request.
//
// Each connection is one coroutine on its own strand: read headers (idle timeout), answer
// `Expect: 100-continue` or refuse early, read the body (body timeout, size limit), call the
// handler, write (write timeout), and loop while keep-alive holds. Errors the server detects
// itself become problem+json responses (400, 404, 405, 413, 431, 500).
//
// Metrics: http_requests_total{method,route,status}, http_request_duration_seconds{method,route}
// (headers read to response written), http_requests_in_flight, http_open_connections. The route
// label is the path template, "unmatched" for a 404, never the raw path.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "api/router.hpp"
#include "core/metrics.hpp"

namespace boomer::api {

struct server_options {
    std::size_t max_body_bytes = 64 * 1024 * 1024;    // larger bodies get 413
    std::size_t max_header_bytes = 16 * 1024;         // larger headers get 431
    std::chrono::milliseconds idle_timeout{30'000};   // waiting for the next request's headers
    std::chrono::milliseconds body_timeout{60'000};   // reading one request's body
    std::chrono::milliseconds write_timeout{30'000};  // writing one response
    std::chrono::milliseconds drain_timeout{10'000};  // stop(): in-flight requests finish within
    // After an early error response (413 before the body, a parse error), how long unread input
    // is discarded before closing, so that the client reads the response instead of a reset.
    std::chrono::milliseconds linger_timeout{2'000};
    bool access_log = true;  // one info line per request
};

namespace detail {
struct server_state;
}

class http_server {
public:
    // Opens the listening socket on `endpoint` (SO_REUSEADDR; port 0 picks a free port) and
    // registers the metrics in `registry`. `routes` must be complete: it is only read from now
    // on. Errors: boost::system::system_error when the address cannot be bound. Lifetime:
    // `io` and `registry` must outlive every coroutine the server starts (run the io_context to
    // completion, or stop() the server, before destroying them).
    http_server(asio::io_context& io, asio::ip::tcp::endpoint endpoint, router routes,
                server_options options, metrics::registry& registry);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // start begins accepting connections on the io_context's threads. Call once.
    void start();

    // stop stops accepting, closes idle connections at once, lets requests in flight finish (their
    // responses say `Connection: close`) for up to drain_timeout, then closes the remaining
    // connections and cancels their handlers. It returns at once; `on_stopped` (optional) runs on
    // an I/O thread when every connection is gone, or a second after the forced close at most
    // (with a warning in the log). Thread-safe; calling it again is harmless.
    void stop(std::function<void()> on_stopped = {});

    // local_endpoint is the bound address (with the real port when 0 was asked). Thread-safe.
    asio::ip::tcp::endpoint local_endpoint() const;

    // routes is the router requests are dispatched to.
    const router& routes() const;

private:
    std::shared_ptr<detail::server_state> state_;
};

}  // namespace boomer::api
