// Claude settings: read from the environment and checked once, at start.
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
    return true;
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
    if (auto ok = validate_claude_options(o); !ok) {
        return make_unexpected(ok.error());
    }
    return o;
}

}  // namespace boomer::clients
