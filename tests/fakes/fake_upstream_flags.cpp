// The flags and config file of tools/fake_upstream.
#include "tests/fakes/fake_upstream_flags.hpp"

#include <map>
#include <memory>
#include <random>

#include "core/cli.hpp"

namespace boomer::fakes {
namespace {

// The TOML reader of CLI11, except that a key with an empty value (`rpm =` or `rpm = ""`) is
// refused: CLI11 would read it as 0 or as empty text.
class strict_toml : public CLI::ConfigTOML {
public:
    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        auto read = CLI::ConfigTOML::from_config(input);
        for (const auto& item : read) {
            if (item.inputs.size() == 1 && item.inputs.front().empty()) {
                throw CLI::ConfigError(item.fullname() +
                                       ": empty value in the config file; give a value or "
                                       "remove the key");
            }
        }
        return read;
    }
};

// A CLI11 check that the text is a latency distribution.
CLI::Validator latency_form() {
    return CLI::Validator(
        [](std::string& text) {
            auto parsed = latency_distribution::parse(text);
            return parsed ? std::string() : parsed.error().message;
        },
        "LATENCY");
}

void add_anthropic_flags(CLI::App& app, fake_upstream_flags& f) {
    auto& o = f.anthropic;
    app.add_option("--port", o.port, "Port to listen on (0: any free port)")
        ->check(CLI::Range(0, 65'535))
        ->default_val(8089);
    app.add_option("--api-key", o.api_key, "The x-api-key to accept")->default_val("test-key");
    app.add_option("--latency-ms", f.latency,
                   "Delay before every answer: MS, LO-HI (uniform) or "
                   "lognormal:p50=MS,p99=MS[,min=MS,max=MS]")
        ->check(latency_form())
        ->default_val("0");
    app.add_option("--rate-429", o.errors.rate_limited,
                   "Share of valid requests answered 429 with retry-after")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--rate-429-bare", o.errors.rate_limited_bare,
                   "Share answered 429 without retry-after")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--rate-529", o.errors.overloaded, "Share answered 529 overloaded")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--rate-500", o.errors.internal, "Share answered 500")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--retry-after", o.errors.retry_after_seconds,
                   "Seconds in the retry-after of injected 429s")
        ->check(CLI::Range(0, 3600));
    app.add_option("--rpm", o.limits.requests, "Requests per minute per model (0: none)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--itpm", o.limits.input_tokens, "Input tokens per minute per model (0: none)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--otpm", o.limits.output_tokens, "Output tokens per minute per model (0: none)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--bucket-start", o.limits.start_full,
                   "How full the rate-limit buckets start (1: a full minute, 0: empty)")
        ->check(CLI::Range(0.0, 1.0));
    // A new seed for each process unless given: ids (request-id, msg_...) differ between fakes.
    o.seed = std::random_device{}();
    app.add_option("--seed", o.seed,
                   "Seed of the error and latency dice and of the ids (default: a random one, "
                   "printed at the start)");
    app.add_option("--default-confidence", o.default_confidence,
                   "Overall confidence of the answer for photos without a fixture")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--default-price", o.default_price,
                   "Price estimate (USD) in that answer; none when not given");
    app.add_option("--batch-processing-ms", f.batch_processing_ms,
                   "Time a message batch takes before a retrieve may find it ended")
        ->check(CLI::Range(0, 86'400'000));
    auto& b = o.batches;
    app.add_option("--batch-rpm", b.requests_per_minute,
                   "Calls per minute to the batch endpoints before 429 (0: none; the documented "
                   "Tier 1 limit is 50)")
        ->check(CLI::Range(0, 1'000'000));
    app.add_option("--batch-rate-529", b.overloaded_share,
                   "Share of batch endpoint calls answered 529 overloaded")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--batch-rate-500", b.internal_share,
                   "Share of batch endpoint calls answered 500")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--batch-errored-lines", b.errored_line_share,
                   "Share of result lines that come back errored (api_error), unbilled")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--batch-expired-lines", b.expired_line_share,
                   "Share of result lines that come back expired, unbilled")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--batch-create-delay-ms", f.batch_create_delay_ms,
                   "Time a create takes to answer after the batch exists")
        ->check(CLI::Range(0, 600'000));
}

void add_ebay_flags(CLI::App& app, fake_upstream_flags& f) {
    auto& o = f.ebay;
    app.add_option("--ebay-port", f.ebay_port, "Port of the fake eBay (-1: off, 0: any free port)")
        ->check(CLI::Range(-1, 65'535))
        ->default_val(-1);
    app.add_option("--ebay-client-id", o.client_id, "The eBay App ID to accept");
    app.add_option("--ebay-client-secret", o.client_secret, "The eBay Cert ID to accept");
    app.add_option("--ebay-token-ttl", o.token_ttl_seconds, "expires_in of eBay tokens")
        ->check(CLI::Range(1, 86'400));
    app.add_option("--ebay-latency-ms", f.ebay_latency,
                   "Delay before every eBay answer (the forms of --latency-ms)")
        ->check(latency_form())
        ->default_val("0");
    app.add_option("--ebay-rate-500", o.error_rate_500,
                   "Share of valid eBay API calls answered 500")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--ebay-browse-quota", o.browse_daily_quota,
                   "Browse calls per day before 429 (0: unlimited)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--ebay-insights-quota", o.insights_daily_quota,
                   "Marketplace Insights calls per day before 429 (0: unlimited)")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--ebay-retry-after", o.quota_retry_after, "Send Retry-After with quota 429s");
    app.add_option("--ebay-markup", f.ebay_markup, "Sold page markup")
        ->check(CLI::IsMember({"s-card", "s-item", "changed", "challenge"}));
    app.add_option("--ebay-fixtures", f.ebay_fixtures, "JSON file of listings per query");
}

}  // namespace

void add_fake_upstream_flags(CLI::App& app, fake_upstream_flags& flags) {
    app.set_config("--config", "", "TOML file with the same settings (flags win)");
    app.config_formatter(std::make_shared<strict_toml>());
    app.allow_config_extras(CLI::config_extras_mode::error);
    add_anthropic_flags(app, flags);
    add_ebay_flags(app, flags);
    refuse_empty_values(app);
}

result<bool> finish_fake_upstream_flags(fake_upstream_flags& flags) {
    static const std::map<std::string, sold_markup> markups = {
        {"s-card", sold_markup::s_card},
        {"s-item", sold_markup::s_item},
        {"changed", sold_markup::changed},
        {"challenge", sold_markup::challenge}};
    auto latency = latency_distribution::parse(flags.latency);
    auto ebay_latency = latency_distribution::parse(flags.ebay_latency);
    if (!latency) {
        return make_unexpected(latency.error());
    }
    if (!ebay_latency) {
        return make_unexpected(ebay_latency.error());
    }
    flags.anthropic.latency = *latency;
    const auto& errors = flags.anthropic.errors;
    if (errors.rate_limited + errors.rate_limited_bare + errors.overloaded + errors.internal >
        1.0) {
        return make_unexpected(failure{"bad_config",
                                       "--rate-429, --rate-429-bare, --rate-529 and --rate-500 "
                                       "add up to more than 1",
                                       false});
    }
    auto& batches = flags.anthropic.batches;
    if (batches.overloaded_share + batches.internal_share > 1.0) {
        return make_unexpected(failure{"bad_config",
                                       "--batch-rate-529 and --batch-rate-500 add up to more "
                                       "than 1",
                                       false});
    }
    if (batches.errored_line_share + batches.expired_line_share > 1.0) {
        return make_unexpected(failure{"bad_config",
                                       "--batch-errored-lines and --batch-expired-lines add up "
                                       "to more than 1",
                                       false});
    }
    batches.processing_time = std::chrono::milliseconds(flags.batch_processing_ms);
    batches.create_answer_delay = std::chrono::milliseconds(flags.batch_create_delay_ms);
    batches.seed = flags.anthropic.seed;
    flags.ebay.latency = *ebay_latency;
    flags.ebay.port = flags.ebay_port;
    flags.ebay.markup = markups.at(flags.ebay_markup);
    return true;
}

}  // namespace boomer::fakes
