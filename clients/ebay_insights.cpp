// Marketplace Insights item_sales/search: the request, reading sales into sold comps, and the
// source.
#include "clients/ebay_insights.hpp"

#include <simdjson.h>

#include "clients/ebay_amounts.hpp"
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
    c.shipping_minor = 0;  // TODO(#4): ItemSales has no shipping; comps are item price only.
    c.price_minor = price->minor;
    c.currency = query.currency;
    c.sold_on = *sold_on;
    c.match = text.empty() ? "barcode" : "title";
    c.score = text.empty() ? 1.0 : title_score(text, c.title);
    c.source = "ebay_insights";
    c.sold = true;
    c.condition_id = string_field(item, "conditionId");
    c.url = string_field(item, "itemWebUrl");
    return c;
}

std::string day_before(std::string_view today, int days) {
    auto d = market::days_from_iso(today);
    return d ? market::to_iso(market::civil_from_days(*d - days)) : std::string(today);
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
    auto until = limiter->limited_until(context->time.now_ms());
    if (until) {
        outcome = fail(
            "source_limited",
            "eBay Marketplace Insights is over its call limit until " + iso8601_utc(*until) + ".",
            true);
    } else if (insights_search_target(query, 1, 0, since, today).empty()) {
        outcome =
            fail("source_error",
                 "Marketplace Insights needs a category id and search text or a barcode.", false);
    } else {
        paged_plan plan;
        plan.scope = std::string(ebay_insights_scope);
        plan.target = [&query, &since, &today](int limit, int offset) {
            return insights_search_target(query, limit, offset, since, today);
        };
        plan.parse = [&query](std::string_view body) { return parse_insights_page(body, query); };
        plan.page_limit = options_.page_limit;
        plan.max_pages = options_.max_pages;
        plan.wanted = query.limit;
        plan.deadline = std::chrono::steady_clock::now() + options_.timeout;
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
