// eBay settings from the environment, checked once at start.
#include <charconv>
#include <cstdlib>

#include "clients/ebay_common.hpp"

namespace boomer::clients {
namespace {

using lookup_fn = std::function<std::optional<std::string>(std::string_view)>;

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

// Reads an integer variable within [low, high] into `out`; unset keeps `out`.
result<bool> read_int(const lookup_fn& get, std::string_view name, std::int64_t low,
                      std::int64_t high, std::int64_t& out) {
    auto text = get(name);
    if (!text || text->empty()) {
        return true;
    }
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc{} || end != text->data() + text->size() || v < low || v > high) {
        return bad(name, "must be a whole number from " + std::to_string(low) + " to " +
                             std::to_string(high));
    }
    out = v;
    return true;
}

result<bool> read_flag(const lookup_fn& get, std::string_view name, bool& out) {
    auto text = get(name);
    if (!text || text->empty()) {
        return true;
    }
    if (*text == "1" || *text == "true" || *text == "yes" || *text == "on") {
        out = true;
    } else if (*text == "0" || *text == "false" || *text == "no" || *text == "off") {
        out = false;
    } else {
        return bad(name, "must be 1/0, true/false, yes/no or on/off");
    }
    return true;
}

// The integer settings: variable, range, and where the value goes.
struct int_setting {
    std::string_view name;
    std::int64_t low;
    std::int64_t high;
    std::int64_t value;
};

result<bool> read_ints(const lookup_fn& get, ebay_settings& s) {
    int_setting table[] = {
        {"EBAY_TOKEN_TIMEOUT_MS", 1, 120'000, s.api.token_timeout.count()},
        {"EBAY_TOKEN_MARGIN_S", 0, 3600, s.api.token_margin.count()},
        {"EBAY_LIMITED_BACKOFF_S", 1, 86'400, s.api.limited_backoff.count()},
        {"EBAY_BROWSE_TIMEOUT_MS", 1, 120'000, s.browse.timeout.count()},
        {"EBAY_BROWSE_PAGE_LIMIT", 1, 200, s.browse.page_limit},
        {"EBAY_BROWSE_MAX_PAGES", 1, 20, s.browse.max_pages},
        {"EBAY_INSIGHTS_TIMEOUT_MS", 1, 120'000, s.insights.timeout.count()},
        {"EBAY_INSIGHTS_PAGE_LIMIT", 1, 200, s.insights.page_limit},
        {"EBAY_INSIGHTS_MAX_PAGES", 1, 20, s.insights.max_pages},
        {"EBAY_INSIGHTS_WINDOW_DAYS", 1, 90, s.insights.window_days},
        {"EBAY_SOLD_PAGE_TIMEOUT_MS", 1, 120'000, s.sold_page.timeout.count()},
        {"EBAY_SOLD_PAGE_ITEMS", 1, 240, s.sold_page.items_per_page},
        {"EBAY_SOLD_PAGE_MAX_PAGES", 1, 10, s.sold_page.max_pages},
    };
    for (auto& t : table) {
        if (auto ok = read_int(get, t.name, t.low, t.high, t.value); !ok) {
            return ok;
        }
    }
    s.api.token_timeout = std::chrono::milliseconds(table[0].value);
    s.api.token_margin = std::chrono::seconds(table[1].value);
    s.api.limited_backoff = std::chrono::seconds(table[2].value);
    s.browse.timeout = std::chrono::milliseconds(table[3].value);
    s.browse.page_limit = static_cast<int>(table[4].value);
    s.browse.max_pages = static_cast<int>(table[5].value);
    s.insights.timeout = std::chrono::milliseconds(table[6].value);
    s.insights.page_limit = static_cast<int>(table[7].value);
    s.insights.max_pages = static_cast<int>(table[8].value);
    s.insights.window_days = static_cast<int>(table[9].value);
    s.sold_page.timeout = std::chrono::milliseconds(table[10].value);
    s.sold_page.items_per_page = static_cast<int>(table[11].value);
    s.sold_page.max_pages = static_cast<int>(table[12].value);
    return true;
}

result<bool> read_strings(const lookup_fn& get, ebay_settings& s) {
    if (auto v = get("EBAY_CLIENT_ID")) {
        s.api.client_id = *v;
    }
    if (auto v = get("EBAY_CLIENT_SECRET")) {
        s.api.client_secret = secret(*v);
    }
    if (auto v = get("EBAY_BASE_URL"); v && !v->empty()) {
        s.api.base_url = *v;
    }
    if (auto v = get("EBAY_MARKETPLACE_ID"); v && !v->empty()) {
        s.api.marketplace_id = *v;
    }
    if (auto v = get("EBAY_WEB_BASE_URL"); v && !v->empty()) {
        s.sold_page.base_url = *v;
    }
    for (const auto* url : {&s.api.base_url, &s.sold_page.base_url}) {
        if (auto parsed = parse_url(*url); !parsed) {
            return bad(url == &s.api.base_url ? "EBAY_BASE_URL" : "EBAY_WEB_BASE_URL",
                       "is not a usable URL: " + parsed.error().message);
        }
    }
    return true;
}

}  // namespace

result<ebay_settings> ebay_settings_from_env(const lookup_fn& lookup) {
    auto get = lookup ? lookup : lookup_fn(process_env);
    ebay_settings s;
    if (auto ok = read_strings(get, s); !ok) {
        return make_unexpected(ok.error());
    }
    if (auto ok = read_ints(get, s); !ok) {
        return make_unexpected(ok.error());
    }
    s.browse.enabled = !s.api.client_id.empty();
    for (auto [name, flag] : {std::pair{"EBAY_BROWSE_ENABLED", &s.browse.enabled},
                              std::pair{"EBAY_INSIGHTS_ENABLED", &s.insights.enabled},
                              std::pair{"EBAY_SOLD_PAGE_ENABLED", &s.sold_page.enabled}}) {
        if (auto ok = read_flag(get, name, *flag); !ok) {
            return make_unexpected(ok.error());
        }
    }
    bool needs_keys = s.browse.enabled || s.insights.enabled;
    if (needs_keys && (s.api.client_id.empty() || s.api.client_secret.empty())) {
        return make_unexpected(
            failure{"bad_config",
                    "EBAY_CLIENT_ID and EBAY_CLIENT_SECRET must both be set when the eBay Browse "
                    "or Marketplace Insights source is enabled.",
                    false});
    }
    return s;
}

}  // namespace boomer::clients
