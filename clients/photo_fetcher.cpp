// The photo fetcher: one GET per hop, streamed into a bounded buffer.
#include "clients/photo_fetcher.hpp"

#include <fmt/format.h>

#include "clients/https_client.hpp"
#include "clients/public_address.hpp"

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
namespace fe = pipeline::fetch_error;
using steady = std::chrono::steady_clock;

// Bytes of a non-2xx answer read at most (its body is not used).
constexpr std::size_t max_error_body = 64 * 1024;

bool is_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

unexpected<failure> refuse(std::string_view code, std::string message) {
    return fail(std::string(code), std::move(message));
}

// What a transport failure of the client means for the photo.
unexpected<failure> from_transport(const failure& f) {
    if (f.code == "timeout") {
        return refuse(fe::timeout,
                      "the URL did not answer in time; the fetch timeout bounds all "
                      "of an item's photos together");
    }
    if (f.code == "address_refused") {
        return refuse(fe::address_refused,
                      "the URL's host resolves to a private, loopback, link-local or otherwise "
                      "non-public address, which this service does not fetch from");
    }
    if (f.code == "bad_url") {
        return refuse(fe::invalid_url, "the URL cannot be used: " + f.message);
    }
    if (f.code == "tls_failed") {
        return refuse(fe::unreachable,
                      "the URL's host failed the TLS handshake (its certificate is not valid for "
                      "it or not trusted)");
    }
    if (f.code == "response_too_large") {
        return refuse(fe::bad_status, "the URL answered with an error");
    }
    return refuse(fe::unreachable,
                  "the URL's host could not be reached (its name is unknown, or the connection "
                  "was refused or broke)");
}

// A body read so far and why the reading stopped, if it did.
struct bounded_body {
    std::string bytes;
    std::string_view stopped_by;  // a fetch_error code; empty while reading
};

class https_photo_fetcher final : public pipeline::photo_fetcher {
public:
    https_photo_fetcher(asio::any_io_executor executor, photo_fetcher_options options)
        : options_(std::move(options)), client_(std::move(executor), client_options(options_)) {}

    asio::awaitable<result<std::string>> fetch(pipeline::fetch_request request) override {
        std::string url = request.url;
        for (int hop = 0;; ++hop) {
            if (auto bad = check_url(url, hop > 0)) {
                co_return *bad;
            }
            bounded_body body;
            body_sink sink = [&body, &request](std::string_view piece) {
                return take(body, piece, request);
            };
            http_call call;
            call.method = "GET";
            call.url = url;
            call.headers = {{"Accept", "image/*"}};
            call.timeout = remaining(request.deadline);
            auto answer = co_await client_.send_streamed(std::move(call), sink);
            if (!answer && answer.error().code == "stopped") {
                co_return stopped_failure(body.stopped_by, request);
            }
            if (!answer) {
                co_return from_transport(answer.error());
            }
            if (answer->status / 100 == 2) {
                co_return std::move(body.bytes);
            }
            if (!is_redirect(answer->status)) {
                co_return refuse(fe::bad_status,
                                 fmt::format("the URL answered with HTTP status {}, not a photo",
                                             answer->status));
            }
            if (hop >= options_.max_redirects) {
                co_return refuse(
                    fe::too_many_redirects,
                    fmt::format("the URL redirected more than {} times", options_.max_redirects));
            }
            url = resolve_location(url, answer->header("Location").value_or(""));
        }
    }

private:
    static https_client_options client_options(const photo_fetcher_options& o) {
        https_client_options c;
        c.max_response_bytes = max_error_body;
        c.extra_ca_pem = o.extra_ca_pem;
        c.reuse_connections = false;
        c.user_agent = "boomer/0.1 (photo fetch)";
        c.allow_address = o.allow_private ? &is_reachable_address : &is_public_address;
        return c;
    }

    static std::chrono::milliseconds remaining(steady::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        return std::max(left, std::chrono::milliseconds(1));
    }

    // check_url refuses a URL that is not https (for a redirect's target: any unusable one).
    static std::optional<unexpected<failure>> check_url(const std::string& url, bool redirected) {
        auto parts = parse_url(url);
        if (redirected && (!parts || !parts->tls)) {
            return refuse(fe::bad_redirect,
                          "the URL redirected to a target that is not an https URL");
        }
        if (!parts) {
            return refuse(fe::invalid_url, "the URL cannot be used: " + parts.error().message);
        }
        if (!parts->tls) {
            return refuse(fe::not_https, "photo URLs must start with https://");
        }
        return std::nullopt;
    }

    // take adds a piece of the body unless it passes a limit or another photo failed.
    static bool take(bounded_body& body, std::string_view piece,
                     const pipeline::fetch_request& request) {
        if (request.budget->stopped()) {
            body.stopped_by = fe::stopped;
        } else if (body.bytes.size() + piece.size() > request.max_bytes) {
            body.stopped_by = fe::file_too_large;
        } else if (!request.budget->take(piece.size())) {
            body.stopped_by = request.budget->pool_full() ? fe::busy : fe::total_too_large;
        } else {
            body.bytes.append(piece);
            return true;
        }
        return false;
    }

    static unexpected<failure> stopped_failure(std::string_view code,
                                               const pipeline::fetch_request& request) {
        if (code == fe::file_too_large) {
            return refuse(code, fmt::format("the URL's photo is larger than the limit of {} bytes",
                                            request.max_bytes));
        }
        if (code == fe::total_too_large) {
            return refuse(code, fmt::format("the item's photos together are larger than the "
                                            "limit of {} bytes",
                                            request.budget->limit()));
        }
        if (code == fe::busy) {
            return refuse(code,
                          "the server is downloading as many photos as it may hold at "
                          "once; retry in a moment, or send the photos themselves");
        }
        return refuse(fe::stopped, "another photo of the item failed");
    }

    photo_fetcher_options options_;
    https_client client_;
};

// The scheme and authority of an absolute URL ("https://host:port"), or empty.
std::string_view origin_of(std::string_view url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return {};
    }
    auto path = url.find_first_of("/?#", scheme_end + 3);
    return url.substr(0, path);
}

}  // namespace

std::string resolve_location(std::string_view base, std::string_view location) {
    if (location.empty()) {
        return {};
    }
    if (location.find("://") != std::string_view::npos) {
        return std::string(location);
    }
    auto origin = origin_of(base);
    if (origin.empty()) {
        return {};
    }
    if (location.starts_with("//")) {
        return std::string(base.substr(0, base.find(':') + 1)) + std::string(location);
    }
    if (location.front() == '/') {
        return std::string(origin) + std::string(location);
    }
    // Relative to the base's folder: its path up to the last '/', query left out.
    auto rest = base.substr(origin.size());
    rest = rest.substr(0, rest.find_first_of("?#"));
    auto folder = rest.substr(0, rest.rfind('/') + 1);
    return std::string(origin) + (folder.empty() ? "/" : std::string(folder)) +
           std::string(location);
}

std::unique_ptr<pipeline::photo_fetcher> make_photo_fetcher(asio::any_io_executor executor,
                                                            photo_fetcher_options options) {
    return std::make_unique<https_photo_fetcher>(std::move(executor), std::move(options));
}

}  // namespace boomer::clients
