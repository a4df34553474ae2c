// What the HTTP server's parts share, inside api/ only: the server's state, one connection's
// state, the request metrics, and the per-connection coroutine. Not for handlers.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/http_server.hpp"

namespace boomer::api::detail {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// method_label is the metrics and log spelling of a method ("OTHER" for unknown ones).
std::string_view method_label(http::verb method);

// Logs an exception that escaped a coroutine (a co_spawn completion handler); cancellation at
// shutdown is logged at debug level only.
struct log_escaped {
    const char* task;
    void operator()(std::exception_ptr error) const;
};

// Request counters and durations. Handles for a route's own method are cached lock-free per
// status, so a request costs no registry lookup once its (route, status) has been seen.
// Thread-safe.
class request_metrics {
public:
    // Registers the families in `registry` and resolves each route's duration histogram.
    request_metrics(metrics::registry& registry, const router& routes);

    // record counts one answered request. `route_index` is the router's, when a route matched.
    void record(std::optional<std::size_t> route_index, http::verb method, std::string_view route,
                unsigned status, double seconds);

    metrics::gauge& in_flight;
    metrics::gauge& open_connections;

private:
    struct route_slot {
        http::verb method = http::verb::unknown;
        std::string route;
        metrics::histogram* duration = nullptr;
        std::array<std::atomic<metrics::counter*>, 500> by_status{};  // statuses 100..599
    };

    metrics::family<metrics::counter>& requests_;
    metrics::family<metrics::histogram>& durations_;
    std::vector<std::unique_ptr<route_slot>> slots_;
};

// One connection. Everything but `id` and `peer` is touched only on the stream's strand.
struct session {
    explicit session(tcp::socket socket) : stream(std::move(socket)) {}

    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    asio::cancellation_signal cancel;  // terminal cancellation of the session at forced stop
    tcp::endpoint remote;
    std::string peer;  // remote address for the access log
    std::uint64_t id = 0;
    bool busy = false;    // a request is being read, handled or answered
    bool linger = false;  // input may be pending: discard it before closing
};

// Shared by the http_server object, the accept loop, the drain and every session: it lives until
// the last of them ends.
struct server_state {
    // Opens, binds and listens; throws boost::system::system_error when that fails.
    server_state(asio::io_context& io_context, tcp::endpoint endpoint, router r, server_options o,
                 metrics::registry& registry)
        : io(io_context),
          strand(asio::make_strand(io_context)),
          acceptor(strand),
          routes(std::move(r)),
          options(o),
          metrics(registry, routes) {
        acceptor.open(endpoint.protocol());
        acceptor.set_option(asio::socket_base::reuse_address(true));
        acceptor.bind(endpoint);
        acceptor.listen(asio::socket_base::max_listen_connections);
        local = acceptor.local_endpoint();
    }

    asio::io_context& io;
    asio::strand<asio::io_context::executor_type> strand;  // acceptor and drain
    tcp::acceptor acceptor;
    tcp::endpoint local;
    router routes;
    server_options options;
    request_metrics metrics;

    std::atomic<bool> stopping{false};
    std::mutex mutex;
    std::uint64_t next_id = 0;                                             // by mutex
    std::unordered_map<std::uint64_t, std::shared_ptr<session>> sessions;  // by mutex
};

// run_session serves one connection until it closes, then leaves `st`'s session set. Runs on
// the session's strand; ends early (without an answer) when the session is cancelled.
asio::awaitable<void> run_session(std::shared_ptr<server_state> st, std::shared_ptr<session> s);

}  // namespace boomer::api::detail
