// Marketplace Insights item_sales/search: the request, reading sales into sold comps, and the
// source.
#include "clients/ebay_insights.hpp"

#include <simdjson.h>

#include "clients/ebay_amounts.hpp"
#include "clients/ebay_browse.hpp"
#include "pipeline/market/dates.hpp"

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
namespace dom = simdjson::dom;

std::optional<market::comp> read_sale(dom::object item, const market::market_query& query,
                                      const std::string& text) {
    auto price = read_amount(item, "lastSoldPrice");
    auto sold_on = market::parse_date_iso(string_field(item, "lastSoldDate"));
    if (!price || price->currency != query.currency || !sold_on) {
        return std::nullopt;
    }
    market::comp c;
    c.title = string_field(item, "title");
    c.item_price_minor = price->minor;
    c.shipping_minor = 0;  // ItemSales carries no shipping cost: the item price is all there is
    c.price_minor = price->minor;
    c.currency = query.currency;
    c.sold_on = *sold_on;
    c.match = text.empty() ? "barcode" : "title";
    c.score = text.empty() ? 1.0 : title_score(text, c.title);
    c.source = "ebay_insights";
    c.sold = true;
    c.condition_id = string_field(item, "conditionId");
    c.url = string_field(item, "itemWebUrl");
    c.category_id = leaf_category(item);
    c.listing_id = listing_number(item);
    return c;
}

std::string day_before(std::string_view today, int days) {
    auto d = market::days_from_iso(today);
    return d ? market::to_iso(market::civil_from_days(*d - days)) : std::string(today);
}

// The category to ask with: the user's, the one the search learned, remembered or is learning
// (waiting for the search's Browse answer within the budget), else one looked up here.
asio::awaitable<result<std::string>> category_for(ebay_context& context,
                                                  const market::market_query& query,
                                                  steady_deadline deadline) {
    if (!query.category_id.empty()) {
        co_return query.category_id;
    }
    if (query.board && !query.board->id().empty()) {
        co_return query.board->id();
    }
    if (auto known = context.categories.get(category_memo::key(query), context.time.now_ms())) {
        co_return *known;
    }
    if (query.board) {
        auto learned = co_await query.board->wait(deadline);
        if (!learned.empty()) {
            co_return learned;
        }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
        co_return fail("source_timeout",
                       "No category was learned for the search within the source's time budget.",
                       true);
    }
    auto found = co_await find_category(context, query, deadline, context.browse_limiter);
    if (found && found->empty()) {
        co_return fail("source_error",
                       "eBay lists nothing matching the search, so it has no category to ask "
                       "Marketplace Insights with; give the item a category hint.",
                       false);
    }
    if (!found) {
        // Insights itself was not asked: say so, or its own endpoint is blamed for Browse's.
        auto why = found.error();
        why.message =
            "The category look-up through eBay Browse, which Marketplace Insights "
            "needs first, failed: " +
            why.message;
        co_return make_unexpected(std::move(why));
    }
    co_return found;
}

}  // namespace

std::string insights_search_target(const market::market_query& query, int limit, int offset,
                                   std::string_view since_day, std::string_view today) {
    auto text = ebay_keywords(query);
    if (query.category_id.empty() || (text.empty() && query.barcodes.empty())) {
        return {};
    }
    std::string target = "/buy/marketplace_insights/v1_beta/item_sales/search?";
    target += text.empty() ? "gtin=" + url_encode(query.barcodes.front()) : "q=" + url_encode(text);
    target += "&category_ids=" + url_encode(query.category_id);
    auto filter = ebay_filter(query);
    filter += (filter.empty() ? "" : ",") + std::string("lastSoldDate:[") + std::string(since_day) +
              "T00:00:00Z.." + std::string(today) + "T23:59:59Z]";
    target += "&filter=" + url_encode(filter);
    target += "&limit=" + std::to_string(limit) + "&offset=" + std::to_string(offset);
    return target;
}

result<ebay_page> parse_insights_page(std::string_view body, const market::market_query& query) {
    dom::parser parser;
    dom::object root;
    if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
        return fail("source_error",
                    "eBay Marketplace Insights answered with something that is not JSON.", true);
    }
    ebay_page page;
    if (root["total"].get(page.total) != simdjson::SUCCESS) {
        page.total = 0;
    }
    std::string_view next;
    page.has_next = root["next"].get(next) == simdjson::SUCCESS && !next.empty();
    dom::array items;
    if (root["itemSales"].get(items) != simdjson::SUCCESS) {
        return page;
    }
    auto text = ebay_keywords(query);
    for (auto element : items) {
        dom::object item;
        std::optional<market::comp> c;
        if (element.get(item) == simdjson::SUCCESS) {
            c = read_sale(item, query, text);
        }
        if (c) {
            page.comps.push_back(std::move(*c));
        } else {
            ++page.dropped;
        }
    }
    return page;
}

ebay_insights_source::ebay_insights_source(std::shared_ptr<ebay_context> context,
                                           ebay_insights_options options)
    : context_(std::move(context)),
      options_(options),
      limiter_(std::make_shared<source_limiter>()) {}

std::optional<std::int64_t> ebay_insights_source::limited_until() const {
    return limiter_->limited_until(context_->time.now_ms());
}

asio::awaitable<result<std::vector<market::comp>>> ebay_insights_source::search(
    const market::market_query& query) {
    auto context = context_;
    auto limiter = limiter_;
    search_record record(context->metrics, name());
    result<std::vector<market::comp>> outcome = std::vector<market::comp>{};
    auto today = today_iso(context->time.now_ms());
    auto since = day_before(today, options_.window_days);
    auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    auto asked = query;
    auto until = limiter->limited_until(context->time.now_ms());
    if (until) {
        outcome = fail(
            "source_limited",
            "eBay Marketplace Insights is over its call limit until " + iso8601_utc(*until) + ".",
            true);
    } else if (ebay_keywords(query).empty() && query.barcodes.empty()) {
        outcome =
            fail("source_error", "Marketplace Insights needs search text or a barcode.", false);
    } else {
        auto category = co_await category_for(*context, query, deadline);
        if (category) {
            asked.category_id = *category;
        } else {
            outcome = make_unexpected(category.error());
        }
    }
    if (outcome) {
        paged_plan plan;
        plan.scope = std::string(ebay_insights_scope);
        plan.target = [&asked, &since, &today](int limit, int offset) {
            return insights_search_target(asked, limit, offset, since, today);
        };
        plan.parse = [&asked](std::string_view body) { return parse_insights_page(body, asked); };
        plan.page_limit = options_.page_limit;
        plan.max_pages = options_.max_pages;
        plan.wanted = query.limit;
        plan.deadline = deadline;
        outcome = co_await paged_search(*context, plan, *limiter);
    }
    record.finish(outcome);
    co_return outcome;
}

std::unique_ptr<market::comp_source> make_ebay_insights_source(
    std::shared_ptr<ebay_context> context, ebay_insights_options options) {
    if (!options.enabled) {
        return nullptr;
    }
    return std::make_unique<ebay_insights_source>(std::move(context), options);
}

}  // namespace boomer::clients
