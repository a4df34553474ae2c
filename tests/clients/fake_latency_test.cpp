// The fakes' latency distributions (parsing and the spread of what they draw) and the settings
// of tools/fake_upstream from flags and a TOML file.
#include "tests/fakes/fake_latency.hpp"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "tests/fakes/fake_upstream_flags.hpp"

using namespace boomer;
using fakes::latency_distribution;
using std::chrono::milliseconds;

namespace {

std::vector<double> draw(const latency_distribution& d, int n) {
    std::mt19937_64 rng(7);
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(static_cast<double>(d.sample(rng).count()));
    }
    std::sort(out.begin(), out.end());
    return out;
}

double quantile(const std::vector<double>& sorted, double q) {
    return sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))];
}

// Parses the arguments (after the program name) the way fake_upstream does.
fakes::fake_upstream_flags parse_flags(std::vector<std::string> args) {
    fakes::fake_upstream_flags flags;
    CLI::App app;
    fakes::add_fake_upstream_flags(app, flags);
    std::reverse(args.begin(), args.end());
    app.parse(args);
    auto done = fakes::finish_fake_upstream_flags(flags);
    REQUIRE(done);
    return flags;
}

}  // namespace

TEST_CASE("fake latency: the three forms parse and describe themselves", "[clients]") {
    auto fixed = latency_distribution::parse("800");
    REQUIRE(fixed);
    CHECK(fixed->kind() == latency_distribution::shape::fixed);
    CHECK(fixed->min() == milliseconds(800));
    CHECK(fixed->max() == milliseconds(800));

    auto uniform = latency_distribution::parse("4000-8000");
    REQUIRE(uniform);
    CHECK(uniform->kind() == latency_distribution::shape::uniform);
    CHECK(uniform->min() == milliseconds(4000));
    CHECK(uniform->max() == milliseconds(8000));

    auto tail = latency_distribution::parse("lognormal:p50=5000,p99=12000");
    REQUIRE(tail);
    CHECK(tail->kind() == latency_distribution::shape::lognormal);
    CHECK(tail->min() == milliseconds(0));
    CHECK(tail->max() == milliseconds(48'000));
    auto bounded = latency_distribution::parse("lognormal:p50=5000,p99=12000,min=2000,max=15000");
    REQUIRE(bounded);
    CHECK(bounded->min() == milliseconds(2000));
    CHECK(bounded->max() == milliseconds(15000));

    for (const auto* d : {&*fixed, &*uniform, &*tail, &*bounded}) {
        auto again = latency_distribution::parse(d->describe());
        REQUIRE(again);
        CHECK(again->describe() == d->describe());
    }
}

TEST_CASE("fake latency: malformed text is refused with the reason", "[clients]") {
    for (const char* bad : {"", "fast", "-5", "8000-4000", "4000-", "1e9", "10-20-30",
                            "lognormal:", "lognormal:p50=5000", "lognormal:p50=5000,p99=100",
                            "lognormal:p50=5000,p99=9000,min=6000", "lognormal:p50=0,p99=10",
                            "lognormal:p50=5000,p99=9000,p90=7000", "lognormal:p50=x,p99=9"}) {
        INFO(bad);
        auto d = latency_distribution::parse(bad);
        REQUIRE_FALSE(d);
        CHECK(d.error().code == "bad_latency");
    }
}

TEST_CASE("fake latency: a fixed delay draws nothing from the generator", "[clients]") {
    latency_distribution d(milliseconds(40));
    std::mt19937_64 used(3);
    std::mt19937_64 untouched(3);
    CHECK(d.sample(used) == milliseconds(40));
    CHECK(used() == untouched());
}

TEST_CASE("fake latency: uniform draws cover the range and stay inside it", "[clients]") {
    auto d = latency_distribution::parse("2000-15000").value();
    auto v = draw(d, 20'000);
    CHECK(v.front() >= 2000);
    CHECK(v.back() <= 15000);
    CHECK(v.front() < 2100);  // both ends are reached
    CHECK(v.back() > 14900);
    CHECK(quantile(v, 0.5) == Approx(8500).margin(250));
}

TEST_CASE("fake latency: lognormal draws have the asked median and 99th percentile", "[clients]") {
    auto d = latency_distribution::parse("lognormal:p50=5000,p99=12000").value();
    auto v = draw(d, 50'000);
    CHECK(quantile(v, 0.5) == Approx(5000).epsilon(0.03));
    CHECK(quantile(v, 0.99) == Approx(12000).epsilon(0.05));
    CHECK(v.front() >= 0);
    CHECK(v.back() <= 48'000);

    auto bounded =
        latency_distribution::parse("lognormal:p50=5000,p99=30000,min=2000,max=15000").value();
    auto b = draw(bounded, 20'000);
    CHECK(b.front() == 2000);  // the clamp is hit at both ends
    CHECK(b.back() == 15000);
    CHECK(quantile(b, 0.5) == Approx(5000).epsilon(0.05));
}

TEST_CASE("fake upstream flags: latencies, limits and errors from flags", "[clients]") {
    auto f = parse_flags({"--port", "0", "--latency-ms", "4000-8000", "--rpm", "4000", "--rate-529",
                          "0.3", "--rate-429", "0.1", "--ebay-port", "0", "--ebay-latency-ms",
                          "2000-15000"});
    CHECK(f.anthropic.port == 0);
    CHECK(f.anthropic.latency.describe() == "4000-8000");
    CHECK(f.anthropic.limits.requests == 4000);
    CHECK(f.anthropic.errors.overloaded == 0.3);
    CHECK(f.anthropic.errors.rate_limited == 0.1);
    CHECK(f.ebay.port == 0);
    CHECK(f.ebay.latency.describe() == "2000-15000");

    auto defaults = parse_flags({});
    CHECK(defaults.anthropic.port == 8089);
    CHECK(defaults.anthropic.latency.describe() == "0");
    CHECK(defaults.ebay.port == -1);

    fakes::fake_upstream_flags flags;
    CLI::App app;
    fakes::add_fake_upstream_flags(app, flags);
    CHECK_THROWS_AS(app.parse(std::vector<std::string>{"4000-", "--latency-ms"}),
                    CLI::ValidationError);
}

TEST_CASE("fake upstream flags: values no upstream could have are refused", "[clients]") {
    for (std::vector<std::string> bad : {std::vector<std::string>{"--port", "99999"},
                                         {"--ebay-port", "70000"},
                                         {"--rpm", "-5"},
                                         {"--itpm", "-1"},
                                         {"--ebay-browse-quota", "-3"},
                                         {"--seed", ""},
                                         {"--latency-ms", ""},
                                         {"--api-key", ""}}) {
        INFO(bad[0] << " " << bad[1]);
        fakes::fake_upstream_flags flags;
        CLI::App app;
        fakes::add_fake_upstream_flags(app, flags);
        std::reverse(bad.begin(), bad.end());
        CHECK_THROWS_AS(app.parse(bad), CLI::ValidationError);
    }
    fakes::fake_upstream_flags flags;
    CLI::App app;
    fakes::add_fake_upstream_flags(app, flags);
    app.parse(std::vector<std::string>{"0.5", "--rate-529", "0.6", "--rate-429"});
    auto done = fakes::finish_fake_upstream_flags(flags);
    REQUIRE_FALSE(done);
    CHECK(done.error().message.find("add up to more than 1") != std::string::npos);

    // Two fakes draw different ids unless given one seed.
    fakes::fake_upstream_flags one;
    fakes::fake_upstream_flags two;
    CLI::App first;
    CLI::App second;
    fakes::add_fake_upstream_flags(first, one);
    fakes::add_fake_upstream_flags(second, two);
    CHECK(one.anthropic.seed != two.anthropic.seed);
}

TEST_CASE("fake upstream flags: trouble on the batch endpoints and lines", "[clients]") {
    auto f = parse_flags({"--batch-rpm", "50", "--batch-rate-529", "0.2", "--batch-rate-500", "0.1",
                          "--batch-errored-lines", "0.05", "--batch-expired-lines", "0.01",
                          "--batch-create-delay-ms", "1500", "--seed", "7"});
    const auto& b = f.anthropic.batches;
    CHECK(b.requests_per_minute == 50);
    CHECK(b.overloaded_share == 0.2);
    CHECK(b.internal_share == 0.1);
    CHECK(b.errored_line_share == 0.05);
    CHECK(b.expired_line_share == 0.01);
    CHECK(b.create_answer_delay == std::chrono::milliseconds(1500));
    CHECK(b.seed == 7);

    for (auto [one, two] : {std::pair{"--batch-rate-529", "--batch-rate-500"},
                            std::pair{"--batch-errored-lines", "--batch-expired-lines"}}) {
        fakes::fake_upstream_flags flags;
        CLI::App app;
        fakes::add_fake_upstream_flags(app, flags);
        app.parse(std::vector<std::string>{"0.5", two, "0.6", one});
        auto done = fakes::finish_fake_upstream_flags(flags);
        REQUIRE_FALSE(done);
        CHECK(done.error().code == "bad_config");
        CHECK(done.error().message.find(one) != std::string::npos);
    }
}

TEST_CASE("fake upstream flags: a TOML file holds the same settings and flags win", "[clients]") {
    auto path = std::filesystem::temp_directory_path() /
                ("fake_upstream_" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path) << "port = 0\n"
                           "latency-ms = \"lognormal:p50=5000,p99=12000,min=4000,max=8000\"\n"
                           "rpm = 4000\n"
                           "rate-529 = 0.3\n"
                           "ebay-port = 0\n"
                           "ebay-latency-ms = \"2000-15000\"\n"
                           "ebay-retry-after = true\n";
    auto f = parse_flags({"--config", path.string(), "--rpm", "50"});
    CHECK(f.anthropic.port == 0);
    CHECK(f.anthropic.latency.kind() == latency_distribution::shape::lognormal);
    CHECK(f.anthropic.latency.min() == milliseconds(4000));
    CHECK(f.anthropic.latency.max() == milliseconds(8000));
    CHECK(f.anthropic.limits.requests == 50);  // the flag over the file
    CHECK(f.anthropic.errors.overloaded == 0.3);
    CHECK(f.ebay.port == 0);
    CHECK(f.ebay.latency.describe() == "2000-15000");
    CHECK(f.ebay.quota_retry_after);

    // Unknown keys and malformed latencies in the file are refused.
    std::ofstream(path) << "latency-msec = 100\n";
    fakes::fake_upstream_flags typo;
    CLI::App app;
    fakes::add_fake_upstream_flags(app, typo);
    CHECK_THROWS(app.parse(std::vector<std::string>{path.string(), "--config"}));
    std::ofstream(path) << "ebay-latency-ms = \"15000-2000\"\n";
    fakes::fake_upstream_flags reversed;
    CLI::App app2;
    fakes::add_fake_upstream_flags(app2, reversed);
    CHECK_THROWS(app2.parse(std::vector<std::string>{path.string(), "--config"}));
    std::filesystem::remove(path);
}

TEST_CASE("fake upstream flags: an empty value in the TOML file is refused, naming the key",
          "[clients]") {
    auto path = std::filesystem::temp_directory_path() /
                ("fake_upstream_empty_" + std::to_string(::getpid()) + ".toml");
    for (std::string key : {"seed", "rpm", "api-key", "default-price", "ebay-retry-after"}) {
        for (std::string value : {"", "\"\""}) {
            INFO(key << " = " << value);
            std::ofstream(path) << "port = 0\n" << key << " = " << value << "\n";
            fakes::fake_upstream_flags flags;
            CLI::App app;
            fakes::add_fake_upstream_flags(app, flags);
            CHECK_THROWS_WITH(app.parse(std::vector<std::string>{path.string(), "--config"}),
                              Catch::Contains(key) && Catch::Contains("empty"));
        }
    }
    std::filesystem::remove(path);
}
