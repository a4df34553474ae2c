// Writing eBay's bulk listing file (see bulk_listing.hpp).
#include "pipeline/market/bulk_listing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

#include "pipeline/market/listing.hpp"
#include "pipeline/market/money.hpp"

namespace boomer::market {
namespace {

constexpr std::size_t max_pictures = 24;

// The item-specific columns, in header order.
constexpr std::array<std::string_view, 5> specific_columns = {"C:Brand", "C:Model", "C:UPC",
                                                              "C:EAN", "C:ISBN"};

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// The column a specific goes to, or empty when it is not written.
std::string_view column_for(std::string_view name, std::string_view value) {
    auto n = lower(name);
    if (n == "brand") {
        return "C:Brand";
    }
    if (n == "model") {
        return "C:Model";
    }
    if (n == "upc-a" || n == "upc-e" || n == "upc") {
        return "C:UPC";
    }
    if (n == "isbn-13" || n == "isbn") {
        return "C:ISBN";
    }
    if (n == "ean-13" || n == "ean-8" || n == "ean") {
        bool bookland =
            value.size() == 13 && (value.starts_with("978") || value.starts_with("979"));
        return bookland ? "C:ISBN" : "C:EAN";
    }
    return {};
}

std::string decimal(std::int64_t minor, std::string_view currency) {
    int digits = currency_minor_digits(currency);
    if (digits == 0) {
        return std::to_string(minor);
    }
    std::int64_t scale = 1;
    for (int i = 0; i < digits; ++i) {
        scale *= 10;
    }
    auto whole = std::llabs(minor) / scale;
    auto frac = std::llabs(minor) % scale;
    return fmt::format("{}{}.{:0{}}", minor < 0 ? "-" : "", whole, frac, digits);
}

std::string join(const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        out += csv_field(cells[i]);
    }
    out += "\r\n";
    return out;
}

}  // namespace

std::string csv_field(std::string_view text) {
    bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos ||
                 (!text.empty() && (text.front() == ' ' || text.back() == ' '));
    if (!quote) {
        return std::string(text);
    }
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') {
            out += '"';
        }
        out += c;
    }
    out += '"';
    return out;
}

std::vector<std::string> bulk_columns(const bulk_site& site) {
    std::vector<std::string> cols{
        fmt::format("*Action(SiteID={}|Country={}|Currency={}|Version={}|CC=UTF-8)", site.site_id,
                    site.country, site.currency, site.version),
        "CustomLabel", "*Category", "*Title", "*ConditionID"};
    for (auto c : specific_columns) {
        cols.emplace_back(c);
    }
    for (const char* c : {"PicURL", "*Description", "*Format", "*Duration", "*StartPrice",
                          "*Quantity", "*Location", "*DispatchTimeMax", "*ReturnsAcceptedOption",
                          "ShippingProfileName", "ReturnProfileName", "PaymentProfileName"}) {
        cols.emplace_back(c);
    }
    return cols;
}

std::string bulk_header_line(const bulk_site& site) {
    return join(bulk_columns(site));
}

std::string description_html(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '&') {
            out += "&amp;";
        } else if (c == '<') {
            out += "&lt;";
        } else if (c == '>') {
            out += "&gt;";
        } else if (c == '"') {
            out += "&quot;";
        } else if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
            out += "<br>";
        } else {
            out += c;
        }
    }
    return out;
}

std::string bulk_row_line(const bulk_site& site, const bulk_row& row) {
    std::array<std::string, specific_columns.size()> specifics;
    for (const auto& [name, value] : row.specifics) {
        auto column = column_for(name, value);
        auto at = std::find(specific_columns.begin(), specific_columns.end(), column);
        if (!column.empty() && at != specific_columns.end()) {
            auto& cell = specifics[static_cast<std::size_t>(at - specific_columns.begin())];
            if (cell.empty()) {
                cell = value;
            }
        }
    }
    std::string pictures;
    for (std::size_t i = 0; i < row.picture_urls.size() && i < max_pictures; ++i) {
        pictures += (i > 0 ? "|" : "") + row.picture_urls[i];
    }

    std::vector<std::string> cells{"Add", row.custom_label, row.category_id, fit_title(row.title),
                                   std::to_string(row.condition_id)};
    cells.insert(cells.end(), specifics.begin(), specifics.end());
    cells.insert(cells.end(),
                 {pictures, description_html(row.description), "FixedPrice", "GTC",
                  row.start_price_minor ? decimal(*row.start_price_minor, site.currency) : "",
                  std::to_string(row.quantity), row.location});
    const auto& terms = site.terms;
    cells.insert(cells.end(),
                 {std::to_string(terms.dispatch_days),
                  terms.returns_accepted ? "ReturnsAccepted" : "ReturnsNotAccepted",
                  terms.shipping_profile, terms.return_profile, terms.payment_profile});
    return join(cells);
}

}  // namespace boomer::market
