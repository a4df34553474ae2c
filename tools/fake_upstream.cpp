// fake_upstream: the strict fake Anthropic Messages API on 127.0.0.1, and with --ebay-port the
// strict fake eBay (token endpoint, Browse, Marketplace Insights, sold-results page), for
// running the service and load tests without the real APIs. Latency, error rates, limits and
// quotas come from flags; it runs until SIGINT or SIGTERM.
//
//     fake_upstream --port 8089 --latency-ms 800 --rate-529 0.05 --rpm 50 --itpm 50000
//     ANTHROPIC_BASE_URL=http://127.0.0.1:8089 ANTHROPIC_API_KEY=test-key boomer ...
//     fake_upstream --ebay-port 8090 --ebay-fixtures comps.json --ebay-browse-quota 100
//     EBAY_BASE_URL=http://127.0.0.1:8090 EBAY_WEB_BASE_URL=http://127.0.0.1:8090
//     EBAY_CLIENT_ID=test-app-id EBAY_CLIENT_SECRET=test-cert-id boomer ...
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "tests/fakes/fake_anthropic.hpp"
#include "tests/fakes/fake_ebay.hpp"

namespace {

// Blocks SIGINT and SIGTERM in this thread and the threads it starts, so that sigwait sees them.
sigset_t block_stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

// The eBay fake's flags.
struct ebay_flags {
    int port = -1;  // -1: no eBay fake
    std::int64_t latency_ms = 0;
    std::string markup = "s-card";
    std::string fixtures;
    boomer::fakes::fake_ebay_options options;
};

void add_ebay_flags(CLI::App& app, ebay_flags& f) {
    app.add_option("--ebay-port", f.port, "Port of the fake eBay (-1: off, 0: any free port)")
        ->default_val(-1);
    app.add_option("--ebay-client-id", f.options.client_id, "The eBay App ID to accept");
    app.add_option("--ebay-client-secret", f.options.client_secret, "The eBay Cert ID to accept");
    app.add_option("--ebay-token-ttl", f.options.token_ttl_seconds, "expires_in of eBay tokens")
        ->check(CLI::Range(1, 86'400));
    app.add_option("--ebay-latency-ms", f.latency_ms, "Delay before every eBay answer");
    app.add_option("--ebay-rate-500", f.options.error_rate_500,
                   "Share of valid eBay API calls answered 500")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--ebay-browse-quota", f.options.browse_daily_quota,
                   "Browse calls per day before 429 (0: unlimited)");
    app.add_option("--ebay-insights-quota", f.options.insights_daily_quota,
                   "Marketplace Insights calls per day before 429 (0: unlimited)");
    app.add_flag("--ebay-retry-after", f.options.quota_retry_after,
                 "Send Retry-After with quota 429s");
    app.add_option("--ebay-markup", f.markup, "Sold page markup")
        ->check(CLI::IsMember({"s-card", "s-item", "changed", "challenge"}));
    app.add_option("--ebay-fixtures", f.fixtures, "JSON file of listings per query");
}

std::unique_ptr<boomer::fakes::fake_ebay> start_ebay(ebay_flags& f) {
    using boomer::fakes::sold_markup;
    if (f.port < 0) {
        return nullptr;
    }
    static const std::map<std::string, sold_markup> markups = {
        {"s-card", sold_markup::s_card},
        {"s-item", sold_markup::s_item},
        {"changed", sold_markup::changed},
        {"challenge", sold_markup::challenge}};
    f.options.port = f.port;
    f.options.latency = std::chrono::milliseconds(f.latency_ms);
    f.options.markup = markups.at(f.markup);
    auto fake = std::make_unique<boomer::fakes::fake_ebay>(f.options);
    if (!f.fixtures.empty()) {
        std::ifstream in(f.fixtures);
        if (!in) {
            throw std::runtime_error("cannot read " + f.fixtures);
        }
        std::stringstream text;
        text << in.rdbuf();
        fake->load_fixtures(text.str());
    }
    std::printf("fake eBay listening on %s\n", fake->base_url().c_str());
    return fake;
}

}  // namespace

int main(int argc, char** argv) {
    boomer::fakes::fake_anthropic_options options;
    std::int64_t latency_ms = 0;
    CLI::App app{"A strict fake of the Anthropic Messages API on 127.0.0.1."};
    app.add_option("--port", options.port, "Port to listen on (0: any free port)")
        ->default_val(8089);
    app.add_option("--api-key", options.api_key, "The x-api-key to accept")
        ->default_val("test-key");
    app.add_option("--latency-ms", latency_ms, "Delay before every answer")->default_val(0);
    app.add_option("--rate-429", options.errors.rate_limited,
                   "Share of valid requests answered 429 with retry-after")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--rate-429-bare", options.errors.rate_limited_bare,
                   "Share answered 429 without retry-after")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--rate-529", options.errors.overloaded, "Share answered 529 overloaded")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--rate-500", options.errors.internal, "Share answered 500")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--retry-after", options.errors.retry_after_seconds,
                   "Seconds in the retry-after of injected 429s")
        ->check(CLI::Range(0, 3600));
    app.add_option("--rpm", options.limits.requests, "Requests per minute per model (0: none)");
    app.add_option("--itpm", options.limits.input_tokens,
                   "Input tokens per minute per model (0: none)");
    app.add_option("--otpm", options.limits.output_tokens,
                   "Output tokens per minute per model (0: none)");
    app.add_option("--seed", options.seed, "Seed of the error dice");
    app.add_option("--default-confidence", options.default_confidence,
                   "Overall confidence of the answer for photos without a fixture")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--default-price", options.default_price,
                   "Price estimate (USD) in that answer; none when not given");
    ebay_flags ebay;
    add_ebay_flags(app, ebay);
    CLI11_PARSE(app, argc, argv);
    options.latency = std::chrono::milliseconds(latency_ms);

    auto signals = block_stop_signals();
    try {
        boomer::fakes::fake_anthropic fake(options);
        std::printf("fake Anthropic API listening on %s\n", fake.base_url().c_str());
        auto ebay_fake = start_ebay(ebay);
        std::fflush(stdout);
        int received = 0;
        sigwait(&signals, &received);
        std::printf("stopping after %zu requests (%zu answered 200)\n", fake.received(),
                    fake.paid());
        fake.stop();
        if (ebay_fake) {
            std::printf("fake eBay: %zu Browse, %zu Insights, %zu sold-page requests\n",
                        ebay_fake->requests(boomer::fakes::ebay_endpoint::browse),
                        ebay_fake->requests(boomer::fakes::ebay_endpoint::insights),
                        ebay_fake->requests(boomer::fakes::ebay_endpoint::sold_page));
            ebay_fake->stop();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fake_upstream: %s\n", e.what());
        return 1;
    }
    return 0;
}
