// Recognising one eBay listing in several sources' comps, so that a sale is counted once: the
// seller's sales export, Marketplace Insights and the sold-listings page can all report the same
// sold listing, each naming it in its own way (an item number column, "v1|<number>|<variation>"
// item ids, /itm/<number> URLs).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/market/sales_history.hpp"

namespace boomer::market {

// ebay_item_number returns the eBay item number (the legacy id, digits only) named by `text`: a
// bare number ("200000000001"), a RESTful item id ("v1|200000000001|0", any variation), or a
// listing URL ("https://www.ebay.com/itm/200000000001?hash=...", also the older
// ".../itm/<title-words>/200000000001"). Empty when `text` names none. Thread-safe.
std::string ebay_item_number(std::string_view text);

// listing_key returns the item number `c` is known by: its listing_id, else the one in its url;
// empty when it has neither. Thread-safe.
std::string listing_key(const comp& c);

// One source's comps, as it answered a search.
struct source_comps {
    std::string source;  // comp_source::name()
    std::vector<comp> comps;
};

// merge_same_listings returns the answers' comps, in order, each listing counted once when
// several sources report it (see the rule in same_listing.cpp), with seen_by naming every source
// that reported it (by comp_source::name(), its own first). Comps without an item number, and a
// listing one source alone reports, pass unchanged but for seen_by = {that source}. Sold comps
// and active listings are never merged with each other. Thread-safe.
std::vector<comp> merge_same_listings(std::vector<source_comps> answers);

}  // namespace boomer::market
