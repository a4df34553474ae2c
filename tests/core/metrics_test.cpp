// Tests of the metrics registry: exact exposition text, validation of names, concurrency, and
// promtool's own check of the rendered output.
#include "core/metrics.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace metrics = boomer::metrics;

namespace {

struct command_output {
    int status = -1;
    std::string text;
};

// Runs a shell command and returns its exit status and combined output.
command_output run_command(const std::string& command) {
    command_output out;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) {
        return out;
    }
    std::array<char, 512> chunk{};
    while (std::fgets(chunk.data(), static_cast<int>(chunk.size()), pipe) != nullptr) {
        out.text += chunk.data();
    }
    int raw = ::pclose(pipe);
    out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return out;
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
    auto path = std::filesystem::temp_directory_path() / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

}  // namespace

TEST_CASE("metrics: renders a small registry exactly", "[core]") {
    metrics::registry reg;
    auto& jobs = reg.counter_family("jobs_total", "Jobs finished.", {"outcome"});
    jobs.with({"ok"}).inc();
    jobs.with({"ok"}).inc(2);
    jobs.with({"failed"}).inc();
    reg.gauge_family("queue_depth", "Items waiting.").with({}).set(7.5);
    auto& took = reg.histogram_family("stage_seconds", "Stage time.", {"stage"}, {0.1, 1});
    took.with({"price"}).observe(0.05);
    took.with({"price"}).observe(0.5);
    took.with({"price"}).observe(3);

    std::string expected =
        "# HELP jobs_total Jobs finished.\n"
        "# TYPE jobs_total counter\n"
        "jobs_total{outcome=\"failed\"} 1\n"
        "jobs_total{outcome=\"ok\"} 3\n"
        "# HELP queue_depth Items waiting.\n"
        "# TYPE queue_depth gauge\n"
        "queue_depth 7.5\n"
        "# HELP stage_seconds Stage time.\n"
        "# TYPE stage_seconds histogram\n"
        "stage_seconds_bucket{stage=\"price\",le=\"0.1\"} 1\n"
        "stage_seconds_bucket{stage=\"price\",le=\"1\"} 2\n"
        "stage_seconds_bucket{stage=\"price\",le=\"+Inf\"} 3\n"
        "stage_seconds_sum{stage=\"price\"} 3.55\n"
        "stage_seconds_count{stage=\"price\"} 3\n";
    CHECK(reg.render() == expected);
}

TEST_CASE("metrics: escapes label values and help text", "[core]") {
    metrics::registry reg;
    auto& f = reg.counter_family("odd_total", "Back\\slash and\nnewline.", {"path"});
    f.with({"a\"b\\c\nd"}).inc();
    std::string expected =
        "# HELP odd_total Back\\\\slash and\\nnewline.\n"
        "# TYPE odd_total counter\n"
        "odd_total{path=\"a\\\"b\\\\c\\nd\"} 1\n";
    CHECK(reg.render() == expected);
}

TEST_CASE("metrics: a family without labels renders zero before any update", "[core]") {
    metrics::registry reg;
    reg.counter_family("starts_total", "Starts.");
    reg.histogram_family("size_bytes", "Sizes.", {}, {10});
    std::string text = reg.render();
    CHECK(text.find("starts_total 0\n") != std::string::npos);
    CHECK(text.find("size_bytes_bucket{le=\"10\"} 0\n") != std::string::npos);
    CHECK(text.find("size_bytes_bucket{le=\"+Inf\"} 0\n") != std::string::npos);
    CHECK(text.find("size_bytes_count 0\n") != std::string::npos);
}

TEST_CASE("metrics: callback gauges are evaluated at each render", "[core]") {
    metrics::registry reg;
    double level = 1;
    auto& g = reg.callback_gauge_family("pool_threads", "Threads.", {"pool"}).with({"cpu"});
    g.set_callback([&level] { return level; });
    CHECK(reg.render().find("pool_threads{pool=\"cpu\"} 1\n") != std::string::npos);
    level = 4;
    CHECK(reg.render().find("pool_threads{pool=\"cpu\"} 4\n") != std::string::npos);
    g.clear_callback();
    CHECK(reg.render().find("pool_threads{") == std::string::npos);
}

TEST_CASE("metrics: special values use the exposition spelling", "[core]") {
    metrics::registry reg;
    auto& g = reg.gauge_family("odd_values", "Odd.", {"kind"});
    g.with({"inf"}).set(std::numeric_limits<double>::infinity());
    g.with({"ninf"}).set(-std::numeric_limits<double>::infinity());
    g.with({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
    g.with({"big"}).set(1e21);
    std::string text = reg.render();
    CHECK(text.find("odd_values{kind=\"inf\"} +Inf\n") != std::string::npos);
    CHECK(text.find("odd_values{kind=\"ninf\"} -Inf\n") != std::string::npos);
    CHECK(text.find("odd_values{kind=\"nan\"} NaN\n") != std::string::npos);
    CHECK(text.find("odd_values{kind=\"big\"} 1e+21\n") != std::string::npos);
}

TEST_CASE("metrics: rejects invalid names and conflicting registrations", "[core]") {
    metrics::registry reg;
    CHECK_THROWS_AS(reg.counter_family("bad-name_total", "x"), std::invalid_argument);
    CHECK_THROWS_AS(reg.counter_family("9lives_total", "x"), std::invalid_argument);
    CHECK_THROWS_AS(reg.counter_family("no_suffix", "x"), std::invalid_argument);
    CHECK_THROWS_AS(reg.gauge_family("g", "x", {"__reserved"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.gauge_family("g", "x", {"a", "a"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.gauge_family("g", "x", {"bad label"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.histogram_family("h", "x", {"le"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.histogram_family("h", "x", {}, {1, 1}), std::invalid_argument);
    CHECK_THROWS_AS(reg.histogram_family("h", "x", {}, {2, 1}), std::invalid_argument);

    auto& first = reg.gauge_family("depth", "x", {"queue"});
    CHECK(&reg.gauge_family("depth", "x", {"queue"}) == &first);
    CHECK_THROWS_AS(reg.gauge_family("depth", "x", {"other"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.callback_gauge_family("depth", "x", {"queue"}), std::invalid_argument);

    reg.histogram_family("latency", "x", {});
    CHECK_THROWS_AS(reg.gauge_family("latency_count", "x"), std::invalid_argument);
    reg.gauge_family("size_sum", "x");
    CHECK_THROWS_AS(reg.histogram_family("size", "x", {}), std::invalid_argument);

    CHECK_THROWS_AS(first.with({"a", "b"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.counter_family("ok_total", "x").with({}).inc(-1), std::invalid_argument);
}

TEST_CASE("metrics: with returns the same child for the same labels", "[core]") {
    metrics::registry reg;
    auto& f = reg.counter_family("hits_total", "x", {"a", "b"});
    metrics::counter& one = f.with({"x", "y"});
    std::vector<std::string> labels{"x", "y"};
    CHECK(&f.with(labels) == &one);
    CHECK(&f.with({"x", "z"}) != &one);
}

TEST_CASE("metrics: concurrent updates are all counted", "[core]") {
    metrics::registry reg;
    auto& c = reg.counter_family("events_total", "x", {"thread"});
    auto& h = reg.histogram_family("waits_seconds", "x", {}, {0.5});
    constexpr int threads = 4;
    constexpr int per_thread = 20000;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&c, &h] {
            metrics::counter& mine = c.with({"shared"});
            for (int i = 0; i < per_thread; ++i) {
                mine.inc();
                h.with({}).observe(i % 2 == 0 ? 0.25 : 1.0);
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    CHECK(c.with({"shared"}).value() == threads * per_thread);
    auto counts = h.with({}).read();
    CHECK(counts.cumulative[0] == threads * per_thread / 2);
    CHECK(counts.cumulative[1] == threads * per_thread);
    CHECK(counts.sum == Approx(threads * per_thread / 2 * 1.25));
}

TEST_CASE("metrics: promtool accepts the rendered output", "[core]") {
    metrics::registry reg;
    auto& requests = reg.counter_family("http_requests_total", "HTTP requests served.",
                                        {"method", "route", "status"});
    requests.with({"GET", "/v1/items/{id}", "200"}).inc(12);
    requests.with({"POST", "/v1/items", "413"}).inc();
    auto& took = reg.histogram_family("http_request_duration_seconds", "Time to respond.",
                                      {"method", "route"});
    took.with({"GET", "/v1/items/{id}"}).observe(0.003);
    reg.gauge_family("http_requests_in_flight", "Requests being handled.").with({}).set(2);
    reg.callback_gauge_family("cache_bytes", "Bytes held \"in\" cache\\.", {"cache"})
        .with({"line\nbreak \"quoted\""})
        .set_callback([] { return 1024.0; });

    auto path = write_temp("boomer_metrics_test.prom", reg.render());
    command_output checked = run_command("promtool check metrics < " + path.string());
    std::filesystem::remove(path);
    INFO("promtool output: " << checked.text);
    // promtool is a test dependency (package `prometheus`): missing means a failed check.
    REQUIRE(checked.status != 127);
    CHECK(checked.status == 0);
    CHECK(checked.text.empty());
}
