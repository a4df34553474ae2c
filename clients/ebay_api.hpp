// How the eBay API sources talk to eBay: one HTTP client and one token provider shared by the
// sources, a GET that carries the bearer token and the marketplace header, renews the token
// once and retries once after a 401, and turns every other answer into a comp_source failure;
// a per-source limiter that keeps a source quiet after a 429 until the time eBay gave or a
// backoff; and the per-search metrics.
//
// Thread-safety: an ebay_context and a source_limiter may be used from any thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clients/ebay_common.hpp"
#include "clients/ebay_token.hpp"
#include "clients/https_client.hpp"

namespace boomer::clients {

// One page of an item_summary/search or item_sales/search answer, read into comps.
struct ebay_page {
    std::vector<market::comp> comps;
    bool has_next = false;          // eBay sent `next`
    std::int64_t total = 0;         // eBay's indicator only
    int dropped = 0;                // items without a usable price or in another currency
    std::string dominant_category;  // Browse's refinement.dominantCategoryId, when asked for
};

// The categories learned for searches, by the search's text and codes, so that a later search
// (or Marketplace Insights, which needs one) need not learn them again. Bounded; entries expire.
// Thread-safe (one mutex).
class category_memo {
public:
    explicit category_memo(std::size_t max_entries = 10'000) : max_entries_(max_entries) {}

    // key is the memo's key for a query: its keywords, title and barcodes, normalized.
    static std::string key(const market::market_query& query);

    std::optional<std::string> get(const std::string& key, std::int64_t now_ms) const;
    // put remembers `category_id` for `key` until expires_at_ms; a full memo first drops what
    // expired, then everything (it is a cache of cheap look-ups).
    void put(const std::string& key, std::string category_id, std::int64_t now_ms,
             std::int64_t expires_at_ms);

private:
    struct entry {
        std::string category_id;
        std::int64_t expires_at_ms = 0;
    };
    std::size_t max_entries_;
    mutable std::mutex mutex_;
    std::map<std::string, entry, std::less<>> entries_;  // guarded by mutex_
};

// Keeps a source quiet after eBay said "too many requests".
class source_limiter {
public:
    // limited_until returns the epoch ms until which the source stays quiet, if it is now.
    std::optional<std::int64_t> limited_until(std::int64_t now_ms) const;

    // hit marks the source limited from `now_ms`: for `retry_after` when eBay sent one, else
    // for the backoff, doubled for each hit in a row (capped).
    void hit(std::int64_t now_ms, std::optional<std::chrono::milliseconds> retry_after,
             const ebay_options& options);

    // clear ends the run of hits after a successful call.
    void clear();

private:
    mutable std::mutex mutex_;
    std::int64_t until_ms_ = 0;  // guarded by mutex_
    int strikes_ = 0;            // guarded by mutex_
};

// What the Browse and Marketplace Insights sources share.
struct ebay_context {
    ebay_options options;
    https_client http;
    ebay_token_provider tokens;
    market_source_metrics metrics;
    const clock& time;
    category_memo categories;  // learned by Browse, used by Insights
    // Browse's call limit: its searches and the look-ups made for Insights' category spend
    // one quota, so a 429 to either pauses both.
    source_limiter browse_limiter;

    // `registry` must outlive the context. Errors: as https_client's constructor.
    ebay_context(ebay_options o, boost::asio::any_io_executor executor,
                 metrics::registry& registry);

    // api_url joins the base URL (without a trailing '/') and `path_and_query`.
    std::string api_url(std::string_view path_and_query) const;
};

// make_ebay_context builds the shared context for make_ebay_browse_source and
// make_ebay_insights_source.
std::shared_ptr<ebay_context> make_ebay_context(ebay_options options,
                                                boost::asio::any_io_executor executor,
                                                metrics::registry& registry);

// The whole-search deadline of one source.
using steady_deadline = std::chrono::steady_clock::time_point;

// ebay_get sends GET `url` with a bearer token of `scope` and the marketplace header, within
// `deadline`. A 401 hands the token back, mints a new one and retries once. Returns the 200
// response, or a failure:
//   source_timeout       the deadline passed (retryable);
//   source_limited       429; `limiter` is marked (retryable);
//   source_unauthorized  401 again after a fresh token, 403, or a token that cannot be minted;
//   source_error         400/404/409 (a bug on our side, not retryable), 5xx and transport
//                        failures (retryable).
// `context`, `scope`, `url` and `limiter` must outlive the call.
boost::asio::awaitable<result<http_response>> ebay_get(ebay_context& context,
                                                       const std::string& scope,
                                                       const std::string& url,
                                                       steady_deadline deadline,
                                                       source_limiter& limiter);

// One paged search: what to ask for each page and how to read it.
struct paged_plan {
    std::string scope;
    std::function<std::string(int limit, int offset)> target;  // path and query of a page
    std::function<result<ebay_page>(std::string_view body)> parse;
    std::function<void(const ebay_page&)> on_page;  // optional: sees each page read
    int page_limit = 50;                            // `limit` of a page
    int max_pages = 1;                              // the page budget
    int wanted = 50;                                // stop once this many comps are in
    steady_deadline deadline;
};

// paged_search asks for pages at offsets 0, limit, 2*limit... (eBay wants a multiple of the
// limit, below 10,000) until `wanted` comps are in, eBay sends no `next`, or the budget is
// spent, and returns at most `wanted` comps. A failure on a later page returns the comps
// already read; on the first page, the failure. `context`, `plan` and `limiter` must outlive
// the call.
boost::asio::awaitable<result<std::vector<market::comp>>> paged_search(ebay_context& context,
                                                                       const paged_plan& plan,
                                                                       source_limiter& limiter);

// A timer for one search that records boomer_market_source_requests_total and
// boomer_market_source_seconds when told the outcome.
class search_record {
public:
    search_record(market_source_metrics& metrics, std::string source);
    // finish records "ok" or the failure code of `outcome`.
    void finish(const result<std::vector<market::comp>>& outcome);

private:
    market_source_metrics& metrics_;
    std::string source_;
    std::chrono::steady_clock::time_point start_;
};

// today_iso is the UTC date of `epoch_ms` as "YYYY-MM-DD".
std::string today_iso(std::int64_t epoch_ms);

}  // namespace boomer::clients
