// The sold-listings page: selectors, card reading, layout detection, and the source that
// fetches pages.
#include "clients/ebay_sold_page.hpp"

#include <algorithm>

#include "clients/ebay_api.hpp"
#include "clients/ebay_html.hpp"
#include "pipeline/market/condition.hpp"
#include "pipeline/market/dates.hpp"
#include "pipeline/market/money.hpp"
#include "pipeline/market/same_listing.hpp"
#include "pipeline/market/text.hpp"

namespace boomer::clients {
namespace {

namespace asio = boost::asio;
using node_id = html_doc::node_id;

// The first element under `from` with any of `classes` (in preference order).
node_id first_of(const html_doc& doc, node_id from, const std::vector<std::string_view>& classes) {
    for (auto cls : classes) {
        if (auto n = doc.find_first(from, "", cls); n != html_doc::npos) {
            return n;
        }
    }
    return html_doc::npos;
}

// "https://www.ebay.com/itm/287379458210?_skw=..." → ".../itm/287379458210" and the id.
std::pair<std::string, std::string> listing_of(std::string_view href) {
    auto at = href.find("/itm/");
    if (at == std::string_view::npos) {
        return {std::string(href), {}};
    }
    auto end = at + 5;
    while (end < href.size() && href[end] >= '0' && href[end] <= '9') {
        ++end;
    }
    return {std::string(href.substr(0, end)), std::string(href.substr(at + 5, end - at - 5))};
}

// Reads "Sold  Jun 11, 2026" / "Sold Today"; nullopt for unsold or unreadable dates.
std::optional<std::string> sold_date(std::string_view text, std::string_view today) {
    auto t = market::trim(text);
    if (!market::starts_with_folded(t, "sold")) {
        return std::nullopt;
    }
    auto rest = market::trim(t.substr(4));
    auto days = market::days_from_iso(today);
    if (market::starts_with_folded(rest, "today") && days) {
        return std::string(today);
    }
    if (market::starts_with_folded(rest, "yesterday") && days) {
        return market::to_iso(market::civil_from_days(*days - 1));
    }
    return market::parse_date_iso(rest);
}

// Reads "+$12.50 delivery", "Free shipping"; nullopt when no amount is given.
std::optional<market::money> shipping_of(std::string_view text, std::string_view currency) {
    if (market::contains_folded(text, "free")) {
        return market::money{0, std::string(currency)};
    }
    auto plus = text.find('+');
    if (plus == std::string_view::npos) {
        return std::nullopt;
    }
    auto amount = text.substr(plus + 1);
    amount = amount.substr(0, amount.find(' '));
    auto parsed = market::parse_money(amount, currency);
    if (!parsed || !*parsed) {
        return std::nullopt;
    }
    return **parsed;
}

std::optional<market::money> card_shipping(const html_doc& doc, node_id card,
                                           const sold_page_layout& layout,
                                           std::string_view currency) {
    if (!layout.shipping.empty()) {
        auto n = first_of(doc, card, layout.shipping);
        return n == html_doc::npos ? std::nullopt : shipping_of(doc.text(n), currency);
    }
    for (auto row : doc.find_all(card, "", layout.attribute_row)) {
        auto text = doc.text(row);
        if (market::contains_folded(text, "delivery") ||
            market::contains_folded(text, "shipping")) {
            return shipping_of(text, currency);
        }
    }
    return std::nullopt;
}

std::string condition_id_of(std::string_view text) {
    auto first = text.substr(0, text.find("\xC2\xB7"));  // "Pre-Owned · Brand" → "Pre-Owned "
    auto match = market::map_condition(first);
    return match.recognised ? std::to_string(match.condition.id) : std::string();
}

// What reading one card gave.
enum class card_verdict { comp, dropped, placeholder, unmatched };

card_verdict read_card(const html_doc& doc, node_id card, const sold_page_layout& layout,
                       const market::market_query& query, std::string_view today,
                       market::comp& out) {
    auto title_node = first_of(doc, card, layout.titles);
    auto price_node = doc.find_first(card, "", layout.price);
    if (title_node == html_doc::npos || price_node == html_doc::npos) {
        return card_verdict::unmatched;
    }
    out.title = doc.text(title_node, layout.title_noise);
    if (out.title == "Shop on eBay") {
        return card_verdict::placeholder;
    }
    auto price_text = doc.text(price_node);
    bool hidden = doc.has_class(price_node, layout.price_hidden) ||
                  doc.find_first(price_node, "", layout.price_hidden) != html_doc::npos;
    auto price = market::parse_money(price_text, query.currency);
    auto date_node = first_of(doc, card, layout.sold_dates);
    auto sold_on =
        date_node == html_doc::npos ? std::nullopt : sold_date(doc.text(date_node), today);
    if (hidden || price_text.find(" to ") != std::string::npos || !price || !*price ||
        (*price)->currency != query.currency || !sold_on) {
        return card_verdict::dropped;
    }
    auto shipping = card_shipping(doc, card, layout, query.currency);
    if (shipping && shipping->currency != query.currency) {
        return card_verdict::dropped;
    }
    auto link = first_of(doc, card, layout.links);
    auto [url, id] = listing_of(link == html_doc::npos ? "" : doc.attr(link, "href"));
    auto condition = first_of(doc, card, layout.conditions);
    out.item_price_minor = (*price)->minor;
    out.shipping_minor = shipping ? shipping->minor : 0;
    out.price_minor = out.item_price_minor + out.shipping_minor;
    out.currency = query.currency;
    out.sold_on = *sold_on;
    out.source = "ebay_sold_page";
    out.sold = true;
    out.url = url;
    out.listing_id = id.empty() ? market::ebay_item_number(doc.attr(card, "data-listingid")) : id;
    out.condition_id = condition == html_doc::npos ? "" : condition_id_of(doc.text(condition));
    return card_verdict::comp;
}

// A page without result cards: an honest "0 results" page, a bot check, or a new layout.
result<sold_page> cardless_page(const html_doc& doc) {
    auto title = doc.find_first(html_doc::root, "title", "");
    auto title_text = title == html_doc::npos ? std::string() : doc.text(title);
    if (market::contains_folded(title_text, "pardon our interruption") ||
        market::contains_folded(title_text, "checking your browser")) {
        return fail("source_limited", "eBay answered the sold search with a bot check.", true);
    }
    auto heading = doc.find_first(html_doc::root, "", "srp-controls__count-heading");
    auto text = heading == html_doc::npos ? std::string() : doc.text(heading);
    bool zero =
        !text.empty() && text[0] == '0' && (text.size() == 1 || text[1] < '0' || text[1] > '9');
    if (zero || doc.find_first(html_doc::root, "", "srp-save-null-search") != html_doc::npos) {
        return sold_page{};
    }
    return fail("layout_changed",
                "eBay's sold-listings page no longer has a result layout this version can read; "
                "the sold-page source needs an update.",
                false);
}

}  // namespace

const std::vector<sold_page_layout>& sold_page_layouts() {
    static const std::vector<sold_page_layout> layouts = {
        {"s-card",
         "s-card",
         {"s-card__link", "su-link"},
         {"s-card__title"},
         {"clipped", "s-card__new-listing"},
         {"s-card__caption"},
         {"s-card__subtitle"},
         "s-card__price",
         "strikethrough",
         {},
         "s-card__attribute-row"},
        {"s-item",
         "s-item",
         {"s-item__link"},
         {"s-item__title"},
         {"LIGHT_HIGHLIGHT", "clipped"},
         {"s-item__caption--signal", "s-item__ended-date", "s-item__endedDate",
          "s-item__title--tagblock"},
         {"SECONDARY_INFO"},
         "s-item__price",
         "STRIKETHROUGH",
         {"s-item__shipping", "s-item__logisticsCost", "s-item__paidDeliveryInfo"},
         ""},
    };
    return layouts;
}

result<sold_page> parse_sold_page(std::string_view html, const market::market_query& query,
                                  std::string_view today) {
    auto doc = html_doc::parse(html);
    // The intermittent "search-evo" su-item-card markup (ebay.co.uk, from July 2026) is not one
    // of these layouts: its sold date has no known selector, so such a page is reported as
    // layout_changed rather than read half-way.
    for (const auto& layout : sold_page_layouts()) {
        auto cards = doc.find_all(html_doc::root, "li", layout.card);
        if (cards.empty()) {
            continue;
        }
        sold_page page;
        page.layout = std::string(layout.name);
        bool matched = false;
        auto text = ebay_keywords(query);
        for (auto card : cards) {
            market::comp c;
            auto verdict = read_card(doc, card, layout, query, today, c);
            matched = matched || verdict != card_verdict::unmatched;
            if (verdict == card_verdict::comp) {
                c.match = "title";
                c.score = title_score(text, c.title);
                page.comps.push_back(std::move(c));
            } else if (verdict == card_verdict::dropped) {
                ++page.dropped;
            }
        }
        if (!matched) {
            return fail("layout_changed",
                        "eBay's sold-listings cards (" + page.layout +
                            ") no longer hold a title and price where this version looks.",
                        false);
        }
        auto next = doc.find_first(html_doc::root, "a", "pagination__next");
        page.has_next = next != html_doc::npos && !doc.attr(next, "href").empty() &&
                        doc.attr(next, "aria-disabled") != "true";
        return page;
    }
    return cardless_page(doc);
}

std::string sold_page_target(const market::market_query& query, int items_per_page, int page) {
    auto text = ebay_keywords(query);
    if (text.empty()) {
        return {};
    }
    std::string words;
    for (char c : text) {
        words += c == ' ' ? std::string("+") : url_encode(std::string_view(&c, 1));
    }
    std::string target = "/sch/i.html?_nkw=" + words;
    target +=
        "&_sacat=" + (query.category_id.empty() ? std::string("0") : url_encode(query.category_id));
    target += "&LH_Sold=1&LH_Complete=1";
    if (auto ids = ebay_condition_ids(query.condition); !ids.empty()) {
        target += "&LH_ItemCondition=" + url_encode(ids);
    }
    target += "&_ipg=" + std::to_string(items_per_page) + "&_pgn=" + std::to_string(page);
    return target;
}

struct ebay_sold_page_source::impl {
    ebay_sold_page_options options;
    https_client http;
    market_source_metrics metrics;
    const clock& time;
    std::string base;

    impl(ebay_sold_page_options o, asio::any_io_executor executor, metrics::registry& registry)
        : options(std::move(o)),
          http(std::move(executor), options.http),
          metrics(registry),
          time(options.time != nullptr ? *options.time : system_clock::instance()),
          base(options.base_url) {
        while (!base.empty() && base.back() == '/') {
            base.pop_back();
        }
    }

    asio::awaitable<result<sold_page>> fetch(const market::market_query& query, int page,
                                             steady_deadline deadline);
    asio::awaitable<result<std::vector<market::comp>>> pages(const market::market_query& query);
};

asio::awaitable<result<sold_page>> ebay_sold_page_source::impl::fetch(
    const market::market_query& query, int page, steady_deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
        co_return fail("source_timeout", "eBay's sold page did not load within the budget.", true);
    }
    http_call call;
    call.method = "GET";
    call.url = base + sold_page_target(query, options.items_per_page, page);
    call.timeout = left;
    call.headers = {{"Accept", "text/html"}, {"Accept-Language", "en-US,en;q=0.8"}};
    auto res = co_await http.send(call);
    if (!res) {
        bool late = res.error().code == "timeout";
        co_return fail(late ? "source_timeout" : "source_error",
                       "eBay's sold page could not be loaded: " + res.error().message, true);
    }
    if (res->status == 429 || res->status == 503) {
        co_return fail(
            "source_limited",
            "eBay is throttling sold-page requests (HTTP " + std::to_string(res->status) + ").",
            true);
    }
    if (res->status != 200) {
        co_return fail("source_error",
                       "eBay's sold page answered HTTP " + std::to_string(res->status) + ".",
                       res->status >= 500);
    }
    auto today = today_iso(time.now_ms());
    co_return parse_sold_page(res->body, query, today);
}

asio::awaitable<result<std::vector<market::comp>>> ebay_sold_page_source::impl::pages(
    const market::market_query& query) {
    if (sold_page_target(query, 1, 1).empty()) {
        co_return fail("source_error", "The query has no search text for the sold page.", false);
    }
    auto deadline = std::chrono::steady_clock::now() + options.timeout;
    std::vector<market::comp> comps;
    for (int page = 1; page <= options.max_pages; ++page) {
        auto got = co_await fetch(query, page, deadline);
        if (!got) {
            if (comps.empty() || got.error().code == "layout_changed") {
                co_return make_unexpected(got.error());
            }
            break;
        }
        for (auto& c : got->comps) {
            comps.push_back(std::move(c));
        }
        if (!got->has_next || static_cast<int>(comps.size()) >= query.limit) {
            break;
        }
    }
    if (static_cast<int>(comps.size()) > query.limit) {
        comps.resize(static_cast<std::size_t>(std::max(query.limit, 0)));
    }
    co_return comps;
}

ebay_sold_page_source::ebay_sold_page_source(ebay_sold_page_options options,
                                             asio::any_io_executor executor,
                                             metrics::registry& registry)
    : impl_(std::make_shared<impl>(std::move(options), std::move(executor), registry)) {}

ebay_sold_page_source::~ebay_sold_page_source() = default;

asio::awaitable<result<std::vector<market::comp>>> ebay_sold_page_source::search(
    const market::market_query& query) {
    auto self = impl_;
    search_record record(self->metrics, name());
    auto outcome = co_await self->pages(query);
    record.finish(outcome);
    co_return outcome;
}

std::unique_ptr<market::comp_source> make_ebay_sold_page_source(ebay_sold_page_options options,
                                                                asio::any_io_executor executor,
                                                                metrics::registry& registry) {
    if (!options.enabled) {
        return nullptr;
    }
    return std::make_unique<ebay_sold_page_source>(std::move(options), std::move(executor),
                                                   registry);
}

}  // namespace boomer::clients
