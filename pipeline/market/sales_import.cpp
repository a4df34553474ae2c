// Recognising a sales export by its header and handing it to the right importer (see
// sales_import.hpp).
#include "pipeline/market/sales_import.hpp"

#include <array>
#include <utility>

#include "pipeline/market/csv.hpp"
#include "pipeline/market/import_detail.hpp"
#include "pipeline/market/text.hpp"

namespace boomer::market {

namespace {

using detail::header_columns;

constexpr std::size_t header_search_rows = 30;
constexpr std::size_t max_content_bytes = 64u << 20;

enum class kind {
    none,
    ebay_orders,
    ebay_transactions,
    ebay_listings_sales,
    etsy_items,
    etsy_orders,
    poshmark,
    mercari,
    depop,
};

bool is_ebay_orders_header(const header_columns& h) {
    bool record =
        h.find({"sales record number", "numéro de vente", "order number", "numéro de commande"})
            .has_value();
    bool title = h.find({"item title", "intitulé de l'objet", "titre de l'objet"}).has_value();
    bool price = h.find({"sold for", "sale price", "vendu pour", "prix de vente"}).has_value();
    return record && title && price;
}

// What a header row says the file is; `none` when the row is not a known header.
kind classify(const csv_record& row) {
    header_columns h(row.fields);
    auto first = row.fields.empty() ? std::string{} : normalise_name(row.fields.front());
    if (is_ebay_orders_header(h)) {
        return kind::ebay_orders;
    }
    if ((first == "transaction creation date" || first == "transaction date") && h.has("type")) {
        return kind::ebay_transactions;
    }
    if (h.has("listing title") && h.has("ebay item id")) {
        return kind::ebay_listings_sales;
    }
    if (h.has("sale date") && h.has("item name")) {
        return kind::etsy_items;
    }
    if (h.has("sale date") && h.has("order id") &&
        (h.has("buyer user id") || h.has("number of items"))) {
        return kind::etsy_orders;
    }
    if (h.has("mercari selling fee") || h.has("net seller proceeds")) {
        return kind::mercari;
    }
    if ((h.has("listing date") && h.has("order date")) ||
        (h.has("listing title") && (h.has("net earnings") || h.has("your earnings")))) {
        return kind::poshmark;
    }
    if (h.has("depop fee")) {
        return kind::depop;
    }
    return kind::none;
}

struct sniffed {
    char delimiter = ',';
    kind what = kind::none;
    std::size_t header_index = 0;
};

// Reads up to the first 30 records with `delimiter` looking for a known header. A framing
// error is returned only when it happens before any header was found.
result<sniffed> sniff_with(std::string_view content, char delimiter) {
    csv_reader reader(content, csv_options{delimiter});
    csv_record record;
    for (std::size_t index = 0; index < header_search_rows; ++index) {
        auto more = reader.next(record);
        if (!more) {
            return make_unexpected(more.error());
        }
        if (!*more) {
            break;
        }
        kind what = classify(record);
        if (what != kind::none) {
            return sniffed{delimiter, what, index};
        }
    }
    return sniffed{delimiter, kind::none, 0};
}

std::string expected_formats() {
    return "expected an eBay Orders report (Seller Hub > Orders > Download report), an eBay "
           "Transaction report, an Etsy \"Order Items\" file (EtsySoldOrderItems), a Mercari "
           "sales CSV or a Poshmark sales report";
}

unexpected<failure> refuse_unknown(std::string_view source, bool empty) {
    std::string why = empty ? " is empty; "
                            : " is not a sales export this service can read: no known header "
                              "row in its first 30 rows; ";
    return fail("sales_file_unknown", std::string(source) + why + expected_formats() + ".");
}

unexpected<failure> refuse_recognised(std::string_view source, kind what) {
    std::string s(source);
    if (what == kind::ebay_listings_sales) {
        return fail("sales_file_unsupported",
                    s + " is an eBay Listings sales report: it has one line per listing for "
                        "the whole period and no sale dates, so it cannot give comparable "
                        "sales. Download the Orders report instead (Seller Hub > Orders > All "
                        "orders > Download report).");
    }
    if (what == kind::etsy_orders) {
        return fail("sales_file_unsupported",
                    s + " is an Etsy \"Sold Orders\" file: it has one line per order without "
                        "item names or prices. Download \"Order Items\" instead (Shop Manager > "
                        "Settings > Options > Download Data).");
    }
    return fail("sales_file_unsupported",
                s + " looks like a Depop sales export, which cannot be imported yet; " +
                    expected_formats() + ".");
}

// Reads text that is already UTF-8 (see import_sales_csv).
result<sales_import> import_utf8(std::string_view content, std::string_view source_name) {
    if (trim(strip_bom(content)).empty()) {
        return refuse_unknown(source_name, true);
    }

    // Find the delimiter that yields a known header; remember a framing error seen on the way.
    std::optional<failure> framing;
    sniffed found;
    for (char delimiter : {',', ';', '\t'}) {
        auto attempt = sniff_with(content, delimiter);
        if (!attempt) {
            if (!framing) {
                framing = attempt.error();
            }
            continue;
        }
        if (attempt->what != kind::none) {
            found = *attempt;
            break;
        }
    }
    if (found.what == kind::none) {
        if (framing) {
            return fail("sales_file_malformed", std::string(source_name) + " " + framing->message);
        }
        return refuse_unknown(source_name, false);
    }
    if (found.what == kind::ebay_listings_sales || found.what == kind::etsy_orders ||
        found.what == kind::depop) {
        return refuse_recognised(source_name, found.what);
    }

    // Read the whole file with that delimiter, then import it.
    auto records = read_csv(content, csv_options{found.delimiter});
    if (!records) {
        return fail("sales_file_malformed",
                    std::string(source_name) + " " + records.error().message);
    }
    detail::table t{source_name, std::move(*records), found.header_index, found.delimiter};
    switch (found.what) {
        case kind::ebay_orders:
            return detail::import_ebay_orders(t);
        case kind::ebay_transactions:
            return detail::import_ebay_transactions(t);
        case kind::etsy_items:
            return detail::import_etsy_items(t);
        case kind::mercari:
            return detail::import_mercari(t);
        case kind::poshmark:
            return detail::import_poshmark(t);
        default:
            return refuse_unknown(source_name, false);
    }
}

}  // namespace

result<sales_import> import_sales_csv(std::string_view content, std::string_view source_name) {
    if (content.size() > max_content_bytes) {
        return fail("sales_file_unsupported", std::string(source_name) +
                                                  " is larger than 64 MiB; split the export into "
                                                  "shorter periods.");
    }
    if (content.starts_with("\xFF\xFE") || content.starts_with("\xFE\xFF")) {
        return fail("sales_file_unsupported", std::string(source_name) +
                                                  " is saved as UTF-16 text; export it again as "
                                                  "CSV (or save it as \"CSV UTF-8\") and retry.");
    }
    if (is_utf8(content)) {
        return import_utf8(content, source_name);
    }

    // Not UTF-8: most likely re-saved by a spreadsheet on Windows.
    std::string decoded = windows1252_to_utf8(content);
    auto imported = import_utf8(decoded, source_name);
    if (imported) {
        imported->warnings.insert(imported->warnings.begin(),
                                  std::string(source_name) +
                                      ": not UTF-8 text; read as Windows-1252 (check accented "
                                      "letters and currency symbols)");
    }
    return imported;
}

}  // namespace boomer::market
