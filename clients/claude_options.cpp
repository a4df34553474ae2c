// Claude settings: read from the environment and checked once, at start.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ostream>

#include "clients/anthropic_messages.hpp"
#include "clients/claude_vision.hpp"

namespace boomer::clients {
namespace {

std::optional<std::string> process_env(std::string_view name) {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
        return std::nullopt;
    }
    return std::string(value);
}

unexpected<failure> bad(std::string_view name, std::string_view why) {
    return fail("bad_config", std::string(name) + " " + std::string(why) + ".");
}

template <class T>
bool parse_number(const std::string& text, T& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

result<bool> validate_resilience(const claude_options& o) {
    if (!(o.retry_budget_ratio >= 0.0 && o.retry_budget_ratio <= 1.0)) {
        return bad("BOOMER_CLAUDE_RETRY_BUDGET", "must be a share from 0 to 1");
    }
    if (!(o.retry_floor_per_second >= 0.0 && o.retry_floor_per_second <= 1000.0)) {
        return bad("BOOMER_CLAUDE_RETRY_FLOOR", "must be from 0 to 1000 retries per second");
    }
    if (o.rate_limits.requests < 0 || o.rate_limits.input_tokens < 0 ||
        o.rate_limits.output_tokens < 0) {
        return bad("BOOMER_CLAUDE_RPM, BOOMER_CLAUDE_ITPM and BOOMER_CLAUDE_OTPM",
                   "must be 0 (learn from the answers) or positive");
    }
    if (o.input_tokens_per_image < 0 || o.output_tokens_estimate < 0) {
        return bad("The token estimates", "must not be negative");
    }
    if (o.concurrency_max < 1 || o.concurrency_max > 10'000) {
        return bad("BOOMER_CLAUDE_MAX_CONCURRENCY", "must be from 1 to 10000");
    }
    if (o.concurrency_initial < 1 || o.concurrency_initial > o.concurrency_max) {
        return bad("BOOMER_CLAUDE_CONCURRENCY", "must be from 1 to BOOMER_CLAUDE_MAX_CONCURRENCY");
    }
    if (o.breaker_failures < 1 || o.breaker_failures > 1000) {
        return bad("BOOMER_CLAUDE_BREAKER_FAILURES", "must be from 1 to 1000");
    }
    if (o.stage_deadline.count() < 1 || o.stage_deadline > std::chrono::hours(1)) {
        return bad("BOOMER_CLAUDE_DEADLINE_MS", "must be from 1 to 3600000 milliseconds");
    }
    if (o.breaker_open_for.count() < 0 || o.breaker_probe_wait.count() < 1) {
        return bad("BOOMER_CLAUDE_BREAKER_OPEN_MS and BOOMER_CLAUDE_BREAKER_PROBE_WAIT_MS",
                   "must be positive");
    }
    return true;
}

// read_resilience_env reads the resilience settings; unset variables keep their defaults.
result<bool> read_resilience_env(
    const std::function<std::optional<std::string>(std::string_view)>& get, claude_options& o) {
    struct double_setting {
        std::string_view name;
        double* out;
    };
    struct int_setting {
        std::string_view name;
        std::int64_t* out;
    };
    std::int64_t concurrency = o.concurrency_initial;
    std::int64_t concurrency_max = o.concurrency_max;
    std::int64_t failures = o.breaker_failures;
    std::int64_t open_ms = o.breaker_open_for.count();
    std::int64_t probe_ms = o.breaker_probe_wait.count();
    std::int64_t max_retry_after_ms = o.max_retry_after.count();
    std::int64_t deadline_ms = o.stage_deadline.count();
    const double_setting doubles[] = {{"BOOMER_CLAUDE_RETRY_BUDGET", &o.retry_budget_ratio},
                                      {"BOOMER_CLAUDE_RETRY_FLOOR", &o.retry_floor_per_second}};
    const int_setting ints[] = {{"BOOMER_CLAUDE_RPM", &o.rate_limits.requests},
                                {"BOOMER_CLAUDE_ITPM", &o.rate_limits.input_tokens},
                                {"BOOMER_CLAUDE_OTPM", &o.rate_limits.output_tokens},
                                {"BOOMER_CLAUDE_CONCURRENCY", &concurrency},
                                {"BOOMER_CLAUDE_MAX_CONCURRENCY", &concurrency_max},
                                {"BOOMER_CLAUDE_BREAKER_FAILURES", &failures},
                                {"BOOMER_CLAUDE_BREAKER_OPEN_MS", &open_ms},
                                {"BOOMER_CLAUDE_BREAKER_PROBE_WAIT_MS", &probe_ms},
                                {"BOOMER_CLAUDE_MAX_RETRY_AFTER_MS", &max_retry_after_ms},
                                {"BOOMER_CLAUDE_DEADLINE_MS", &deadline_ms}};
    for (const auto& s : doubles) {
        if (auto v = get(s.name); v && !parse_number(*v, *s.out)) {
            return bad(s.name, "must be a number");
        }
    }
    for (const auto& s : ints) {
        if (auto v = get(s.name); v && !parse_number(*v, *s.out)) {
            return bad(s.name, "must be a whole number");
        }
    }
    const std::int64_t int_max = 1'000'000'000;
    o.concurrency_initial = static_cast<int>(std::clamp<std::int64_t>(concurrency, -1, int_max));
    o.concurrency_max = static_cast<int>(std::clamp<std::int64_t>(concurrency_max, -1, int_max));
    o.breaker_failures = static_cast<int>(std::clamp<std::int64_t>(failures, -1, int_max));
    o.breaker_open_for = std::chrono::milliseconds(open_ms);
    o.breaker_probe_wait = std::chrono::milliseconds(probe_ms);
    o.max_retry_after = std::chrono::milliseconds(max_retry_after_ms);
    o.stage_deadline = std::chrono::milliseconds(deadline_ms);
    return true;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const secret&) {
    return out << "[redacted]";
}

result<bool> validate_claude_options(const claude_options& o) {
    if (o.api_key.empty()) {
        return bad("ANTHROPIC_API_KEY", "is not set; Claude cannot be called without a key");
    }
    if (auto url = parse_url(o.base_url); !url) {
        return bad("ANTHROPIC_BASE_URL", "is not a usable URL: " + url.error().message);
    }
    if (o.cheap_model.empty() || !o.prices.find(o.cheap_model)) {
        return bad("BOOMER_CLAUDE_MODEL", "names a model without a known price (\"" +
                                              o.cheap_model +
                                              "\"); add it to BOOMER_CLAUDE_PRICES");
    }
    if (!o.strong_model.empty() && !o.prices.find(o.strong_model)) {
        return bad("BOOMER_CLAUDE_STRONG_MODEL", "names a model without a known price (\"" +
                                                     o.strong_model +
                                                     "\"); add it to BOOMER_CLAUDE_PRICES");
    }
    if (!(o.escalation_threshold >= 0.0 && o.escalation_threshold <= 1.0)) {
        return bad("BOOMER_CLAUDE_ESCALATE_BELOW", "must be a number from 0 to 1");
    }
    if (o.max_tokens < 1 || o.max_tokens > 16000) {
        return bad("BOOMER_CLAUDE_MAX_TOKENS", "must be from 1 to 16000");
    }
    if (!o.cache_ttl.empty() && o.cache_ttl != "5m" && o.cache_ttl != "1h") {
        return bad("BOOMER_CLAUDE_CACHE_TTL", "must be empty, 5m or 1h");
    }
    if (o.max_attempts < 1 || o.max_attempts > 10) {
        return bad("BOOMER_CLAUDE_MAX_ATTEMPTS", "must be from 1 to 10");
    }
    if (auto batch = validate_batch_settings(o.batch); !batch) {
        return batch;
    }
    if (o.attempt_timeout.count() < 1 || o.backoff_base.count() < 0 ||
        o.backoff_cap < o.backoff_base || o.max_retry_after.count() < 0) {
        return bad("BOOMER_CLAUDE_TIMEOUT_MS", "and the backoff bounds must be positive");
    }
    return validate_resilience(o);
}

result<claude_options> claude_options_from_env(
    const std::function<std::optional<std::string>(std::string_view)>& lookup) {
    auto get = lookup ? lookup : process_env;
    claude_options o;
    if (auto v = get("ANTHROPIC_API_KEY")) {
        o.api_key = secret(*v);
    }
    if (auto v = get("ANTHROPIC_BASE_URL"); v && !v->empty()) {
        o.base_url = *v;
    }
    if (auto v = get("BOOMER_CLAUDE_MODEL"); v && !v->empty()) {
        o.cheap_model = *v;
    }
    if (auto v = get("BOOMER_CLAUDE_STRONG_MODEL")) {
        o.strong_model = *v;
    }
    if (auto v = get("BOOMER_CLAUDE_ESCALATE_BELOW");
        v && !parse_number(*v, o.escalation_threshold)) {
        return bad("BOOMER_CLAUDE_ESCALATE_BELOW", "must be a number from 0 to 1");
    }
    if (auto v = get("BOOMER_CLAUDE_MAX_TOKENS"); v && !parse_number(*v, o.max_tokens)) {
        return bad("BOOMER_CLAUDE_MAX_TOKENS", "must be a whole number");
    }
    if (auto v = get("BOOMER_CLAUDE_CACHE_TTL")) {
        o.cache_ttl = *v;
    }
    if (auto v = get("BOOMER_CLAUDE_MAX_ATTEMPTS"); v && !parse_number(*v, o.max_attempts)) {
        return bad("BOOMER_CLAUDE_MAX_ATTEMPTS", "must be a whole number");
    }
    if (auto v = get("BOOMER_CLAUDE_TIMEOUT_MS")) {
        std::int64_t ms = 0;
        if (!parse_number(*v, ms)) {
            return bad("BOOMER_CLAUDE_TIMEOUT_MS", "must be a whole number of milliseconds");
        }
        o.attempt_timeout = std::chrono::milliseconds(ms);
    }
    if (auto batch = read_batch_settings(get, o.batch); !batch) {
        return make_unexpected(batch.error());
    }
    if (auto v = get("BOOMER_CLAUDE_PRICES")) {
        if (auto applied = o.prices.apply_overrides(*v); !applied) {
            return fail("bad_config", "BOOMER_CLAUDE_PRICES: " + applied.error().message);
        }
    }
    if (auto read = read_resilience_env(get, o); !read) {
        return make_unexpected(read.error());
    }
    if (auto ok = validate_claude_options(o); !ok) {
        return make_unexpected(ok.error());
    }
    return o;
}

}  // namespace boomer::clients
