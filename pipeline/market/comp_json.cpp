#include "pipeline/market/comp_json.hpp"

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

namespace boomer::market {
namespace {

namespace json = boost::json;

// A string field, or `fallback` when absent.
std::string text_or(const json::object& o, std::string_view key, std::string fallback) {
    const auto* v = o.if_contains(key);
    return v != nullptr ? std::string(v->as_string()) : std::move(fallback);
}

}  // namespace

json::object comp_to_json(const comp& c) {
    json::array seen_by;
    for (const auto& source : c.seen_by) {
        seen_by.emplace_back(source);
    }
    return {{"title", c.title},
            {"price_minor", c.price_minor},
            {"item_price_minor", c.item_price_minor},
            {"shipping_minor", c.shipping_minor},
            {"currency", c.currency},
            {"sold_on", c.sold_on},
            {"match", c.match},
            {"score", c.score},
            {"source", c.source},
            {"sold", c.sold},
            {"condition_id", c.condition_id},
            {"url", c.url},
            {"category_id", c.category_id},
            {"listing_id", c.listing_id},
            {"seen_by", std::move(seen_by)}};
}

std::optional<comp> comp_from_json(const json::value& v) {
    try {
        const auto& o = v.as_object();
        comp c;
        c.title = std::string(o.at("title").as_string());
        c.price_minor = o.at("price_minor").to_number<std::int64_t>();
        c.item_price_minor = o.at("item_price_minor").to_number<std::int64_t>();
        c.shipping_minor = o.at("shipping_minor").to_number<std::int64_t>();
        c.currency = std::string(o.at("currency").as_string());
        c.sold_on = std::string(o.at("sold_on").as_string());
        c.match = std::string(o.at("match").as_string());
        c.score = o.at("score").to_number<double>();
        c.source = std::string(o.at("source").as_string());
        const auto* sold = o.if_contains("sold");
        c.sold = sold == nullptr || sold->as_bool();
        c.condition_id = text_or(o, "condition_id", "");
        c.url = text_or(o, "url", "");
        c.category_id = text_or(o, "category_id", "");
        c.listing_id = text_or(o, "listing_id", "");
        if (const auto* seen_by = o.if_contains("seen_by"); seen_by != nullptr) {
            for (const auto& source : seen_by->as_array()) {
                c.seen_by.emplace_back(source.as_string());
            }
        }
        return c;
    } catch (const std::exception&) {
        return std::nullopt;  // written by another version, or not a comp
    }
}

}  // namespace boomer::market
