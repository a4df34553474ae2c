// A small HTTPS server on 127.0.0.1 for photo URL tests: each path answers as its route says
// (a photo, an error, a redirect, a body that never ends, or no answer at all), with a
// certificate made for 127.0.0.1 whose PEM the service is told to trust.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tests/support/test_certificate.hpp"

namespace boomer::test {

struct photo_route {
    unsigned status = 200;
    std::string content_type = "image/jpeg";
    std::string body{};
    std::string location{};  // a Location header, for redirects
    bool hang = false;       // read the request, then never answer
    bool endless = false;    // a chunked 200 whose body never ends
    // endless: after this many body bytes the server stops writing and holds the connection
    // open, as a stalled upload would (0: it writes for as long as the client reads).
    std::uint64_t stall_after = 0;
};

class tls_photo_server {
public:
    tls_photo_server();
    ~tls_photo_server();
    tls_photo_server(const tls_photo_server&) = delete;
    tls_photo_server& operator=(const tls_photo_server&) = delete;

    // route sets what `path` answers (unknown paths answer 404). Thread-safe.
    void route(const std::string& path, photo_route r);
    // url returns "https://127.0.0.1:<port><path>".
    std::string url(const std::string& path) const;
    std::uint16_t port() const { return port_; }
    const std::string& ca_pem() const { return cert_.cert_pem; }
    // Requests read so far, and body bytes written for endless routes.
    int requests() const { return requests_; }
    std::uint64_t endless_bytes() const { return endless_bytes_; }

    struct state;

private:
    test_certificate cert_;
    std::shared_ptr<state> state_;
    std::uint16_t port_ = 0;
    std::atomic<int>& requests_;
    std::atomic<std::uint64_t>& endless_bytes_;
    std::thread thread_;
};

}  // namespace boomer::test
