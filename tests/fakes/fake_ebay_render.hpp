// The fake eBay's bodies: eBay's error envelope, RFC 6749 token errors, Browse and Marketplace
// Insights result pages, the `filter` parameter, and the sold-results HTML page in each markup.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fakes/fake_ebay.hpp"

namespace boomer::fakes {

// One documented eBay error: status, id, domain, category, message, long message.
struct ebay_error_spec {
    unsigned status;
    int id;
    std::string_view domain;
    std::string_view category;
    std::string_view message;
    std::string_view long_message;
};

// ebay_error_by_id returns the documented error `id` (1001..1100, 2001..2004, 12001..12515,
// 100021), or a 500/2003 for an unknown id.
ebay_error_spec ebay_error_by_id(int id);

// ebay_error_body is {"errors":[{errorId, domain, category, message, longMessage}]}.
std::string ebay_error_body(const ebay_error_spec& e);

// oauth_error_body is {"error": ..., "error_description": ...}.
std::string oauth_error_body(std::string_view error, std::string_view description);

// The `filter` parameter as the fake applies it.
struct search_filter {
    std::vector<std::string> condition_ids;  // conditionIds:{a|b}
    std::optional<double> low;               // price:[low..high]
    std::optional<double> high;
    std::string price_currency;  // priceCurrency:USD
    bool has_price = false;
};

// parse_filter reads comma-separated field:value pairs (commas inside {} or [] belong to the
// value). Unknown fields are ignored.
search_filter parse_filter(std::string_view text);

// matches says whether `listing` passes the filter (price filter only with a currency).
bool matches(const fake_listing& listing, const search_filter& filter);

// The `fieldgroups` parameter as the fake applies it.
struct field_groups {
    bool items = true;        // MATCHING_ITEMS, EXTENDED or FULL, or no fieldgroups at all
    bool categories = false;  // CATEGORY_REFINEMENTS or FULL
    std::string invalid;      // the first unknown value (warning 12016), empty when none
};

// parse_fieldgroups reads a comma-separated fieldgroups value. Refinement groups alone leave the
// items out, as eBay does; an unknown value is reported and otherwise ignored.
field_groups parse_fieldgroups(std::string_view text);

// A page of a search answer.
struct result_page {
    std::vector<fake_listing> items;
    std::size_t total = 0;
    int limit = 50;
    int offset = 0;
    std::string href_query;         // query string echoed in href and next
    bool price_warning = false;     // add warning 12012
    field_groups groups;            // Browse: what to answer with
    std::vector<fake_listing> all;  // Browse: every match, for the category refinement
};

// browse_body / insights_body are the JSON answers (money as strings, next only when more).
std::string browse_body(const result_page& page);
std::string insights_body(const result_page& page);

// sold_page_html renders a sold-results page for `q` with `items` in `markup`; `total` goes in
// the count heading, `has_next` adds a pagination link.
std::string sold_page_html(sold_markup markup, std::string_view q,
                           const std::vector<fake_listing>& items, std::size_t total,
                           bool has_next);

}  // namespace boomer::fakes
