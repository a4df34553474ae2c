// Money and text fields of eBay's JSON answers.
#include "clients/ebay_amounts.hpp"

#include "pipeline/market/same_listing.hpp"

namespace boomer::clients {

namespace dom = simdjson::dom;

std::string string_field(dom::object obj, std::string_view key) {
    std::string_view value;
    if (obj[key].get(value) == simdjson::SUCCESS) {
        return std::string(value);
    }
    return {};
}

std::optional<market::money> read_amount(dom::object obj, std::string_view key) {
    dom::object amount;
    if (obj[key].get(amount) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    auto value = string_field(amount, "value");
    auto currency = string_field(amount, "currency");
    if (value.empty() || currency.size() != 3) {
        return std::nullopt;
    }
    auto parsed = market::parse_money(value, currency);
    if (!parsed || !*parsed || (*parsed)->minor < 0 || (*parsed)->currency != currency) {
        return std::nullopt;
    }
    return **parsed;
}

std::optional<market::money> cheapest_shipping(dom::object item) {
    dom::array options;
    if (item["shippingOptions"].get(options) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    std::optional<market::money> best;
    for (auto element : options) {
        dom::object option;
        if (element.get(option) != simdjson::SUCCESS) {
            continue;
        }
        auto cost = read_amount(option, "shippingCost");
        if (cost && (!best || cost->minor < best->minor)) {
            best = cost;
        }
    }
    return best;
}

std::string leaf_category(simdjson::dom::object item) {
    simdjson::dom::array leaves;
    if (item["leafCategoryIds"].get(leaves) == simdjson::SUCCESS) {
        for (auto leaf : leaves) {
            std::string_view id;
            if (leaf.get(id) == simdjson::SUCCESS && !id.empty()) {
                return std::string(id);
            }
        }
    }
    // ItemSales and older summaries: `categories` runs from the leaf to the top.
    simdjson::dom::array categories;
    if (item["categories"].get(categories) == simdjson::SUCCESS) {
        for (auto category : categories) {
            std::string_view id;
            if (category["categoryId"].get(id) == simdjson::SUCCESS && !id.empty()) {
                return std::string(id);
            }
        }
    }
    return {};
}

std::string listing_number(simdjson::dom::object item) {
    for (auto key : {"legacyItemId", "itemId", "itemWebUrl"}) {
        if (auto number = market::ebay_item_number(string_field(item, key)); !number.empty()) {
            return number;
        }
    }
    return {};
}

}  // namespace boomer::clients
