// Item condition: the seller's free text ("like new", "for parts", "NIB") mapped to eBay's
// generic condition ids and names, and the coarse groups used to compare a query with past sales.
#pragma once

#include <string_view>

namespace boomer::market {

// eBay condition ids (Trading/Inventory API "ConditionID") with their generic names.
struct ebay_condition {
    int id = 3000;
    std::string_view name = "Used";
};

inline constexpr ebay_condition condition_new{1000, "New"};
inline constexpr ebay_condition condition_new_other{1500, "New other (see details)"};
inline constexpr ebay_condition condition_new_with_defects{1750, "New with defects"};
inline constexpr ebay_condition condition_certified_refurbished{2000, "Certified - Refurbished"};
inline constexpr ebay_condition condition_seller_refurbished{2500, "Seller refurbished"};
inline constexpr ebay_condition condition_like_new{2750, "Like New"};
inline constexpr ebay_condition condition_used{3000, "Used"};
inline constexpr ebay_condition condition_very_good{4000, "Very Good"};
inline constexpr ebay_condition condition_good{5000, "Good"};
inline constexpr ebay_condition condition_acceptable{6000, "Acceptable"};
inline constexpr ebay_condition condition_for_parts{7000, "For parts or not working"};

// The result of reading a condition text: the eBay condition and whether the text was
// understood (false: the text was empty or unknown and `condition` is the Used default).
struct condition_match {
    ebay_condition condition;
    bool recognised = false;
};

// map_condition reads English condition text, case-insensitively, as a whole phrase first
// ("new other", "open box", "nwot", "like new", "very good", "spares or repair") and then by
// the strongest marker it contains, in this order: parts/not working/broken/repair,
// refurbished, like new/mint, new with defects, new other/open box/without tags, new/sealed,
// very good, good, acceptable/fair, used/pre-owned. Unknown or empty text gives Used (3000)
// with recognised = false: Used never promises more than the seller said. Thread-safe.
condition_match map_condition(std::string_view text);

// Coarse groups for comparing conditions; `unknown` when nothing can be said.
enum class condition_group { unknown, new_item, used, parts };

// group_of: 1000..1750 new_item, 2000..6000 used (refurbished counts as used), 7000 parts.
condition_group group_of(const ebay_condition& condition);

// condition_group_of_title reads only strong markers in a listing title: "for parts", "not
// working", "spares or repair", "broken", "faulty" → parts; "sealed", "NIB", "NWT", "BNIB",
// "brand new", "new in box", "new with tags" → new_item; otherwise unknown. Thread-safe.
condition_group condition_group_of_title(std::string_view title);

}  // namespace boomer::market
