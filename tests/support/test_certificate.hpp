// Certificates for TLS servers in tests.
#pragma once

#include <string>

namespace boomer::test {

// A self-signed certificate (also its own CA) and its private key, both PEM.
struct test_certificate {
    std::string cert_pem;
    std::string key_pem;
};

// make_certificate makes a P-256 certificate valid for an hour for `san`, e.g. "DNS:localhost"
// or "DNS:localhost,IP:127.0.0.1".
test_certificate make_certificate(const std::string& san);

}  // namespace boomer::test
