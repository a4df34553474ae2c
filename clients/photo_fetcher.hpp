// Downloads photos given as URLs (pipeline::photo_fetcher) over https_client: https only, every
// connection's address checked against server-side request forgery (private, loopback and
// link-local ranges refused unless allowed), redirects followed a bounded number of times and
// each target checked again, the body read piece by piece and dropped as soon as it passes a
// limit.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "pipeline/photo_fetch.hpp"

namespace boomer::clients {

struct photo_fetcher_options {
    // Allow addresses in private, loopback and link-local ranges (a LAN photo server; tests).
    bool allow_private = false;
    int max_redirects = 5;
    // PEM certificates trusted in addition to the system's (a private CA).
    std::string extra_ca_pem;
};

// make_photo_fetcher builds the fetcher; its connections run on `executor`. Errors: a bad
// extra_ca_pem throws std::runtime_error (a configuration error). Thread-safe.
std::unique_ptr<pipeline::photo_fetcher> make_photo_fetcher(boost::asio::any_io_executor executor,
                                                            photo_fetcher_options options);

// resolve_location returns the absolute URL a redirect's Location names, relative to `base`
// (an absolute http or https URL), or empty when it cannot be read. Thread-safe.
std::string resolve_location(std::string_view base, std::string_view location);

}  // namespace boomer::clients
