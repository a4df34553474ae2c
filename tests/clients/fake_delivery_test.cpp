// The fake Anthropic server tells answers it delivered from answers it only produced: a client
// that is gone by the time the answer is written (a killed replica) leaves its call paid but
// undelivered, which is what the scale-out test's accounting of paid calls relies on.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "clients/anthropic_messages.hpp"
#include "core/hash.hpp"
#include "pipeline/image/normalize.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/support/paths.hpp"

using namespace boomer;

namespace {

std::string small_jpeg() {
    image::normalize_limits limits;
    limits.max_long_edge = 200;
    auto bytes = test::read_file(test::data_dir() / "images" / "orientation-1-landscape.jpg");
    return image::normalize(bytes, limits).value().jpeg;
}

std::string identify_body(const std::string& jpeg) {
    pipeline::identify_request r;
    r.jpeg_images = {jpeg};
    clients::identify_call_params p;
    p.model = "claude-haiku-4-5";
    return clients::build_identify_body(r, p);
}

// send_and_close writes one complete request on a fresh connection and closes it without
// reading the answer, as a client killed while waiting would.
void send_and_close(int port, const std::string& body) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string request =
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "x-api-key: test-key\r\nanthropic-version: 2023-06-01\r\n"
        "content-type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    std::size_t sent = 0;
    while (sent < request.size()) {
        auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        REQUIRE(n > 0);
        sent += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

}  // namespace

TEST_CASE("fake anthropic: a paid answer read by the client counts as delivered", "[clients]") {
    fakes::fake_anthropic fake;
    auto jpeg = small_jpeg();
    httplib::Client client("127.0.0.1", fake.port());
    auto res = client.Post("/v1/messages",
                           {{"x-api-key", "test-key"}, {"anthropic-version", "2023-06-01"}},
                           identify_body(jpeg), "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("\"tool_use\"") != std::string::npos);

    // The fake marks the call once its write returns, which may be just after the client read.
    for (int i = 0; i < 1000 && fake.delivered_paid() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(fake.delivered_paid() == 1);
    auto calls = fake.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].delivered);
    CHECK(calls[0].image_sha256 == std::vector<std::string>{sha256_hex(jpeg)});
}

TEST_CASE("fake anthropic: an answer to a client that hung up is paid but not delivered",
          "[clients]") {
    fakes::fake_anthropic_options options;
    options.latency = std::chrono::milliseconds(100);
    fakes::fake_anthropic fake(options);
    send_and_close(fake.port(), identify_body(small_jpeg()));

    // The answer is written after the latency; give the write time to be tried.
    for (int i = 0; i < 100 && fake.received() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(fake.received() == 1);
    CHECK(fake.paid() == 1);
    CHECK(fake.delivered_paid() == 0);
    auto calls = fake.calls();
    REQUIRE(calls.size() == 1);
    CHECK_FALSE(calls[0].delivered);
}
