// eBay's sold-listings search page (/sch/i.html with LH_Sold=1&LH_Complete=1) as a market
// source: sold comps read from the result cards. Two markups are understood, the current
// "s-card" cards and the older "s-item" ones; their selectors live in one table
// (sold_page_layouts). A page that shows neither (a redesign) is a "layout_changed" failure,
// never zero comps; an honest "0 results" page is zero comps; a bot check is source_limited.
// Scraping is best effort: eBay put the Sold filter behind a login wall for anonymous users in
// July 2026, so the source is off by default.
//
// Thread-safety: one source may serve concurrent searches from any threads.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clients/ebay_common.hpp"
#include "clients/https_client.hpp"
#include "pipeline/market/comp_source.hpp"

namespace boomer::clients {

// One markup generation's selectors (class names; the card is an <li>).
struct sold_page_layout {
    std::string_view name;                      // "s-card" or "s-item"
    std::string_view card;                      // class of the <li> of one result
    std::vector<std::string_view> links;        // class of the <a> to the listing, in preference
    std::vector<std::string_view> titles;       // class of the title element, in preference
    std::vector<std::string_view> title_noise;  // classes inside the title to leave out
    std::vector<std::string_view> sold_dates;   // classes holding "Sold  Jun 11, 2026"
    std::vector<std::string_view> conditions;   // class of the condition text
    std::string_view price;                     // class of the price element
    std::string_view price_hidden;           // class marking a struck price ("Best offer accepted")
    std::vector<std::string_view> shipping;  // classes of shipping text; empty: attribute rows
    std::string_view attribute_row;          // class of rows holding delivery text
};

// sold_page_layouts returns the known markups in the order they are tried (s-card, s-item).
const std::vector<sold_page_layout>& sold_page_layouts();

// What one page held.
struct sold_page {
    std::vector<market::comp> comps;
    std::string layout;     // name of the layout that matched; empty for a no-results page
    bool has_next = false;  // a pagination "next" link
    int dropped = 0;        // cards without a sold date, price or matching currency
};

// parse_sold_page reads the cards of one page into sold comps (price with shipping when the
// card quotes it, sold_on from the card's date, condition id from its condition text, url
// https://www.ebay.com/itm/<id>, source "ebay_sold_page"). "Shop on eBay" placeholders,
// price ranges, struck "best offer accepted" prices, unsold ended items and other currencies
// are dropped. `today` ("YYYY-MM-DD") dates "Sold Today"/"Yesterday". Errors:
//   layout_changed  no known card markup and no "0 results" heading, or cards in which no
//                   title and price can be found (not retryable: the parser needs an update);
//   source_limited  a bot check page (retryable).
result<sold_page> parse_sold_page(std::string_view html, const market::market_query& query,
                                  std::string_view today);

// sold_page_target builds "/sch/i.html?_nkw=...&LH_Sold=1&LH_Complete=1..." for page `page`
// (1-based). Empty when the query has no text.
std::string sold_page_target(const market::market_query& query, int items_per_page, int page);

class ebay_sold_page_source final : public market::comp_source {
public:
    // Errors: as https_client's constructor. `registry` must outlive the source.
    ebay_sold_page_source(ebay_sold_page_options options, boost::asio::any_io_executor executor,
                          metrics::registry& registry);
    ~ebay_sold_page_source() override;

    std::string name() const override { return "ebay_sold_page"; }

    // search fetches up to max_pages pages within the timeout. Failures: those of
    // parse_sold_page; source_timeout; source_limited for 429/503 or a bot check;
    // source_error for other statuses and transport failures.
    boost::asio::awaitable<result<std::vector<market::comp>>> search(
        const market::market_query& query) override;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// make_ebay_sold_page_source returns the source, or nullptr when options.enabled is false.
std::unique_ptr<market::comp_source> make_ebay_sold_page_source(
    ebay_sold_page_options options, boost::asio::any_io_executor executor,
    metrics::registry& registry);

}  // namespace boomer::clients
