// eBay Marketplace Insights item_sales/search as a market source: items sold in the last 90
// days (sold = true, sold_on = lastSoldDate). The API is restricted to approved applications,
// so the source is disabled by default; it shares the Browse source's token machinery with its
// own scope. The API requires a category: the user's hint, else the one the search's Browse
// answer publishes (waited for within this source's timeout), else one remembered from an
// earlier search, else one looked up with a small Browse request of its own (as when Browse is
// disabled). ItemSales carry no shipping, so a comp's price is the last sold price alone.
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

// insights_search_target builds "/buy/marketplace_insights/v1_beta/item_sales/search?..." for
// one page: q (or gtin), category_ids, filter (conditions, price, and lastSoldDate from
// `since_day` to `today`, both "YYYY-MM-DD"), limit and offset. Empty without a category or
// without text and barcode.
std::string insights_search_target(const market::market_query& query, int limit, int offset,
                                   std::string_view since_day, std::string_view today);

// parse_insights_page reads a 200 body: itemSales into sold comps (lastSoldPrice in the query's
// currency, sold_on from lastSoldDate; items without either are dropped). Errors:
// "source_error" (retryable) when the body is not JSON.
result<ebay_page> parse_insights_page(std::string_view body, const market::market_query& query);

class ebay_insights_source final : public market::comp_source {
public:
    ebay_insights_source(std::shared_ptr<ebay_context> context, ebay_insights_options options);

    std::string name() const override { return "ebay_insights"; }

    // search: see comp_source and ebay_get. "source_error" (not retryable) for a query without
    // text or barcode, or when no category can be found; "source_timeout" when the category
    // is not known within the timeout; source_limited at once while the source is limited.
    boost::asio::awaitable<result<std::vector<market::comp>>> search(
        const market::market_query& query) override;

    std::optional<std::int64_t> limited_until() const;

private:
    std::shared_ptr<ebay_context> context_;
    ebay_insights_options options_;
    std::shared_ptr<source_limiter> limiter_;
};

// make_ebay_insights_source returns the source, or nullptr when options.enabled is false.
std::unique_ptr<market::comp_source> make_ebay_insights_source(
    std::shared_ptr<ebay_context> context, ebay_insights_options options);

}  // namespace boomer::clients
