// Browse item_summary/search: the request, reading the summaries into active comps, and the
// source that pages through them.
#include "clients/ebay_browse.hpp"

#include <simdjson.h>

#include "clients/ebay_amounts.hpp"
#include "pipeline/market/category.hpp"

namespace boomer::clients {

namespace asio = boost::asio;
namespace dom = simdjson::dom;

namespace {

// Reads one summary; nullopt (counted as dropped) without a usable price in the currency.
std::optional<market::comp> read_summary(dom::object item, const market::market_query& query,
                                         const std::string& text, std::string_view today) {
    auto price = read_amount(item, "price");
    if (!price || price->currency != query.currency) {
        return std::nullopt;
    }
    auto shipping = cheapest_shipping(item);
    if (shipping && shipping->currency != query.currency) {
        return std::nullopt;
    }
    market::comp c;
    c.title = string_field(item, "title");
    c.item_price_minor = price->minor;
    c.shipping_minor = shipping ? shipping->minor : 0;
    c.price_minor = c.item_price_minor + c.shipping_minor;
    c.currency = query.currency;
    c.sold_on = std::string(today);
    c.match = text.empty() ? "barcode" : "title";
    c.score = text.empty() ? 1.0 : title_score(text, c.title);
    c.source = "ebay_browse";
    c.sold = false;
    c.condition_id = string_field(item, "conditionId");
    c.url = string_field(item, "itemWebUrl");
    c.category_id = leaf_category(item);
    c.listing_id = listing_number(item);
    return c;
}

// The refinement's dominantCategoryId, when the answer has one.
std::string dominant_category(dom::object root) {
    dom::object refinement;
    std::string_view id;
    if (root["refinement"].get(refinement) != simdjson::SUCCESS ||
        refinement["dominantCategoryId"].get(id) != simdjson::SUCCESS) {
        return {};
    }
    return std::string(id);
}

// How long a learned category is remembered.
constexpr std::int64_t category_ttl_ms = 24 * 3'600'000;

}  // namespace

std::string browse_search_target(const market::market_query& query, int limit, int offset) {
    auto text = ebay_keywords(query);
    std::string target = "/buy/browse/v1/item_summary/search?";
    if (!text.empty()) {
        target += "q=" + url_encode(text);
    } else if (!query.barcodes.empty()) {
        target += "gtin=" + url_encode(query.barcodes.front());
    } else {
        return {};
    }
    if (!query.category_id.empty()) {
        target += "&category_ids=" + url_encode(query.category_id);
    }
    if (auto filter = ebay_filter(query); !filter.empty()) {
        target += "&filter=" + url_encode(filter);
    }
    if (offset == 0 && query.category_id.empty()) {
        // The category distribution of the whole result set comes with the first page.
        target += "&fieldgroups=" + url_encode("MATCHING_ITEMS,CATEGORY_REFINEMENTS");
    }
    target += "&limit=" + std::to_string(limit) + "&offset=" + std::to_string(offset);
    return target;
}

result<ebay_page> parse_browse_page(std::string_view body, const market::market_query& query,
                                    std::string_view today) {
    dom::parser parser;
    dom::object root;
    if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
        return fail("source_error", "eBay Browse answered with something that is not JSON.", true);
    }
    ebay_page page;
    if (root["total"].get(page.total) != simdjson::SUCCESS) {
        page.total = 0;
    }
    std::string_view next;
    page.has_next = root["next"].get(next) == simdjson::SUCCESS && !next.empty();
    page.dominant_category = dominant_category(root);
    dom::array items;
    if (root["itemSummaries"].get(items) != simdjson::SUCCESS) {
        return page;  // eBay may leave the array out when nothing matches
    }
    auto text = ebay_keywords(query);
    for (auto element : items) {
        dom::object item;
        std::optional<market::comp> c;
        if (element.get(item) == simdjson::SUCCESS) {
            c = read_summary(item, query, text, today);
        }
        if (c) {
            page.comps.push_back(std::move(*c));
        } else {
            ++page.dropped;
        }
    }
    return page;
}

ebay_browse_source::ebay_browse_source(std::shared_ptr<ebay_context> context,
                                       ebay_browse_options options)
    : context_(std::move(context)), options_(options) {}

std::optional<std::int64_t> ebay_browse_source::limited_until() const {
    return context_->browse_limiter.limited_until(context_->time.now_ms());
}

asio::awaitable<result<std::vector<market::comp>>> ebay_browse_source::search(
    const market::market_query& query) {
    auto context = context_;
    auto* limiter = &context->browse_limiter;
    search_record record(context->metrics, name());
    result<std::vector<market::comp>> outcome = std::vector<market::comp>{};
    auto until = limiter->limited_until(context->time.now_ms());
    if (until) {
        outcome =
            fail("source_limited",
                 "eBay Browse is over its call limit until " + iso8601_utc(*until) + ".", true);
    } else if (browse_search_target(query, 1, 0).empty()) {
        outcome = fail("source_error", "The query has no search text and no barcode.", false);
    } else {
        auto today = today_iso(context->time.now_ms());
        paged_plan plan;
        plan.scope = std::string(ebay_public_scope);
        plan.target = [&query](int limit, int offset) {
            return browse_search_target(query, limit, offset);
        };
        plan.parse = [&query, &today](std::string_view body) {
            return parse_browse_page(body, query, today);
        };
        std::string dominant;
        plan.on_page = [&dominant](const ebay_page& page) {
            if (dominant.empty()) {
                dominant = page.dominant_category;
            }
        };
        plan.page_limit = options_.page_limit;
        plan.max_pages = options_.max_pages;
        plan.wanted = query.limit;
        plan.deadline = std::chrono::steady_clock::now() + options_.timeout;
        outcome = co_await paged_search(*context, plan, *limiter);
        if (outcome) {
            learned_category(*context, query, choose_category(dominant, *outcome), name());
        }
    }
    record.finish(outcome);
    co_return outcome;
}

void learned_category(ebay_context& context, const market::market_query& query,
                      const std::string& category_id, const std::string& source) {
    if (category_id.empty()) {
        return;
    }
    auto now = context.time.now_ms();
    context.categories.put(category_memo::key(query), category_id, now, now + category_ttl_ms);
    if (query.board) {
        query.board->publish(category_id, source);
    }
}

asio::awaitable<result<std::string>> find_category(ebay_context& context,
                                                   const market::market_query& query,
                                                   steady_deadline deadline,
                                                   source_limiter& limiter) {
    if (auto known = context.categories.get(category_memo::key(query), context.time.now_ms())) {
        co_return *known;
    }
    if (auto until = limiter.limited_until(context.time.now_ms())) {
        co_return fail("source_limited",
                       "eBay Browse is over its call limit until " + iso8601_utc(*until) + ".",
                       true);
    }
    auto bare = query;
    bare.category_id.clear();
    auto target = browse_search_target(bare, category_lookup_limit, 0);
    if (target.empty()) {
        co_return fail("source_error", "The query has no search text and no barcode.", false);
    }
    auto url = context.api_url(target);
    auto scope = std::string(ebay_public_scope);
    auto res = co_await ebay_get(context, scope, url, deadline, limiter);
    if (!res) {
        co_return make_unexpected(res.error());
    }
    auto today = today_iso(context.time.now_ms());
    auto page = parse_browse_page(res->body, bare, today);
    if (!page) {
        co_return make_unexpected(page.error());
    }
    auto category = choose_category(page->dominant_category, page->comps);
    learned_category(context, query, category, "ebay_browse");
    co_return category;
}

std::unique_ptr<market::comp_source> make_ebay_browse_source(std::shared_ptr<ebay_context> context,
                                                             ebay_browse_options options) {
    if (!options.enabled) {
        return nullptr;
    }
    return std::make_unique<ebay_browse_source>(std::move(context), options);
}

}  // namespace boomer::clients
