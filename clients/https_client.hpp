// An HTTP/1.1 client for upstream APIs: Beast on coroutines, TLS through OpenSSL with the peer's
// certificate and host name verified (and SNI sent) for https URLs, plain TCP for http URLs
// (loopback fakes in tests), a small pool of kept-alive connections per host, and a deadline on
// every call.
//
// Thread-safety: one https_client may be shared by coroutines on any threads; the pool is
// guarded by a mutex and each connection is used by one call at a time, on its own strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace boomer::clients {

// A URL split into what a connection needs. Only http and https, no user info, no fragment.
struct url_parts {
    bool tls = true;
    std::string host;  // name or IPv4 literal; IPv6 literals in brackets are not supported
    std::uint16_t port = 443;
    std::string target = "/";  // path and query
};

// parse_url reads "https://host[:port][/path?query]" or "http://...". Errors: "bad_url" with a
// sentence naming the problem. Thread-safe.
result<url_parts> parse_url(std::string_view url);

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_call {
    std::string method = "POST";
    std::string url;
    header_list headers;  // Host, Content-Length and Connection are set by the client
    std::string body;
    // Sent instead of `body` when set: a large body (a batch of photos) shared by the copies of
    // a call that is retried, instead of copied into each.
    std::shared_ptr<const std::string> shared_body;
    std::chrono::milliseconds timeout{60'000};  // the whole call: connect, send and receive
};

struct http_response {
    unsigned status = 0;
    header_list headers;  // names as received
    std::string body;

    // header returns the first value of header `name` (case-insensitive), or empty.
    std::optional<std::string_view> header(std::string_view name) const;
};

struct https_client_options {
    // Kept open for reuse per host. Under load hundreds of calls are in flight at once; a small
    // pool would close most connections as their answers arrive and open (and, on TLS,
    // handshake) a new one for nearly every call.
    std::size_t max_idle_per_host = 256;
    std::chrono::milliseconds idle_timeout{30'000};  // idle connections older than this are closed
    std::size_t max_response_bytes = 16 * 1024 * 1024;
    std::string user_agent = "boomer/0.1";
    // PEM certificates trusted in addition to the system's (tests with their own CA).
    std::string extra_ca_pem;
    // When set, only addresses it accepts are connected to: a host name is resolved, the
    // addresses it refuses are dropped, and the connection goes to one of the rest (so a name
    // that resolves differently a moment later cannot slip past the check). Address literals in
    // URLs are checked too. No addresses left: the call fails with address_refused.
    std::function<bool(const boost::asio::ip::address&)> allow_address;
    // False: every call uses a new connection and closes it (for calls to many one-off hosts,
    // whose idle connections would otherwise stay open).
    bool reuse_connections = true;
};

// Takes an answer's body piece by piece as it arrives; returning false stops the read.
using body_sink = std::function<bool(std::string_view piece)>;

// Failure codes of https_client::send; all but bad_url, address_refused and response_too_large
// are retryable.
//   bad_url             the URL cannot be used;
//   address_refused     every address of the host was refused by options.allow_address;
//   connect_failed      name resolution or TCP connect failed;
//   tls_failed          the TLS handshake failed, including certificate verification;
//   timeout             the deadline passed;
//   connection_failed   the connection broke while sending or receiving;
//   response_too_large  the response is larger than max_response_bytes;
//   stopped             (send_streamed) the sink returned false; not retryable.

class https_client {
public:
    // Each connection runs on its own strand of `executor`. Errors: a TLS context that cannot be
    // set up (or a bad extra_ca_pem) throws std::runtime_error: a configuration bug.
    https_client(boost::asio::any_io_executor executor, https_client_options options = {});
    ~https_client();
    https_client(const https_client&) = delete;
    https_client& operator=(const https_client&) = delete;

    // send makes one HTTP request and returns the response, whatever its status. A kept-alive
    // connection that turns out to be closed by the peer before any response byte arrives is
    // replaced by a new one once. Cancellation of the awaiting coroutine closes the connection
    // and ends the call with an exception (boost::system::system_error, operation_aborted).
    // The client must outlive the call.
    boost::asio::awaitable<result<http_response>> send(http_call call);

    // send_streamed is send for answers too large to hold: the body of a 2xx answer goes to
    // `sink` as it arrives, without max_response_bytes, and the returned response's body stays
    // empty; any other answer is read whole, as by send. A call is never resent once the answer
    // has begun, so the sink sees each byte once.
    boost::asio::awaitable<result<http_response>> send_streamed(http_call call, body_sink sink);

    // idle_connections counts pooled connections (for tests and metrics).
    std::size_t idle_connections() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace boomer::clients
