// bench_https_client: how many calls per second the pooled upstream client makes over kept-alive
// loopback connections, and the CPU each costs. A plain-HTTP server in this process answers
// every GET with a fixed body on its own thread; C callers on T client threads each make calls
// one after another for D seconds. Prints calls/s and the process's CPU microseconds per call
// (server included, so compare runs with each other, not with other tools); with --runs R also
// the median of each. Each run prints the load average first: on a shared machine other work
// slows it.
//
// Usage: bench_https_client [--callers C] [--threads T] [--seconds D] [--body BYTES] [--runs R]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "clients/https_client.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

struct bench_config {
    int callers = 64;
    int threads = 2;
    int seconds = 5;
    int body = 2'048;
    int runs = 1;
};

int positive_int(const std::string& flag, const char* text) {
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 1 || value > 1'000'000) {
        throw std::invalid_argument(flag + " needs a number from 1 to 1000000");
    }
    return static_cast<int>(value);
}

bench_config parse(int argc, char** argv) {
    bench_config c;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (i + 1 >= argc) {
            throw std::invalid_argument(flag + " needs a value");
        }
        int value = positive_int(flag, argv[++i]);
        if (flag == "--callers") {
            c.callers = value;
        } else if (flag == "--threads") {
            c.threads = value;
        } else if (flag == "--seconds") {
            c.seconds = value;
        } else if (flag == "--body") {
            c.body = value;
        } else if (flag == "--runs") {
            c.runs = value;
        } else {
            throw std::invalid_argument("unknown flag " + flag);
        }
    }
    return c;
}

// Answers each request on one connection with `body` until the peer closes.
asio::awaitable<void> serve_connection(tcp::socket socket, const std::string* body) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    constexpr auto as_result = asio::as_tuple(asio::use_awaitable);
    for (;;) {
        http::request<http::empty_body> req;
        auto [read_ec, n] = co_await http::async_read(stream, buffer, req, as_result);
        if (read_ec) {
            co_return;
        }
        http::response<http::string_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = *body;
        res.keep_alive(true);
        res.prepare_payload();
        auto [write_ec, m] = co_await http::async_write(stream, res, as_result);
        if (write_ec) {
            co_return;
        }
    }
}

asio::awaitable<void> accept_all(tcp::acceptor* acceptor, const std::string* body) {
    for (;;) {
        auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            co_return;
        }
        asio::co_spawn(acceptor->get_executor(), serve_connection(std::move(socket), body),
                       asio::detached);
    }
}

// Calls `url` until `until`, counting the answers and the failures.
asio::awaitable<void> call_until(boomer::clients::https_client* client, std::string url,
                                 steady::time_point until, std::atomic<long>* done,
                                 std::atomic<long>* failed) {
    while (steady::now() < until) {
        boomer::clients::http_call call;
        call.method = "GET";
        call.url = url;
        call.timeout = std::chrono::seconds(10);
        auto res = co_await client->send(std::move(call));
        if (res && res->status == 200) {
            ++*done;
        } else {
            ++*failed;
        }
    }
}

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}

struct figures {
    double calls_per_second = 0;
    double cpu_us_per_call = 0;
};

figures run_once(const bench_config& c) {
    const std::string body(static_cast<std::size_t>(c.body), 'x');
    asio::io_context server_io;
    tcp::acceptor acceptor(server_io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(server_io, accept_all(&acceptor, &body), asio::detached);
    std::thread server([&server_io] { server_io.run(); });
    const std::string url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());

    asio::io_context client_io;
    boomer::clients::https_client client(client_io.get_executor());
    std::atomic<long> done{0};
    std::atomic<long> failed{0};
    const auto cpu_start = cpu_seconds();
    const auto start = steady::now();
    const auto until = start + std::chrono::seconds(c.seconds);
    for (int i = 0; i < c.callers; ++i) {
        asio::co_spawn(client_io, call_until(&client, url, until, &done, &failed), asio::detached);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < c.threads; ++t) {
        threads.emplace_back([&client_io] { client_io.run(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    const double elapsed = std::chrono::duration<double>(steady::now() - start).count();
    const double cpu = cpu_seconds() - cpu_start;
    server_io.stop();
    server.join();
    if (failed.load() > 0) {
        std::fprintf(stderr, "bench_https_client: %ld calls failed\n", failed.load());
    }
    figures out;
    out.calls_per_second = static_cast<double>(done.load()) / elapsed;
    out.cpu_us_per_call = done.load() > 0 ? cpu * 1e6 / static_cast<double>(done.load()) : 0.0;
    return out;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    auto n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

}  // namespace

int main(int argc, char** argv) {
    bench_config c;
    try {
        c = parse(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_https_client: %s\n", e.what());
        return 2;
    }
    std::printf("%d callers on %d client threads, %d s per run, %d-byte answers\n", c.callers,
                c.threads, c.seconds, c.body);
    std::vector<double> rates;
    std::vector<double> costs;
    for (int r = 0; r < c.runs; ++r) {
        std::printf("load average %s\n", load_average().c_str());
        auto f = run_once(c);
        std::printf("run %d: %.0f calls/s, %.1f us CPU per call\n", r + 1, f.calls_per_second,
                    f.cpu_us_per_call);
        rates.push_back(f.calls_per_second);
        costs.push_back(f.cpu_us_per_call);
    }
    if (c.runs > 1) {
        std::printf("median: %.0f calls/s, %.1f us CPU per call\n", median(rates), median(costs));
    }
    return 0;
}
