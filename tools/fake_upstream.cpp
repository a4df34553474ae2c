// fake_upstream: the strict fake Anthropic Messages API on 127.0.0.1, and with --ebay-port the
// strict fake eBay (token endpoint, Browse, Marketplace Insights, sold-results page), for
// running the service and load tests without the real APIs. Latency distributions, error rates,
// limits and quotas come from flags or a TOML file (--config; see
// tests/fakes/fake_upstream_flags.hpp); it runs until SIGINT or SIGTERM. GET /_fake/stats on
// each port returns its counters (calls received and paid, answers by status, retries that came
// before their retry-after, the limits).
//
//     fake_upstream --port 8089 --latency-ms 4000-8000 --rate-529 0.05 --rpm 4000
//     ANTHROPIC_BASE_URL=http://127.0.0.1:8089 ANTHROPIC_API_KEY=test-key boomer ...
//     fake_upstream --ebay-port 8090 --ebay-latency-ms 2000-15000 --ebay-fixtures comps.json
//     EBAY_BASE_URL=http://127.0.0.1:8090 EBAY_WEB_BASE_URL=http://127.0.0.1:8090
//     EBAY_CLIENT_ID=test-app-id EBAY_CLIENT_SECRET=test-cert-id boomer ...
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "tests/fakes/fake_anthropic.hpp"
#include "tests/fakes/fake_ebay.hpp"
#include "tests/fakes/fake_upstream_flags.hpp"

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

std::unique_ptr<boomer::fakes::fake_ebay> start_ebay(const boomer::fakes::fake_upstream_flags& f) {
    if (f.ebay_port < 0) {
        return nullptr;
    }
    auto fake = std::make_unique<boomer::fakes::fake_ebay>(f.ebay);
    if (!f.ebay_fixtures.empty()) {
        std::ifstream in(f.ebay_fixtures);
        if (!in) {
            throw std::runtime_error("cannot read " + f.ebay_fixtures);
        }
        std::stringstream text;
        text << in.rdbuf();
        fake->load_fixtures(text.str());
    }
    std::printf("fake eBay listening on %s (latency %s ms)\n", fake->base_url().c_str(),
                f.ebay.latency.describe().c_str());
    return fake;
}

}  // namespace

int main(int argc, char** argv) {
    boomer::fakes::fake_upstream_flags flags;
    CLI::App app{"Strict fakes of the Anthropic Messages API and eBay on 127.0.0.1."};
    boomer::fakes::add_fake_upstream_flags(app, flags);
    CLI11_PARSE(app, argc, argv);
    if (auto done = boomer::fakes::finish_fake_upstream_flags(flags); !done) {
        std::fprintf(stderr, "fake_upstream: %s\n", done.error().message.c_str());
        return 2;
    }

    auto signals = block_stop_signals();
    try {
        boomer::fakes::fake_anthropic fake(flags.anthropic);
        std::printf("fake Anthropic API listening on %s (latency %s ms, seed %llu)\n",
                    fake.base_url().c_str(), flags.anthropic.latency.describe().c_str(),
                    static_cast<unsigned long long>(flags.anthropic.seed));
        auto ebay_fake = start_ebay(flags);
        std::fflush(stdout);
        int received = 0;
        sigwait(&signals, &received);
        std::printf("stopping after %zu requests (%zu answered 200, %zu early retries)\n",
                    fake.received(), fake.paid(), fake.early_retries());
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
