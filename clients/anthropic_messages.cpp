// Reading Messages answers leniently with simdjson: the message and its usage, error bodies in
// every documented shape, the rate-limit and retry headers, and the retry classification.
#include "clients/anthropic_messages.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

#include "pipeline/market/money.hpp"

namespace boomer::clients {
namespace {

namespace dom = simdjson::dom;

std::string string_at(dom::object obj, std::string_view key) {
    std::string_view value;
    if (obj[key].get(value) == simdjson::SUCCESS) {
        return std::string(value);
    }
    return {};
}

std::optional<double> number_at(dom::object obj, std::string_view key) {
    double value = 0;
    if (obj[key].get(value) == simdjson::SUCCESS && std::isfinite(value)) {
        return value;
    }
    return std::nullopt;
}

std::int64_t count_at(dom::object obj, std::string_view key) {
    auto value = number_at(obj, key);
    return value && *value > 0 ? static_cast<std::int64_t>(*value) : 0;
}

std::vector<std::string> strings_at(dom::object obj, std::string_view key) {
    std::vector<std::string> out;
    dom::array items;
    if (obj[key].get(items) != simdjson::SUCCESS) {
        return out;
    }
    for (auto item : items) {
        std::string_view text;
        if (item.get(text) == simdjson::SUCCESS && !text.empty()) {
            out.emplace_back(text);
        }
    }
    return out;
}

double clamp_unit(double v) {
    return std::clamp(v, 0.0, 1.0);
}

pipeline::vision_usage read_usage(dom::object usage) {
    pipeline::vision_usage u;
    u.input_tokens = count_at(usage, "input_tokens");
    u.output_tokens = count_at(usage, "output_tokens");
    u.cache_creation_input_tokens = count_at(usage, "cache_creation_input_tokens");
    u.cache_read_input_tokens = count_at(usage, "cache_read_input_tokens");
    u.service_tier = string_at(usage, "service_tier");
    dom::object split;
    if (usage["cache_creation"].get(split) == simdjson::SUCCESS) {
        u.has_cache_creation_split = true;
        u.cache_creation_5m_tokens = count_at(split, "ephemeral_5m_input_tokens");
        u.cache_creation_1h_tokens = count_at(split, "ephemeral_1h_input_tokens");
    }
    return u;
}

std::optional<market::money> read_price(dom::object input) {
    dom::object price;
    if (input["price_estimate"].get(price) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    auto amount = number_at(price, "amount");
    auto currency = string_at(price, "currency");
    bool code = currency.size() == 3 && std::all_of(currency.begin(), currency.end(),
                                                    [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!amount || *amount < 0 || *amount > 1e10 || !code) {
        return std::nullopt;
    }
    double scale = std::pow(10.0, market::currency_minor_digits(currency));
    return market::money{static_cast<std::int64_t>(std::llround(*amount * scale)), currency};
}

pipeline::identification read_identification(dom::object input) {
    pipeline::identification id;
    id.title = string_at(input, "title");
    id.brand = string_at(input, "brand");
    id.model = string_at(input, "model");
    id.category_path = strings_at(input, "category_path");
    for (std::size_t i = 0; i < id.category_path.size(); ++i) {
        id.category += (i == 0 ? "" : " > ") + id.category_path[i];
    }
    id.condition_guess = string_at(input, "condition_guess");
    id.color = string_at(input, "color");
    id.material = string_at(input, "material");
    id.era = string_at(input, "era");
    id.distinguishing_marks = strings_at(input, "distinguishing_marks");
    id.search_query = string_at(input, "search_query");
    id.price_estimate = read_price(input);
    id.confidence = clamp_unit(number_at(input, "overall_confidence").value_or(0.0));
    dom::object scores;
    if (input["field_confidence"].get(scores) == simdjson::SUCCESS) {
        for (auto [key, value] : scores) {
            double v = 0;
            if (value.get(v) == simdjson::SUCCESS && std::isfinite(v)) {
                id.field_confidence[std::string(key)] = clamp_unit(v);
            }
        }
    }
    return id;
}

std::vector<std::string> missing_fields(const pipeline::identification& id) {
    std::vector<std::string> missing;
    if (id.title.empty()) {
        missing.emplace_back("title");
    }
    if (id.category_path.empty()) {
        missing.emplace_back("category_path");
    }
    if (id.search_query.empty()) {
        missing.emplace_back("search_query");
    }
    return missing;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

std::optional<double> parse_float(std::string_view text) {
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

// Reads an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") as epoch milliseconds.
std::optional<std::int64_t> parse_http_date(std::string_view text) {
    std::string copy(text);
    std::tm parts{};
    const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    if (end == nullptr || *end != '\0') {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

std::optional<std::chrono::milliseconds> read_retry_after(const http_response& res,
                                                          std::int64_t now_ms) {
    if (auto ms = res.header("retry-after-ms")) {
        if (auto v = parse_float(*ms); v && *v >= 0) {
            return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(*v)));
        }
    }
    auto after = res.header("retry-after");
    if (!after) {
        return std::nullopt;
    }
    if (auto seconds = parse_float(*after); seconds && *seconds >= 0) {
        return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(*seconds * 1000)));
    }
    if (auto at = parse_http_date(*after); at) {
        return std::chrono::milliseconds(std::max<std::int64_t>(*at - now_ms, 0));
    }
    return std::nullopt;
}

rate_limit_bucket read_bucket(const http_response& res, std::string_view name) {
    std::string prefix = "anthropic-ratelimit-" + std::string(name) + "-";
    rate_limit_bucket b;
    if (auto v = res.header(prefix + "limit")) {
        b.limit = parse_int(*v);
    }
    if (auto v = res.header(prefix + "remaining")) {
        b.remaining = parse_int(*v);
    }
    if (auto v = res.header(prefix + "reset")) {
        b.reset = std::string(*v);
    }
    return b;
}

struct status_class {
    std::string_view code;
    std::string_view what;  // completes "Claude ..."
};

status_class class_of(unsigned status) {
    switch (status) {
        case 400:
        case 409:
        case 422:
            return {"vision_bad_request", "rejected the request as invalid"};
        case 401:
        case 403:
            return {"vision_auth", "refused the API key (check ANTHROPIC_API_KEY and its access)"};
        case 402:
            return {"vision_billing", "refused the call for a billing reason"};
        case 404:
            return {"vision_not_found", "does not know the model or path requested"};
        case 413:
            return {"vision_request_too_large", "refused the request as too large"};
        case 429:
            return {"vision_rate_limited", "is rate limiting this account"};
        case 529:
            return {"vision_overloaded", "is overloaded"};
        default:
            break;
    }
    if (status >= 500) {
        return {"vision_upstream_error", "had an internal error"};
    }
    return {"vision_http_error", "answered with an unexpected HTTP status"};
}

}  // namespace

response_meta read_response_meta(const http_response& response, std::int64_t now_epoch_ms) {
    response_meta meta;
    if (auto id = response.header("request-id")) {
        meta.request_id = std::string(*id);
    }
    if (auto retry = response.header("x-should-retry")) {
        if (*retry == "true") {
            meta.should_retry = true;
        } else if (*retry == "false") {
            meta.should_retry = false;
        }
    }
    meta.retry_after = read_retry_after(response, now_epoch_ms);
    meta.limits.requests = read_bucket(response, "requests");
    meta.limits.tokens = read_bucket(response, "tokens");
    meta.limits.input_tokens = read_bucket(response, "input-tokens");
    meta.limits.output_tokens = read_bucket(response, "output-tokens");
    return meta;
}

api_error parse_api_error(unsigned status, std::string_view body) {
    api_error out;
    out.status = status;
    dom::parser parser;
    dom::object root;
    dom::object error;
    if (parser.parse(simdjson::padded_string(body)).get(root) == simdjson::SUCCESS &&
        root["error"].get(error) == simdjson::SUCCESS) {
        out.type = string_at(error, "type");
        out.message = string_at(error, "message");
        out.request_id = string_at(root, "request_id");  // empty when null or absent
        return out;
    }
    out.message = std::string(body.substr(0, 200));
    return out;
}

failure classify_error(const api_error& error, const response_meta& meta) {
    auto cls = class_of(error.status);
    bool retryable =
        error.status == 408 || error.status == 409 || error.status == 429 || error.status >= 500;
    if (meta.should_retry) {
        retryable = *meta.should_retry;
    }
    std::string message =
        "Claude " + std::string(cls.what) + " (HTTP " + std::to_string(error.status);
    if (!error.type.empty()) {
        message += ", " + error.type;
    }
    message += ")";
    if (!error.message.empty()) {
        message += ": " + error.message;
    }
    message += retryable ? ". The call can be retried later." : ".";
    return failure{std::string(cls.code), std::move(message), retryable};
}

result<messages_reply> parse_messages_reply(std::string_view body) {
    auto bad = [](std::string_view why) {
        return fail("vision_bad_response",
                    "Claude's answer could not be read (" + std::string(why) + ").", true);
    };
    dom::parser parser;
    dom::object root;
    if (parser.parse(simdjson::padded_string(body)).get(root) != simdjson::SUCCESS) {
        return bad("not a JSON object");
    }
    dom::object usage;
    if (string_at(root, "type") != "message" || root["usage"].get(usage) != simdjson::SUCCESS) {
        return bad("not a message with usage");
    }

    messages_reply reply;
    reply.id = string_at(root, "id");
    reply.model = string_at(root, "model");
    reply.stop_reason = string_at(root, "stop_reason");
    reply.usage = read_usage(usage);
    dom::array content;
    if (root["content"].get(content) == simdjson::SUCCESS) {
        for (auto block : content) {
            dom::object b;
            dom::object input;
            if (block.get(b) != simdjson::SUCCESS || string_at(b, "type") != "tool_use" ||
                string_at(b, "name") != identify_tool_name ||
                b["input"].get(input) != simdjson::SUCCESS) {
                continue;  // text, thinking and blocks of kinds not known yet
            }
            reply.has_tool_use = true;
            reply.identification = read_identification(input);
            break;
        }
    }
    reply.missing_fields =
        reply.has_tool_use ? missing_fields(reply.identification)
                           : std::vector<std::string>(std::begin(required_identification_fields),
                                                      std::end(required_identification_fields));
    return reply;
}

}  // namespace boomer::clients
