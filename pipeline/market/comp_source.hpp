// A market source that answers "what do items like this sell or list for": the seller's own
// sales, eBay's Browse and Marketplace Insights APIs, or eBay's sold-listings page. The comps
// stage asks every configured source in parallel and merges what comes back in time.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "pipeline/market/category.hpp"
#include "pipeline/market/sales_history.hpp"

namespace boomer::market {

// What to look for, built from the identification (or the user's hints without one).
struct market_query {
    std::string keywords;               // search text; sources cut it to their own limit
    std::vector<std::string> barcodes;  // GTIN/UPC/EAN/ISBN as scanned or identified
    std::string title;                  // identified title or the user's hint
    std::string condition;              // user or model text ("used", "for parts"...)
    std::string category_id;            // the user's eBay category id hint, when given
    std::string currency = "USD";       // prices in other currencies are not comparable
    std::optional<std::int64_t> min_price_minor;
    std::optional<std::int64_t> max_price_minor;
    int limit = 50;  // at most this many comps from one source
    // The search's category (see category.hpp): set by fan_out for each search; null when a
    // source is asked alone. Not part of the query's identity (cache keys leave it out).
    std::shared_ptr<category_board> board;
};

// One source's answer. Failures are values: code "source_timeout", "source_limited" (quota or
// rate limit), "layout_changed" (a page no longer parses), "source_unauthorized",
// "source_error"; retryable says whether asking again later may help.
class comp_source {
public:
    virtual ~comp_source() = default;

    // A short stable name used in results, logs and metrics ("own_sales", "ebay_browse"...).
    virtual std::string name() const = 0;

    // search looks for comps. It may suspend on the network and honours cancellation of the
    // awaiting coroutine. The query outlives the call. Each comp carries `source` = name() and
    // `sold` set for sold evidence, cleared for active listings.
    virtual boost::asio::awaitable<result<std::vector<comp>>> search(const market_query& query) = 0;

    // learns_category says whether search may publish the search's category on query.board
    // (a source that finds listings with their categories). A search with such a source lets
    // the others wait for the category until this one has answered.
    virtual bool learns_category() const { return false; }
};

}  // namespace boomer::market
