// Routing of HTTP requests to handlers by method and path template ("/v1/items/{id}"), and what
// a handler receives: the request, its path and query parameters, the peer and the request id.
//
// A router is filled once at start-up and then only read: `add` is not thread-safe, `find` and
// `routes` may run on any number of threads once filling is over.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boomer::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

// Named values taken from a URL, in the order they appeared; names may repeat (query strings).
class url_params {
public:
    // get returns the first value named `name`, or nothing.
    std::optional<std::string_view> get(std::string_view name) const;
    bool contains(std::string_view name) const { return get(name).has_value(); }
    const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
    void add(std::string name, std::string value);

private:
    std::vector<std::pair<std::string, std::string>> items_;
};

// A response body written after the headers, one piece per call (HTTP/1.1: chunked transfer
// coding; HTTP/1.0: the pieces, then the connection closes), for answers too large to hold in
// memory. Each call returns the next piece, or nothing at the end. It runs on the connection's
// I/O thread: blocking work goes through core/async.hpp's run_on. An exception ends the
// connection without the last chunk, so a client never takes a cut body for a whole one.
using body_writer = std::function<asio::awaitable<std::optional<std::string>>()>;

// Everything a handler gets. It owns its data: a handler may keep it across awaits.
struct request_context {
    http_request request;
    url_params path;   // `{name}` segments of the route, percent-decoded
    url_params query;  // `?a=1&b=x+y`, percent-decoded, '+' read as a space
    asio::ip::tcp::endpoint remote;
    std::string request_id;  // also sent back as the x-request-id response header
    std::string route;       // the matched path template, e.g. "/v1/items/{id}"
    // Set by the server. A handler that stores a writer here streams its body: the response it
    // returns gives the status and headers, its body is ignored, and the pieces follow.
    std::shared_ptr<body_writer> streamed_body = std::make_shared<body_writer>();
};

// A handler turns a request into a response. The server sets version, keep-alive,
// Content-Length, Server and x-request-id afterwards, and answers HEAD without the body. An
// exception escaping a handler becomes a generic 500 (the exception text goes to the log only).
// Handlers run on an I/O thread: blocking work must go through core/async.hpp's run_on.
using handler = std::function<asio::awaitable<http_response>(request_context)>;

// One registered route, as routes() lists them (e.g. to compare with openapi.yaml).
struct route_info {
    http::verb method;
    std::string path_template;
    std::string name;
};

// The outcome of looking a request up.
struct route_match {
    enum class outcome { found, not_found, method_not_allowed, bad_request };
    outcome result = outcome::not_found;
    const handler* target = nullptr;  // when found; points into the router
    std::size_t route_index = 0;      // when found: position in routes(), for per-route caches
    std::string_view path_template;   // when found or method_not_allowed; points into the router
    url_params path;                  // when found
    std::string allow;                // when method_not_allowed: the Allow header value
};

class router {
public:
    // add registers `fn` for `method` on `path_template`: segments separated by '/', each either
    // literal text or a whole-segment `{name}` parameter. `name` is an optional operation name
    // (defaults to the template). HEAD is answered by the GET route unless one is added for HEAD.
    // Errors (std::invalid_argument, these are bugs): a template that does not start with '/',
    // a malformed or repeated parameter, an empty handler, or the same method and template twice.
    // Not thread-safe: fill the router before serving.
    void add(http::verb method, std::string_view path_template, handler fn, std::string name = {});

    // routes lists the registered routes in the order they were added.
    std::vector<route_info> routes() const;

    // find looks up the route for `method` and `path` (the target without its query). When
    // several templates match, the one with a literal where the others have a parameter (at the
    // first difference) wins; templates without the method are skipped. A parameter with a
    // malformed percent-escape gives bad_request. Thread-safe once filling is over.
    route_match find(http::verb method, std::string_view path) const;

private:
    struct segment {
        std::string text;  // the literal, or the parameter's name
        bool is_param = false;
    };
    struct pattern {
        std::string text;
        std::vector<segment> segments;
        std::vector<std::size_t> routes;  // indexes into routes_
    };
    struct route {
        http::verb method;
        std::size_t pattern_index;
        std::string name;
        handler fn;
    };

    static std::vector<segment> parse_template(std::string_view path_template);
    static bool more_specific(const pattern& a, const pattern& b);
    const route* route_for(const pattern& p, http::verb method) const;
    std::string allow_header(const std::vector<const pattern*>& matching) const;

    std::vector<pattern> patterns_;
    std::vector<route> routes_;
};

// percent_decode decodes %XX escapes (and '+' as a space when `plus_is_space`); nothing when an
// escape is malformed. Thread-safe.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// parse_query reads `a=1&b=x%20y&flag` (without the '?') into parameters; nothing when an
// escape is malformed. A name without '=' has an empty value. Thread-safe.
std::optional<url_params> parse_query(std::string_view query);

}  // namespace boomer::api
