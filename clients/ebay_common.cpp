// The eBay sources' shared pieces: the error envelope, encoding, search text and filters, and
// the market source metrics.
#include "clients/ebay_common.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>

#include "pipeline/market/condition.hpp"
#include "pipeline/market/money.hpp"
#include "pipeline/market/text.hpp"

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

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Cuts `text` to at most `max_chars` code points, preferring the last space before the cut.
std::string cut_at_word(const std::string& text, std::size_t max_chars) {
    std::size_t chars = 0;
    std::size_t pos = 0;
    while (pos < text.size() && chars < max_chars) {
        ++pos;
        while (pos < text.size() && is_continuation(text[pos])) {
            ++pos;
        }
        ++chars;
    }
    if (pos >= text.size()) {
        return text;
    }
    if (text[pos] == ' ') {
        return text.substr(0, pos);
    }
    auto space = text.rfind(' ', pos);
    return text.substr(0, space == std::string::npos ? pos : space);
}

std::string decimal(std::int64_t minor, std::string_view currency) {
    int digits = market::currency_minor_digits(currency);
    if (digits == 0) {
        return std::to_string(minor);
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(minor / 100),
                  static_cast<long long>(minor % 100));
    return buf;
}

}  // namespace

std::vector<ebay_error> parse_ebay_errors(std::string_view body) {
    std::vector<ebay_error> out;
    dom::parser parser;
    dom::element root;
    dom::array errors;
    if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
        root["errors"].get(errors) != simdjson::SUCCESS) {
        return out;
    }
    for (auto item : errors) {
        dom::object obj;
        if (item.get(obj) != simdjson::SUCCESS) {
            continue;
        }
        ebay_error e;
        std::int64_t id = 0;
        if (obj["errorId"].get(id) == simdjson::SUCCESS) {
            e.error_id = static_cast<int>(id);
        }
        e.domain = string_at(obj, "domain");
        e.category = string_at(obj, "category");
        e.message = string_at(obj, "message");
        e.long_message = string_at(obj, "longMessage");
        out.push_back(std::move(e));
    }
    return out;
}

std::string describe_ebay_errors(unsigned status, const std::vector<ebay_error>& errors) {
    if (errors.empty()) {
        return "eBay answered HTTP " + std::to_string(status) + ".";
    }
    const auto& e = errors.front();
    auto text = e.long_message.empty() ? e.message : e.long_message;
    if (!text.empty() && text.back() != '.') {
        text += '.';
    }
    return "eBay error " + std::to_string(e.error_id) + " (HTTP " + std::to_string(status) +
           "): " + text;
}

std::string url_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() * 3);
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        bool plain = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~';
        if (plain) {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0x0F];
        }
    }
    return out;
}

std::string ebay_keywords(const market::market_query& query, std::size_t max_chars) {
    std::string_view source = market::trim(query.keywords).empty() ? query.title : query.keywords;
    std::string text;
    for (char c : source) {
        bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (c == '*') {
            continue;
        }
        if (space) {
            if (!text.empty() && text.back() != ' ') {
                text += ' ';
            }
            continue;
        }
        text += c;
    }
    while (!text.empty() && text.back() == ' ') {
        text.pop_back();
    }
    return cut_at_word(text, max_chars);
}

std::string ebay_condition_ids(std::string_view condition_text) {
    if (market::trim(condition_text).empty()) {
        return {};
    }
    auto match = market::map_condition(condition_text);
    if (!match.recognised) {
        return {};
    }
    switch (market::group_of(match.condition)) {
        case market::condition_group::new_item:
            return "1000|1500|1750";
        case market::condition_group::used:
            return "2000|2010|2020|2030|2500|2750|3000|4000|5000|6000";
        case market::condition_group::parts:
            return "7000";
        default:
            return {};
    }
}

std::string ebay_filter(const market::market_query& query) {
    std::vector<std::string> parts;
    if (auto ids = ebay_condition_ids(query.condition); !ids.empty()) {
        parts.push_back("conditionIds:{" + ids + "}");
    }
    if (query.min_price_minor || query.max_price_minor) {
        std::string low =
            query.min_price_minor ? decimal(*query.min_price_minor, query.currency) : std::string();
        std::string high =
            query.max_price_minor ? decimal(*query.max_price_minor, query.currency) : std::string();
        parts.push_back(high.empty() ? "price:[" + low + "]" : "price:[" + low + ".." + high + "]");
        parts.push_back("priceCurrency:" + query.currency);
    }
    std::string out;
    for (const auto& p : parts) {
        out += (out.empty() ? "" : ",") + p;
    }
    return out;
}

double title_score(std::string_view query_text, std::string_view title) {
    auto wanted = market::word_tokens(market::fold_case(query_text));
    if (wanted.empty()) {
        return 0.0;
    }
    auto have = market::word_tokens(market::fold_case(title));
    std::size_t found = 0;
    for (const auto& w : wanted) {
        if (std::find(have.begin(), have.end(), w) != have.end()) {
            ++found;
        }
    }
    return static_cast<double>(found) / static_cast<double>(wanted.size());
}

market_source_metrics::market_source_metrics(metrics::registry& registry)
    : requests(registry.counter_family("boomer_market_source_requests_total",
                                       "Market source searches by outcome (ok or failure code).",
                                       {"source", "outcome"})),
      seconds(registry.histogram_family("boomer_market_source_seconds",
                                        "Duration of one market source search.", {"source"})),
      token_refreshes(registry.counter_family("boomer_market_token_refreshes_total",
                                              "OAuth application tokens minted, by scope.",
                                              {"scope"})) {}

std::string scope_label(std::string_view scope) {
    if (scope == ebay_public_scope) {
        return "public";
    }
    if (scope == ebay_insights_scope) {
        return "insights";
    }
    auto slash = scope.rfind('/');
    return std::string(slash == std::string_view::npos ? scope : scope.substr(slash + 1));
}

}  // namespace boomer::clients
