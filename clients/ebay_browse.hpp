// eBay Browse item_summary/search as a market source: live listings matching the query,
// returned as active comps (sold = false): the competition, never evidence of value. The search
// text is cut to eBay's 100 characters at a word boundary; condition and price filters and the
// category go along when the query has them; pages are fetched until the query's limit or the
// page budget; prices include the cheapest shipping the summary quotes; listings in another
// currency are dropped. After a 429 the source answers source_limited without calling eBay
// until the limit's end (retry-after) or a backoff. Without the user's category, the first page
// asks for the category refinement too, and the category chosen from it and the listings'
// leaf categories (market::choose_category) is published on the search's board and remembered
// in the context's category memo for a day.
//
// Thread-safety: one source may serve concurrent searches from any threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clients/ebay_api.hpp"
#include "pipeline/market/comp_source.hpp"

namespace boomer::clients {

// browse_search_target builds "/buy/browse/v1/item_summary/search?..." for one page: q (or gtin
// when the query has a barcode and no text), category_ids, filter, fieldgroups
// MATCHING_ITEMS,CATEGORY_REFINEMENTS on the first page of a query without a category, limit
// and offset. Empty when the query has neither text nor barcode.
std::string browse_search_target(const market::market_query& query, int limit, int offset);

// parse_browse_page reads a 200 body: itemSummaries (optional) into active comps with price
// and shipping in minor units of the query's currency, the listing's URL and condition id,
// sold_on = `today`, match "barcode" (score 1) for a gtin search else "title" with
// title_score, category_id the listing's leaf category; the page's dominant_category from
// refinement.dominantCategoryId. Errors: "source_error" (retryable) when the body is not a search
// result.
result<ebay_page> parse_browse_page(std::string_view body, const market::market_query& query,
                                    std::string_view today);

class ebay_browse_source final : public market::comp_source {
public:
    ebay_browse_source(std::shared_ptr<ebay_context> context, ebay_browse_options options);

    std::string name() const override { return "ebay_browse"; }
    bool learns_category() const override { return true; }

    // search: see comp_source. Failures: those of ebay_get; "source_error" for a query
    // without text or barcode; source_limited at once while the source is limited.
    boost::asio::awaitable<result<std::vector<market::comp>>> search(
        const market::market_query& query) override;

    // limited_until says until when (epoch ms) the source stays quiet, if it does.
    std::optional<std::int64_t> limited_until() const;

private:
    std::shared_ptr<ebay_context> context_;
    ebay_browse_options options_;  // its call limit is the context's browse_limiter
};

// How many listings find_category looks at.
inline constexpr int category_lookup_limit = 20;

// learned_category remembers `category_id` for the query in the context's memo and publishes
// it on the query's board (when it has one). An empty id is ignored.
void learned_category(ebay_context& context, const market::market_query& query,
                      const std::string& category_id, const std::string& source);

// find_category returns the query's category: from the context's memo, else from one Browse
// page of category_lookup_limit listings with the category refinement (the choice is then
// remembered and published as "ebay_browse"). Empty when eBay knows none. Failures: those of
// ebay_get (`limiter` is the caller's), and "source_error" for a query without text or
// barcode. `context`, `query` and `limiter` must outlive the call.
boost::asio::awaitable<result<std::string>> find_category(ebay_context& context,
                                                          const market::market_query& query,
                                                          steady_deadline deadline,
                                                          source_limiter& limiter);

// make_ebay_browse_source returns the Browse source, or nullptr when options.enabled is false.
std::unique_ptr<market::comp_source> make_ebay_browse_source(std::shared_ptr<ebay_context> context,
                                                             ebay_browse_options options);

}  // namespace boomer::clients
