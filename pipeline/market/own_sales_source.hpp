// The seller's own sales history as a market source, so that the comps stage asks it alongside
// eBay: the same matches sales_history::find gives, as sold comps.
#pragma once

#include <memory>

#include "pipeline/market/comp_source.hpp"
#include "pipeline/market/sales_history.hpp"

namespace boomer::market {

class own_sales_source final : public comp_source {
public:
    // `history` must outlive the source and not change while it is searched.
    explicit own_sales_source(const sales_history& history) : history_(history) {}

    std::string name() const override { return "own_sales"; }

    // search returns history.find() for the query's barcodes and its keywords (or, without
    // keywords, its title), at most query.limit comps. The condition is not passed on, as the
    // stage never did. Answers at once without suspending; never fails. Thread-safe.
    boost::asio::awaitable<result<std::vector<comp>>> search(const market_query& query) override;

private:
    const sales_history& history_;
};

}  // namespace boomer::market
