// The own-sales market source (see own_sales_source.hpp).
#include "pipeline/market/own_sales_source.hpp"

namespace boomer::market {

boost::asio::awaitable<result<std::vector<comp>>> own_sales_source::search(
    const market_query& query) {
    comp_query q;
    q.barcodes = query.barcodes;
    q.title = query.keywords.empty() ? query.title : query.keywords;
    auto limit = static_cast<std::size_t>(std::max(0, query.limit));
    auto found = history_.find(q, limit);
    for (auto& c : found) {
        c.sold = true;
    }
    co_return found;
}

}  // namespace boomer::market
