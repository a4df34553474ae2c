// fake_upstream: the strict fake Anthropic Messages API on 127.0.0.1, for running the service
// and load tests without the real API. Latency, error rates and per-minute limits come from
// flags; it runs until SIGINT or SIGTERM.
//
//     fake_upstream --port 8089 --latency-ms 800 --rate-529 0.05 --rpm 50 --itpm 50000
//     ANTHROPIC_BASE_URL=http://127.0.0.1:8089 ANTHROPIC_API_KEY=test-key boomer ...
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>

#include "tests/fakes/fake_anthropic.hpp"

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
    CLI11_PARSE(app, argc, argv);
    options.latency = std::chrono::milliseconds(latency_ms);

    auto signals = block_stop_signals();
    try {
        boomer::fakes::fake_anthropic fake(options);
        std::printf("fake Anthropic API listening on %s\n", fake.base_url().c_str());
        std::fflush(stdout);
        int received = 0;
        sigwait(&signals, &received);
        std::printf("stopping after %zu requests (%zu answered 200)\n", fake.received(),
                    fake.paid());
        fake.stop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fake_upstream: %s\n", e.what());
        return 1;
    }
    return 0;
}
