// What the eBay market sources share: settings (with the environment variables that set them),
// the OAuth scopes, eBay's error envelope, URL encoding, the search text and filters built from
// a market query, and the metrics every market source reports.
//
// Everything here is pure and thread-safe unless a comment says otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/claude_vision.hpp"
#include "clients/https_client.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "pipeline/market/comp_source.hpp"

namespace boomer::clients {

// The application-token scopes: public data (Browse) and the restricted sold history.
inline constexpr std::string_view ebay_public_scope = "https://api.ebay.com/oauth/api_scope";
inline constexpr std::string_view ebay_insights_scope =
    "https://api.ebay.com/oauth/api_scope/buy.marketplace.insights";

// eBay's documented maximum for `q` (longer text is cut by eBay itself).
inline constexpr std::size_t ebay_max_keywords_chars = 100;

// Settings shared by the API sources (Browse, Marketplace Insights).
struct ebay_options {
    std::string client_id;                          // EBAY_CLIENT_ID (App ID)
    secret client_secret;                           // EBAY_CLIENT_SECRET (Cert ID)
    std::string base_url = "https://api.ebay.com";  // EBAY_BASE_URL: API and token endpoint
    std::string marketplace_id = "EBAY_US";         // EBAY_MARKETPLACE_ID, sent on every call
    // EBAY_TOKEN_TIMEOUT_MS: the deadline of one token request.
    std::chrono::milliseconds token_timeout{10'000};
    // EBAY_TOKEN_MARGIN_S: a token is renewed this long before its expires_in runs out.
    std::chrono::seconds token_margin{300};
    // EBAY_LIMITED_BACKOFF_S: after a 429 without a retry-after, the source stays limited this
    // long, doubling on each 429 in a row up to limited_backoff_cap.
    std::chrono::seconds limited_backoff{900};
    std::chrono::seconds limited_backoff_cap{6 * 3600};
    const clock* time = nullptr;  // token expiry and limits; the system clock when null
    https_client_options http;
};

// Browse item_summary/search: active listings (competition, not evidence of value).
struct ebay_browse_options {
    bool enabled = true;  // EBAY_BROWSE_ENABLED (default: on when EBAY_CLIENT_ID is set)
    // EBAY_BROWSE_TIMEOUT_MS: the whole search, every page and a token refresh included.
    std::chrono::milliseconds timeout{8'000};
    int page_limit = 50;  // EBAY_BROWSE_PAGE_LIMIT: `limit` of one page, 1..200
    int max_pages = 2;    // EBAY_BROWSE_MAX_PAGES: pages per search, 1..20
};

// Marketplace Insights item_sales/search: sold items of the last 90 days (restricted API).
struct ebay_insights_options {
    bool enabled = false;                      // EBAY_INSIGHTS_ENABLED
    std::chrono::milliseconds timeout{8'000};  // EBAY_INSIGHTS_TIMEOUT_MS
    int page_limit = 50;                       // EBAY_INSIGHTS_PAGE_LIMIT, 1..200
    int max_pages = 2;                         // EBAY_INSIGHTS_MAX_PAGES, 1..20
    int window_days = 90;                      // EBAY_INSIGHTS_WINDOW_DAYS, 1..90
};

// The website's sold-listings search page (best effort: markup changes and login walls).
struct ebay_sold_page_options {
    bool enabled = false;                           // EBAY_SOLD_PAGE_ENABLED
    std::string base_url = "https://www.ebay.com";  // EBAY_WEB_BASE_URL
    std::chrono::milliseconds timeout{10'000};      // EBAY_SOLD_PAGE_TIMEOUT_MS
    int items_per_page = 60;                        // EBAY_SOLD_PAGE_ITEMS: 60, 120 or 240
    int max_pages = 1;                              // EBAY_SOLD_PAGE_MAX_PAGES, 1..10
    const clock* time = nullptr;                    // "Sold Today" dates; system clock when null
    https_client_options http;
};

// Every eBay setting, as read from the environment.
struct ebay_settings {
    ebay_options api;
    ebay_browse_options browse;
    ebay_insights_options insights;
    ebay_sold_page_options sold_page;
};

// ebay_settings_from_env reads the variables named above through `lookup` (the process
// environment by default); unset variables keep the defaults. Browse is enabled when
// EBAY_CLIENT_ID is set unless EBAY_BROWSE_ENABLED says otherwise. Errors: "bad_config" naming
// the variable: an unreadable number or flag, a value out of range, an enabled API source
// without EBAY_CLIENT_ID and EBAY_CLIENT_SECRET, an unusable URL.
result<ebay_settings> ebay_settings_from_env(
    const std::function<std::optional<std::string>(std::string_view)>& lookup = {});

// One entry of eBay's error envelope {"errors":[{errorId, domain, category, message, ...}]}.
struct ebay_error {
    int error_id = 0;
    std::string domain;
    std::string category;
    std::string message;
    std::string long_message;
};

// parse_ebay_errors reads the `errors` array of an error body leniently; a body that is not
// the envelope gives an empty list.
std::vector<ebay_error> parse_ebay_errors(std::string_view body);

// describe_ebay_errors makes one sentence of the first error ("eBay error 12006: ...") or of
// the HTTP status when there is none.
std::string describe_ebay_errors(unsigned status, const std::vector<ebay_error>& errors);

// url_encode percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);

// ebay_keywords builds search text from the query: `keywords`, else `title`; whitespace runs
// collapsed, '*' (not allowed by eBay) dropped, then cut at a word boundary to at most
// `max_chars` characters (code points). A first word longer than the limit is cut inside the
// word, on a character boundary.
std::string ebay_keywords(const market::market_query& query,
                          std::size_t max_chars = ebay_max_keywords_chars);

// ebay_condition_ids gives the condition ids of the query's condition group ("1000|1500|1750"
// for new, the refurbished and used ids for used, "7000" for parts), or empty when the
// condition text is empty or not understood.
std::string ebay_condition_ids(std::string_view condition_text);

// ebay_filter builds the Buy APIs' `filter` value for the query: conditionIds and
// price:[low..high],priceCurrency (always together); empty when there is nothing to filter.
std::string ebay_filter(const market::market_query& query);

// title_score is the share of the query's words found in `title` (0..1), case-insensitive.
double title_score(std::string_view query_text, std::string_view title);

// Metrics every market source reports (registered once per registry, shared by sources):
//   boomer_market_source_requests_total{source,outcome}  searches by outcome ("ok" or the code)
//   boomer_market_source_seconds{source}                 duration of one search
//   boomer_market_token_refreshes_total{scope}           OAuth tokens minted, by scope
struct market_source_metrics {
    metrics::family<metrics::counter>& requests;
    metrics::family<metrics::histogram>& seconds;
    metrics::family<metrics::counter>& token_refreshes;

    explicit market_source_metrics(metrics::registry& registry);
};

// scope_label is the metric label of a scope: "public", "insights" or the scope's last part.
std::string scope_label(std::string_view scope);

}  // namespace boomer::clients
