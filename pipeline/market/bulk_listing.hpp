// eBay's bulk listing file (File Exchange "fx" header dialect): a CSV whose first column header
// is `*Action(SiteID=..|Country=..|Currency=..|Version=..|CC=UTF-8)` and whose rows add one
// fixed-price listing each. RFC 4180 quoting, CRLF line ends, UTF-8.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boomer::market {

// The seller's terms, the same on every row: handling time and returns, or the names of the
// business policies (shipping, return, payment) set up on the seller's account, which eBay
// applies in their place when given.
struct seller_terms {
    int dispatch_days = 3;  // *DispatchTimeMax: business days from payment to shipping
    bool returns_accepted = false;
    std::string shipping_profile;  // empty: none named
    std::string return_profile;
    std::string payment_profile;
};

// The marketplace every row of a file lists on, and the seller's terms.
struct bulk_site {
    std::string site_id = "US";
    std::string country = "US";
    std::string currency = "USD";
    std::string version = "1193";
    seller_terms terms;
};

struct bulk_row {
    std::string custom_label;  // the seller's SKU, else our item id
    std::string category_id;   // eBay leaf category; empty when unknown
    std::string title;         // cut to 80 characters on output
    int condition_id = 3000;
    std::vector<std::string> picture_urls;          // at most 24 are written
    std::string description;                        // plain text; written as HTML
    std::optional<std::int64_t> start_price_minor;  // site currency; empty: left blank
    int quantity = 1;
    std::string location;  // postal code or "City, ST"; empty when not configured
    // Item specifics by name ("Brand", "Model") and product codes by symbology ("UPC-A",
    // "EAN-13", "ISBN-13"); see bulk_columns for the ones written.
    std::vector<std::pair<std::string, std::string>> specifics;
};

// csv_field quotes `text` when it holds a comma, a double quote, CR or LF, or starts or ends
// with a space, doubling the quotes inside. Thread-safe.
std::string csv_field(std::string_view text);

// bulk_columns lists the header cells: the *Action cell for `site`, CustomLabel, *Category,
// *Title, *ConditionID, C:Brand, C:Model, C:UPC, C:EAN, C:ISBN, PicURL, *Description, *Format,
// *Duration, *StartPrice, *Quantity, *Location, *DispatchTimeMax, *ReturnsAcceptedOption,
// ShippingProfileName, ReturnProfileName, PaymentProfileName. Thread-safe.
std::vector<std::string> bulk_columns(const bulk_site& site);

// bulk_header_line is the header row, CRLF-terminated. Thread-safe.
std::string bulk_header_line(const bulk_site& site);

// bulk_row_line is one "Add" row matching bulk_columns, CRLF-terminated: the title through
// fit_title (≤ 80 characters), picture URLs joined with '|', the description HTML-escaped with
// line breaks as <br>, Format FixedPrice, Duration GTC, the price as a plain decimal in the
// site currency's minor digits, the seller's terms from `site` (ReturnsAccepted or
// ReturnsNotAccepted). Specifics fill their columns by name, case-insensitively
// (UPC-A/UPC-E/UPC → C:UPC; EAN-13/EAN-8/EAN → C:EAN, or C:ISBN for a 978/979 EAN-13;
// ISBN-13/ISBN → C:ISBN); the first value of a column wins and other names are not written.
// Thread-safe.
std::string bulk_row_line(const bulk_site& site, const bulk_row& row);

// description_html escapes &, <, > and " and turns each line break into "<br>". Thread-safe.
std::string description_html(std::string_view text);

}  // namespace boomer::market
