// Importing a seller's own sales history from the CSV files marketplaces let them download,
// so that past sales can serve as price comps. The format is recognised from the content (the
// file name is only used in messages). Buyer and ship-to columns are never read: nothing that
// identifies a buyer reaches the result, its warnings or its messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace boomer::market {

// One line of a sale: one item (possibly several units) in one order.
struct sale {
    std::string title;
    std::string sku;             // seller's custom label / SKU, may be empty
    std::string listing_id;      // eBay item number, Etsy listing id, Mercari item id
    std::string order_id;        // order number (eBay: falls back to the sales record number)
    std::string transaction_id;  // line-item id when the export has one
    int quantity = 1;
    std::int64_t unit_price_minor = 0;  // price of one unit, without shipping
    std::int64_t shipping_minor = 0;    // shipping the buyer paid, per unit (order share)
    std::string currency;               // ISO 4217
    std::string sold_on;                // YYYY-MM-DD, the seller's local date
    std::string variation;              // e.g. "Colour: Blue", may be empty
    std::string source;                 // the source name given to import_sales_csv
};

struct sales_import {
    // "ebay_orders_us", "ebay_orders_uk", "ebay_orders_au", "ebay_orders_legacy",
    // "ebay_orders_fr", "ebay_transactions", "etsy_order_items", "mercari" or "poshmark".
    std::string format;
    std::vector<sale> sales;
    // Rows skipped and oddities, each a sentence naming the file (and line). About 50 at most:
    // past that they are only counted, in a last warning.
    std::vector<std::string> warnings;
    int rows_read = 0;        // data rows after the header (not blank, padding, footer rows;
                              // Transaction report payouts and fees count)
    int duplicates = 0;       // rows dropped because an earlier row had the same ids
    int excluded_unpaid = 0;  // eBay rows never paid for (no Paid On Date)
    int excluded_other = 0;   // refunded, cancelled or not completed, bundles
    int rows_skipped = 0;     // rows that could not be read (each has a warning)
};

// import_sales_csv reads one sales export.
//
// Recognised and imported: the eBay Seller Hub Orders report (US 79/80/82 columns, UK, AU,
// legacy Selling Manager, French with ';'), the eBay Transaction report (Order lines), Etsy
// "Sold Order Items", Mercari sales and Poshmark sales reports. Recognised and refused with a
// pointer to the right download: the eBay Listings sales report, Etsy "Sold Orders" and Depop.
//
// Errors (failures, never exceptions):
//   "sales_file_malformed"   the CSV framing is broken; message "<source> line N: <reason>";
//   "sales_file_unknown"     no known header in the first 30 rows; the message lists what is
//                            expected;
//   "sales_file_unsupported" a recognised export that cannot serve as comps;
//   "sales_file_incomplete"  a header without a column the import needs (named).
// Rows that cannot be read (a price that is not money, a bad date) are skipped with a warning
// rather than refusing the file. `content` may be any bytes: UTF-8 (with or without BOM) is
// expected; other text is read as Windows-1252 with a warning; UTF-16 is refused
// ("sales_file_unsupported") with advice. `source_name` is used only in messages and in
// sale::source. Thread-safe.
result<sales_import> import_sales_csv(std::string_view content, std::string_view source_name);

}  // namespace boomer::market
