// Reading eBay's JSON money and text fields (ConvertedAmount {value: "189.99", currency}) for
// the Browse and Marketplace Insights parsers. Internal to clients/.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "pipeline/market/money.hpp"

namespace boomer::clients {

// string_field returns the string member `key` of `obj`, or empty.
std::string string_field(simdjson::dom::object obj, std::string_view key);

// read_amount reads the ConvertedAmount member `key`: a decimal string `value` and a currency
// code, into minor units. nullopt when missing, negative or unreadable.
std::optional<market::money> read_amount(simdjson::dom::object obj, std::string_view key);

// cheapest_shipping returns the lowest shippingCost among the item's shippingOptions, or
// nullopt when none quotes a cost (calculated shipping without an amount).
std::optional<market::money> cheapest_shipping(simdjson::dom::object item);

// leaf_category returns the item's leaf category id: the first of leafCategoryIds, else the
// first of categories (which run from the leaf to the top), else empty.
std::string leaf_category(simdjson::dom::object item);

// listing_number returns the item's eBay item number: legacyItemId, else the number in itemId
// ("v1|<number>|<variation>"), else the one in itemWebUrl; empty when none names one.
std::string listing_number(simdjson::dom::object item);

}  // namespace boomer::clients
