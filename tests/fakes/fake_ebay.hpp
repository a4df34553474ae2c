// A strict fake of the eBay services the market sources use, for tests and local runs: a
// cpp-httplib server on 127.0.0.1 (port 0 by default) in its own thread. It serves
//   POST /identity/v1/oauth2/token                              client-credentials tokens
//   GET  /buy/browse/v1/item_summary/search                     active listings
//   GET  /buy/marketplace_insights/v1_beta/item_sales/search    sold items
//   GET  /sch/i.html                                            the sold-results web page
//   GET  /_fake/stats                                           counters (not part of eBay)
// and refuses what eBay refuses, with eBay's bodies: Basic auth, form body and granted scopes
// on the token endpoint (RFC 6749 errors); bearer tokens that expire after expires_in on an
// injected clock (401/1001), missing or malformed Authorization (400/1002, 1003), a token
// without the API's scope (403/1100), the Browse parameter limits (12001, 12004-12007, 12029,
// 12515), a price filter without priceCurrency (200 with warning 12012), an unknown fieldgroups
// value (200 with warning 12016), a daily call quota per API (429/2001). Browse answers
// `fieldgroups` as eBay does: items unless only refinements are asked for, and
// refinement.{dominantCategoryId, categoryDistributions} with CATEGORY_REFINEMENTS or FULL;
// listings with a category carry leafCategoryIds and categories. `q` longer than 100 characters is
// cut, as eBay does. Fixtures (listings per search text) make answers exact; latency and errors can
// be injected.
//
// Thread-safety: every member function may be called from any thread while the server runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "tests/fakes/fake_latency.hpp"

namespace boomer::fakes {

enum class ebay_endpoint { token, browse, insights, sold_page };

// The sold-results page's markup: current cards, the older ones, a redesign the clients do not
// know (search-evo cards), or a bot check.
enum class sold_markup { s_card, s_item, changed, challenge };

// One listing as the fixtures hold it; money as eBay's decimal strings.
struct fake_listing {
    std::string item_id;  // legacy id, e.g. "287379458210"
    std::string title;
    std::string price;  // "229.99"
    std::string currency = "USD";
    std::optional<std::string> shipping;  // "12.50", "0.00" (free); none: no quoted cost
    std::string condition_id = "3000";
    std::string condition = "Used";
    std::string sold_date;  // "2026-06-11": for sold fixtures
    // The listing's leaf category; empty: the listing carries no category fields.
    std::string category_id;    // "9355"
    std::string category_name;  // "Cell Phones & Smartphones"
};

// One request as the fake saw and answered it.
struct fake_ebay_request {
    ebay_endpoint endpoint = ebay_endpoint::browse;
    unsigned status = 0;
    int error_id = 0;         // eBay errorId of the answer, 0 for success
    std::string oauth_error;  // token endpoint: "invalid_client", "invalid_scope", ...
    std::string scope;        // token endpoint: the scope asked for
    std::string q;            // search text as received (before eBay's cut to 100)
    std::string marketplace;  // X-EBAY-C-MARKETPLACE-ID as received
    std::string target;       // path and query as received
};

struct fake_ebay_options {
    std::string client_id = "test-app-id";
    std::string client_secret = "test-cert-id";
    // Scopes the application was granted; asking for any other is invalid_scope.
    std::vector<std::string> granted_scopes = {
        "https://api.ebay.com/oauth/api_scope",
        "https://api.ebay.com/oauth/api_scope/buy.marketplace.insights"};
    std::int64_t token_ttl_seconds = 7200;
    const clock* time = nullptr;   // token expiry and quota days; the system clock when null
    latency_distribution latency;  // before every answer (fake_latency.hpp)
    std::int64_t browse_daily_quota = 5000;  // 0: unlimited
    std::int64_t insights_daily_quota = 5000;
    // Whether quota 429s carry Retry-After (seconds to the reset); eBay documents none.
    bool quota_retry_after = false;
    double error_rate_500 = 0.0;  // share of valid API calls answered 500/2003
    sold_markup markup = sold_markup::s_card;
    std::uint64_t seed = 42;
    std::string host = "127.0.0.1";
    int port = 0;  // 0: any free port
};

class fake_ebay {
public:
    // Starts listening. Errors: a port that cannot be bound throws std::runtime_error.
    explicit fake_ebay(fake_ebay_options options = {});
    ~fake_ebay();
    fake_ebay(const fake_ebay&) = delete;
    fake_ebay& operator=(const fake_ebay&) = delete;

    int port() const;
    std::string base_url() const;  // "http://127.0.0.1:<port>"

    // add_active / add_sold add a listing for searches whose text is `query` (compared after
    // eBay's 100-character cut, case-insensitively, whitespace collapsed), or whose gtin is
    // `query` prefixed with "gtin:". Active listings answer Browse; sold ones answer Marketplace
    // Insights and the sold page.
    void add_active(std::string query, fake_listing listing);
    void add_sold(std::string query, fake_listing listing);

    // load_fixtures adds listings from JSON text {"active": {"<query>": [listing...]},
    // "sold": {...}} where a listing is {"item_id", "title", "price", "currency"?, "shipping"?,
    // "condition_id"?, "condition"?, "sold_date"?, "category_id"?, "category_name"?} (strings).
    // Errors: malformed text or a listing without item_id, title or price throws
    // std::invalid_argument.
    void load_fixtures(std::string_view json_text);

    // inject answers the next valid request to `endpoint` with `status` in eBay's format
    // (401 → 1001, 403 → 1100, 429 → 2001, 500 → 2003; token endpoint: 401 invalid_client,
    // 400 invalid_scope, 500 server_error). First in, first out.
    void inject(ebay_endpoint endpoint, unsigned status);
    // revoke_tokens makes every token issued so far invalid (401/1001) before its expiry.
    void revoke_tokens();
    void set_latency(latency_distribution latency);
    void set_markup(sold_markup markup);
    // set_quota sets the daily quota of Browse or Insights and forgets the calls counted today.
    void set_quota(ebay_endpoint endpoint, std::int64_t per_day);

    // requests counts requests to `endpoint`; ok counts those answered 200.
    std::size_t requests(ebay_endpoint endpoint) const;
    std::size_t ok(ebay_endpoint endpoint) const;
    // tokens_issued counts tokens minted (for `scope`, or all when empty).
    std::size_t tokens_issued(std::string_view scope = {}) const;
    std::vector<fake_ebay_request> log() const;

    // wait blocks until the server stops (for tools/fake_upstream); stop() ends it.
    void wait();
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace boomer::fakes
