// The settings of tools/fake_upstream: the fake Anthropic API and, when its port is set, the
// fake eBay, from command-line flags or a TOML file (--config FILE) holding the same names
// without the dashes; flags win over the file, and unknown keys and keys with an empty value in
// the file are refused:
//
//     # fake_upstream.toml
//     port = 0
//     latency-ms = "4000-8000"
//     rpm = 4000
//     rate-529 = 0.3
//     ebay-port = 0
//     ebay-latency-ms = "lognormal:p50=5000,p99=14000,min=2000,max=15000"
//
// Latencies take every form of fake_latency.hpp.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "tests/fakes/fake_anthropic.hpp"
#include "tests/fakes/fake_ebay.hpp"

namespace boomer::fakes {

struct fake_upstream_flags {
    fake_anthropic_options anthropic;
    std::string latency = "0";
    std::int64_t batch_processing_ms = 0;
    std::int64_t batch_create_delay_ms = 0;
    int ebay_port = -1;  // -1: no eBay fake
    std::string ebay_latency = "0";
    std::string ebay_markup = "s-card";
    std::string ebay_fixtures;
    fake_ebay_options ebay;
};

// add_fake_upstream_flags declares every flag and --config on `app`, bound to `flags`.
void add_fake_upstream_flags(CLI::App& app, fake_upstream_flags& flags);

// finish_fake_upstream_flags turns the parsed text settings (latencies, markup) into the
// options. Errors: "bad_latency" (see latency_distribution::parse); "bad_config" when shares of
// the batch dice add up to more than 1.
result<bool> finish_fake_upstream_flags(fake_upstream_flags& flags);

}  // namespace boomer::fakes
