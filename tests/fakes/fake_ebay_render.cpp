// The fake eBay's answer bodies and its reading of the `filter` parameter.
#include "tests/fakes/fake_ebay_render.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

namespace boomer::fakes {
namespace {

namespace json = boost::json;

// The errors the reference documents. Browse ids and meanings are from the Browse OpenAPI
// contract; where only a meaning is documented, the message restates it. Marketplace Insights'
// domain name is not documented; API_MARKETPLACE_INSIGHTS is our assumption.
constexpr ebay_error_spec known_errors[] = {
    {401, 1001, "OAuth", "REQUEST", "Invalid access token",
     "Invalid access token. Check the value of the Authorization HTTP request header."},
    {400, 1002, "OAuth", "REQUEST", "Missing access token",
     "Access token is missing in the Authorization HTTP request header."},
    {400, 1003, "OAuth", "REQUEST", "Token type in the Authorization header is invalid:",
     "Token type in the Authorization header is invalid:"},
    {500, 1004, "OAuth", "REQUEST", "Internal error", "Error process the access token."},
    {403, 1100, "OAuth", "REQUEST", "Access denied",
     "Insufficient permissions to fulfill the request."},
    {429, 2001, "ACCESS", "REQUEST", "Too many requests.",
     "The request limit has been reached for the resource."},
    {500, 2003, "ACCESS", "APPLICATION", "Internal error", "Internal error"},
    {400, 2004, "ACCESS", "REQUEST", "Invalid request", "Invalid request"},
    {400, 12001, "API_BROWSE", "REQUEST", "Invalid query",
     "Need a valid 'q', 'category_ids', 'epid' or 'gtin' in the request."},
    {400, 12004, "API_BROWSE", "REQUEST", "Invalid offset",
     "The 'offset' value cannot be negative."},
    {400, 12005, "API_BROWSE", "REQUEST", "Invalid offset",
     "The 'offset' value must be an integer."},
    {400, 12006, "API_BROWSE", "REQUEST", "Invalid limit",
     "The 'limit' value must be between 1 and 200."},
    {400, 12007, "API_BROWSE", "REQUEST", "Invalid limit", "The 'limit' value must be an integer."},
    {400, 12029, "API_BROWSE", "REQUEST", "Invalid offset",
     "The 'offset' value must be less than 10,000."},
    {400, 12515, "API_BROWSE", "REQUEST", "Invalid offset",
     "The 'offset' value must be either zero or a multiple of the 'limit' value."},
    {200, 12012, "API_BROWSE", "REQUEST", "Price filter ignored",
     "The 'price' filter needs 'priceCurrency'; the price filter was ignored."},
    {200, 12016, "API_BROWSE", "REQUEST", "Invalid fieldgroups",
     "The 'fieldgroups' value is invalid. For the valid values, refer to the API call reference "
     "documentation."},
    {400, 100021, "API_MARKETPLACE_INSIGHTS", "REQUEST", "Invalid offset",
     "The 'offset' value must be less than 10,000."},
};

std::string html_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

json::object amount(const std::string& value, const std::string& currency) {
    return {{"value", value}, {"currency", currency}};
}

json::object error_object(const ebay_error_spec& e) {
    return {{"errorId", e.id},
            {"domain", e.domain},
            {"category", e.category},
            {"message", e.message},
            {"longMessage", e.long_message}};
}

// Fields Browse and Insights summaries share.
json::object common_item(const fake_listing& l) {
    json::object item{
        {"itemId", "v1|" + l.item_id + "|0"},
        {"legacyItemId", l.item_id},
        {"title", l.title},
        {"condition", l.condition},
        {"conditionId", l.condition_id},
        {"buyingOptions", json::array{"FIXED_PRICE"}},
        {"itemWebUrl", "https://www.ebay.com/itm/" + l.item_id},
        {"image", {{"imageUrl", "https://i.ebayimg.com/images/g/" + l.item_id + "/s-l225.jpg"}}},
        {"itemLocation", {{"postalCode", "112**"}, {"country", "US"}}},
        {"seller",
         {{"username", "seller" + l.item_id.substr(0, 3)},
          {"feedbackPercentage", "99.8"},
          {"feedbackScore", 1234}}}};
    if (!l.category_id.empty()) {
        item["leafCategoryIds"] = json::array{l.category_id};
        item["categories"] = json::array{
            json::object{{"categoryId", l.category_id}, {"categoryName", l.category_name}}};
    }
    return item;
}

json::object paging(const result_page& page, std::string_view path) {
    std::string base = "https://api.ebay.com" + std::string(path) + "?" + page.href_query;
    json::object out{{"href", base + "&limit=" + std::to_string(page.limit) +
                                  "&offset=" + std::to_string(page.offset)},
                     {"total", page.total},
                     {"limit", page.limit},
                     {"offset", page.offset}};
    auto next = static_cast<std::size_t>(page.offset + page.limit);
    if (next < page.total && next < 10'000) {
        out["next"] =
            base + "&limit=" + std::to_string(page.limit) + "&offset=" + std::to_string(next);
    }
    if (page.offset > 0) {
        out["prev"] = base + "&limit=" + std::to_string(page.limit) +
                      "&offset=" + std::to_string(std::max(page.offset - page.limit, 0));
    }
    return out;
}

std::string display_price(const std::string& value, const std::string& currency) {
    if (currency == "USD") {
        return "$" + value;
    }
    if (currency == "GBP") {
        return "\xC2\xA3" + value;
    }
    return currency + " " + value;
}

// "2026-06-11" → "Jun 11, 2026", as the US site prints sale dates.
std::string display_date(const std::string& iso) {
    static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int year = 0;
    int month = 0;
    int day = 0;
    if (std::sscanf(iso.c_str(), "%4d-%2d-%2d", &year, &month, &day) != 3 || month < 1 ||
        month > 12) {
        return iso;
    }
    return std::string(months[month - 1]) + " " + std::to_string(day) + ", " + std::to_string(year);
}

// The website's condition wording for the API's condition ids.
std::string display_condition(const fake_listing& l) {
    if (l.condition_id == "1000") {
        return "Brand New";
    }
    if (l.condition_id == "1500") {
        return "Open Box";
    }
    if (l.condition_id == "3000") {
        return "Pre-Owned";
    }
    return l.condition;
}

std::string shipping_text(const fake_listing& l, std::string_view word) {
    if (!l.shipping) {
        return "Shipping not specified";
    }
    if (*l.shipping == "0.00") {
        return "Free " + std::string(word);
    }
    return "+" + display_price(*l.shipping, l.currency) + " " + std::string(word);
}

std::string heading(std::size_t total, std::string_view q) {
    return "<h1 class=\"srp-controls__count-heading\"><span class=\"BOLD\">" +
           std::to_string(total) + "</span> results for " + html_escape(q) + "</h1>\n";
}

std::string s_card(const fake_listing& l, bool unquoted) {
    std::string id = l.item_id;
    std::string href = "https://www.ebay.com/itm/" + id + "?_skw=x&amp;hash=item" + id;
    std::string out =
        unquoted ? "<li class=\"s-card s-card--horizontal\" data-listingid=" + id + ">"
                 : "<li class=\"s-card s-card--horizontal\" data-listingid=\"" + id + "\">";
    out +=
        "<div class=\"su-card-container su-card-container--horizontal\">"
        "<div class=\"su-card-container__media\"><img class=\"s-card__image\" "
        "src=\"https://i.ebayimg.com/images/g/" +
        id +
        "/s-l500.webp\"></div>"
        "<div class=\"su-card-container__content\"><div class=\"su-card-container__header\">"
        "<div class=\"s-card__caption\"><span class=\"su-styled-text positive default\" "
        "aria-label=\"Sold Item\">Sold  " +
        display_date(l.sold_date) + "</span></div>";
    out += unquoted ? "<a class=s-card__link href=" + href + ">"
                    : "<a class=\"s-card__link\" href=\"" + href + "\">";
    out +=
        "<div role=heading aria-level=3 class=s-card__title><span class=\"su-styled-text "
        "primary default\">" +
        html_escape(l.title) +
        "</span><span class=clipped>Opens in a "
        "new window or tab</span></div></a><div class=\"s-card__subtitle-row\"><div "
        "class=\"s-card__subtitle\"><span class=\"su-styled-text secondary default\">" +
        display_condition(l) +
        "</span></div></div></div>"
        "<div class=\"su-card-container__attributes\"><div "
        "class=\"su-card-container__attributes__primary\"><div class=\"s-card__attribute-row\">"
        "<span class=\"su-styled-text positive bold large-1 s-card__price\">" +
        display_price(l.price, l.currency) +
        "</span></div><div "
        "class=\"s-card__attribute-row\"><span class=\"su-styled-text secondary large\">" +
        shipping_text(l, "delivery") +
        "</span></div><div class=\"s-card__attribute-row\">"
        "<span class=\"su-styled-text secondary large\">Located in United States</span></div>"
        "</div><div class=\"su-card-container__attributes__secondary\"><div "
        "class=\"s-card__attribute-row\"><span class=\"su-styled-text primary large\">seller "
        "</span><span class=\"su-styled-text primary large\">99.7% positive (2.3K)</span></div>"
        "<div class=\"s-card__attribute-row\"><span class=\"su-styled-text secondary large\">"
        "Item: " +
        id + "</span></div></div></div></div></div></li>\n";
    return out;
}

std::string s_item(const fake_listing& l) {
    std::string id = l.item_id;
    return "<li class=\"s-item s-item__pl-on-bottom\" id=\"item" + id +
           "\"><div class=\"s-item__wrapper clearfix\"><div class=\"s-item__image-section\">"
           "<img class=\"s-item__image-img\" src=\"https://i.ebayimg.com/thumbs/images/g/" +
           id +
           "/s-l225.jpg\"></div><div class=\"s-item__info clearfix\"><div "
           "class=\"s-item__caption\"><span class=\"s-item__caption--signal POSITIVE\"><span>Sold "
           " " +
           display_date(l.sold_date) +
           "</span></span></div><a class=\"s-item__link\" "
           "href=\"https://www.ebay.com/itm/" +
           id + "?hash=item" + id +
           ":g:AbCd\"><div "
           "class=\"s-item__title\"><span role=\"heading\" aria-level=\"3\"><span "
           "class=\"LIGHT_HIGHLIGHT\">New Listing</span>" +
           html_escape(l.title) +
           "</span></div></a><div class=\"s-item__subtitle\"><span class=\"SECONDARY_INFO\">" +
           display_condition(l) +
           "</span></div><div class=\"s-item__details clearfix\"><div "
           "class=\"s-item__detail s-item__detail--primary\"><span class=\"s-item__price\"><span "
           "class=\"POSITIVE\">" +
           display_price(l.price, l.currency) +
           "</span></span></div><div "
           "class=\"s-item__detail s-item__detail--primary\"><span class=\"s-item__shipping "
           "s-item__logisticsCost\">" +
           shipping_text(l, "shipping") +
           "</span></div></div></div>"
           "</div></li>\n";
}

std::string search_evo(const fake_listing& l) {
    return "<div class=\"su-item-card s-item-card--search-evo\"><a href=\"https://www.ebay.com/"
           "itm/" +
           l.item_id + "\"><span class=\"su-item-card__title\">" + html_escape(l.title) +
           "</span></a><span class=\"su-item-card__price\">" + display_price(l.price, l.currency) +
           "</span></div>\n";
}

fake_listing placeholder() {
    fake_listing p;
    p.item_id = "123456";
    p.title = "Shop on eBay";
    p.price = "20.00";
    p.sold_date = "2026-01-01";
    return p;
}

}  // namespace

ebay_error_spec ebay_error_by_id(int id) {
    for (const auto& e : known_errors) {
        if (e.id == id) {
            return e;
        }
    }
    return known_errors[6];  // 2003 internal error
}

std::string ebay_error_body(const ebay_error_spec& e) {
    return json::serialize(json::object{{"errors", json::array{error_object(e)}}});
}

std::string oauth_error_body(std::string_view error, std::string_view description) {
    return json::serialize(json::object{{"error", error}, {"error_description", description}});
}

search_filter parse_filter(std::string_view text) {
    search_filter f;
    std::vector<std::string> parts{""};
    int depth = 0;
    for (char c : text) {
        depth += (c == '{' || c == '[') ? 1 : (c == '}' || c == ']') ? -1 : 0;
        if (c == ',' && depth == 0) {
            parts.emplace_back();
        } else {
            parts.back() += c;
        }
    }
    for (const auto& p : parts) {
        auto colon = p.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        auto field = p.substr(0, colon);
        auto value = p.substr(colon + 1);
        if (field == "conditionIds" && value.size() >= 2) {
            std::string id;
            for (char c : value.substr(1, value.size() - 2) + "|") {
                if (c == '|') {
                    f.condition_ids.push_back(id);
                    id.clear();
                } else {
                    id += c;
                }
            }
        } else if (field == "price" && value.size() >= 2) {
            f.has_price = true;
            auto inner = value.substr(1, value.size() - 2);
            auto dots = inner.find("..");
            auto low = inner.substr(0, dots);
            auto high = dots == std::string::npos ? std::string() : inner.substr(dots + 2);
            if (!low.empty()) {
                f.low = std::strtod(low.c_str(), nullptr);
            }
            if (!high.empty()) {
                f.high = std::strtod(high.c_str(), nullptr);
            }
        } else if (field == "priceCurrency") {
            f.price_currency = value;
        }
    }
    return f;
}

bool matches(const fake_listing& l, const search_filter& f) {
    if (!f.condition_ids.empty() && std::find(f.condition_ids.begin(), f.condition_ids.end(),
                                              l.condition_id) == f.condition_ids.end()) {
        return false;
    }
    if (f.has_price && !f.price_currency.empty()) {
        double price = std::strtod(l.price.c_str(), nullptr);
        if (l.currency != f.price_currency || (f.low && price < *f.low) ||
            (f.high && price > *f.high)) {
            return false;
        }
    }
    return true;
}

field_groups parse_fieldgroups(std::string_view text) {
    field_groups out;
    if (text.empty()) {
        return out;
    }
    out.items = false;
    bool any_valid = false;
    while (!text.empty()) {
        auto comma = text.find(',');
        auto value = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (value == "MATCHING_ITEMS" || value == "EXTENDED") {
            out.items = true;
        } else if (value == "FULL") {
            out.items = true;
            out.categories = true;
        } else if (value == "CATEGORY_REFINEMENTS") {
            out.categories = true;
        } else if (value == "ASPECT_REFINEMENTS" || value == "BUYING_OPTION_REFINEMENTS" ||
                   value == "CONDITION_REFINEMENTS") {
            // Refinements the fake does not render: valid, and they leave the items out.
        } else {
            if (out.invalid.empty()) {
                out.invalid = std::string(value);
            }
            continue;
        }
        any_valid = true;
    }
    if (!any_valid) {
        out.items = true;  // nothing usable was asked for: the default group
    }
    return out;
}

namespace {

// refinement.categoryDistributions and dominantCategoryId over every match.
json::object category_refinement(const result_page& page) {
    std::vector<std::pair<const fake_listing*, int>> counts;
    for (const auto& l : page.all) {
        if (l.category_id.empty()) {
            continue;
        }
        auto found = std::find_if(counts.begin(), counts.end(), [&l](const auto& c) {
            return c.first->category_id == l.category_id;
        });
        if (found == counts.end()) {
            counts.emplace_back(&l, 1);
        } else {
            ++found->second;
        }
    }
    std::stable_sort(counts.begin(), counts.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    json::array distributions;
    for (const auto& [l, n] : counts) {
        distributions.push_back(json::object{
            {"categoryId", l->category_id},
            {"categoryName", l->category_name},
            {"matchCount", n},
            {"refinementHref", "https://api.ebay.com/buy/browse/v1/item_summary/search?" +
                                   page.href_query + "&category_ids=" + l->category_id}});
    }
    json::object out{{"categoryDistributions", std::move(distributions)}};
    if (!counts.empty()) {
        out["dominantCategoryId"] = counts.front().first->category_id;
    }
    return out;
}

}  // namespace

std::string browse_body(const result_page& page) {
    auto out = paging(page, "/buy/browse/v1/item_summary/search");
    if (page.groups.items && !page.items.empty()) {
        json::array items;
        for (const auto& l : page.items) {
            auto item = common_item(l);
            item["price"] = amount(l.price, l.currency);
            if (l.shipping) {
                item["shippingOptions"] =
                    json::array{json::object{{"shippingCostType", "FIXED"},
                                             {"shippingCost", amount(*l.shipping, l.currency)}}};
            } else {
                item["shippingOptions"] =
                    json::array{json::object{{"shippingCostType", "CALCULATED"}}};
            }
            item["listingMarketplaceId"] = "EBAY_US";
            items.push_back(std::move(item));
        }
        out["itemSummaries"] = std::move(items);
    }
    if (page.groups.categories) {
        out["refinement"] = category_refinement(page);
    }
    json::array warnings;
    if (page.price_warning) {
        warnings.push_back(error_object(ebay_error_by_id(12012)));
    }
    if (!page.groups.invalid.empty()) {
        auto warning = error_object(ebay_error_by_id(12016));
        warning["parameters"] =
            json::array{json::object{{"name", "fieldgroups"}, {"value", page.groups.invalid}}};
        warnings.push_back(std::move(warning));
    }
    if (!warnings.empty()) {
        out["warnings"] = std::move(warnings);
    }
    return json::serialize(out);
}

std::string insights_body(const result_page& page) {
    auto out = paging(page, "/buy/marketplace_insights/v1_beta/item_sales/search");
    json::array items;
    for (const auto& l : page.items) {
        auto item = common_item(l);
        item["lastSoldDate"] = l.sold_date + "T10:00:00.000Z";
        item["lastSoldPrice"] = amount(l.price, l.currency);
        item["totalSoldQuantity"] = 1;
        items.push_back(std::move(item));
    }
    out["itemSales"] = std::move(items);
    return json::serialize(out);
}

std::string sold_page_html(sold_markup markup, std::string_view q,
                           const std::vector<fake_listing>& items, std::size_t total,
                           bool has_next) {
    if (markup == sold_markup::challenge) {
        return "<!DOCTYPE html><html><head><title>Pardon Our Interruption...</title></head><body>"
               "<p>Checking your browser before you access eBay.</p></body></html>";
    }
    std::string out = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
                      html_escape(q) +
                      " | eBay</title><script>var x = '<li class=\"s-item\">';"
                      "</script></head><body><main class=\"srp-river-main clearfix\">\n" +
                      heading(total, q);
    if (!items.empty() && markup == sold_markup::changed) {
        out += "<div class=\"srp-river-results\">\n";
        for (const auto& l : items) {
            out += search_evo(l);
        }
        out += "</div>\n";
    } else if (!items.empty()) {
        out += "<ul class=\"srp-results srp-list clearfix\">\n";
        out += markup == sold_markup::s_card ? s_card(placeholder(), false) : s_item(placeholder());
        for (std::size_t i = 0; i < items.size(); ++i) {
            out += markup == sold_markup::s_card ? s_card(items[i], i % 2 == 1) : s_item(items[i]);
        }
        out += "</ul>\n";
    }
    if (has_next) {
        out +=
            "<nav class=\"pagination\"><a class=\"pagination__next icon-link\" "
            "href=\"https://www.ebay.com/sch/i.html?_pgn=next\">Next</a></nav>\n";
    }
    return out + "</main></body></html>\n";
}

}  // namespace boomer::fakes
