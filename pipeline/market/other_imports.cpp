// Importers for the exports other than the eBay Orders report: the eBay Transaction report
// (Order lines, refunded orders left out), Etsy "Sold Order Items", Mercari (Completed sales
// only) and Poshmark. Buyer columns (names, usernames, states, zip codes) are never mapped.
#include <map>
#include <unordered_set>
#include <utility>

#include "pipeline/market/import_detail.hpp"
#include "pipeline/market/text.hpp"

namespace boomer::market::detail {

namespace {

// The columns a simple one-line-per-sale export can offer.
struct basic_columns {
    column title, quantity, price, date, order, transaction, listing, sku, variation, shipping,
        currency;
};

// How the price column is meant and how dates are written.
struct basic_rules {
    std::string_view default_currency = "USD";
    bool price_is_line_total = false;  // eBay "Item subtotal" covers all units
    numeric_order date_order = numeric_order::month_first;
    // Fields a row may have beyond the header (Poshmark rows carry one unnamed column at the
    // end). Any other difference means a lost or extra separator, so the row is skipped.
    std::size_t extra_fields = 0;
};

struct basic_row {
    const csv_record* row = nullptr;
    sale s;
    amount shipping;  // as printed: per order (Etsy) or per line (eBay, Mercari)
};

// True when the row carries a title or a price: preamble, footer and padding rows do not.
bool looks_like_data(const csv_record& row, const basic_columns& c) {
    return !cell(row, c.title).empty() || !cell(row, c.price).empty();
}

// The text columns of a sale: ids, SKU and variation.
void read_ids(const csv_record& row, const basic_columns& c, sale& s) {
    s.order_id = clean_text(cell(row, c.order));
    s.transaction_id = clean_text(cell(row, c.transaction));
    s.listing_id = clean_text(cell(row, c.listing));
    s.sku = clean_text(cell(row, c.sku));
    s.variation = clean_text(cell(row, c.variation));
}

// Reads the parts every format shares; returns nullopt after a warning when the row is unusable.
std::optional<basic_row> read_basic(import_builder& out, const header_columns& h,
                                    const basic_columns& c, const basic_rules& rules,
                                    const csv_record& row) {
    if (row.fields.size() < h.size() || row.fields.size() > h.size() + rules.extra_fields) {
        out.skip(row.line, std::to_string(row.fields.size()) + " fields where the header has " +
                               std::to_string(h.size()));
        return std::nullopt;
    }
    basic_row r{&row, {}, {}};
    r.s.title = clean_text(cell(row, c.title));
    std::string currency = clean_text(cell(row, c.currency));
    if (currency.empty()) {
        currency = rules.default_currency;
    }
    auto quantity = read_quantity(row, c.quantity, h);
    auto price = read_amount(row, c.price, h, currency);
    auto date = read_date(row, c.date, h, rules.date_order);
    std::string why = r.s.title.empty() ? std::string("no item title")
                      : !quantity       ? quantity.error().message
                      : !price          ? price.error().message
                      : !price->present ? std::string("no price")
                      : !date           ? date.error().message
                                        : std::string();
    if (!why.empty()) {
        out.skip(row.line, why);
        return std::nullopt;
    }

    auto shipping = read_amount(row, c.shipping, h, currency);
    if (!shipping) {
        out.warn(row.line, shipping.error().message + "; counted as 0");
    }
    r.shipping = shipping ? *shipping : amount{};
    r.s.quantity = *quantity;
    r.s.unit_price_minor =
        rules.price_is_line_total ? per_unit(price->minor, *quantity) : price->minor;
    r.s.currency = price->currency.empty() ? currency : price->currency;
    r.s.sold_on = *date;
    read_ids(row, c, r.s);
    return r;
}

// Etsy's "Order Shipping" is per order: share the first value seen across the order's items.
void share_order_shipping(std::vector<basic_row>& rows) {
    std::map<std::string, std::vector<std::size_t>> orders;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::string key =
            rows[i].s.order_id.empty() ? "\x1f" + std::to_string(i) : rows[i].s.order_id;
        orders[key].push_back(i);
    }
    for (const auto& [key, members] : orders) {
        std::int64_t order_shipping = 0;
        std::vector<std::int64_t> weights;
        for (auto i : members) {
            if (order_shipping == 0 && rows[i].shipping.present) {
                order_shipping = rows[i].shipping.minor;
            }
            weights.push_back(rows[i].s.unit_price_minor * rows[i].s.quantity);
        }
        auto shares = share_shipping(order_shipping, weights);
        for (std::size_t k = 0; k < members.size(); ++k) {
            sale& s = rows[members[k]].s;
            s.shipping_minor = per_unit(shares[k], s.quantity);
        }
    }
}

void note_excluded(import_builder& out, int count, const std::string& what) {
    if (count > 0) {
        out.note(std::string(out.source()) + ": " + std::to_string(count) + " " + what +
                 " left out");
    }
}

}  // namespace

result<sales_import> import_etsy_items(const table& t) {
    const header_columns h(t.records[t.header_index].fields);
    basic_columns c;
    c.title = h.find({"item name"});
    c.quantity = h.find({"quantity"});
    c.price = h.find({"price", "item price"});
    c.date = h.find({"sale date"});
    c.order = h.find({"order id"});
    c.transaction = h.find({"transaction id"});
    c.listing = h.find({"listing id"});
    c.sku = h.find({"sku"});
    c.variation = h.find({"variations"});
    c.shipping = h.find({"order shipping", "order delivery"});
    c.currency = h.find({"currency"});
    if (!c.price) {
        return missing_column(t, "Price");
    }

    import_builder out(t.source, "etsy_order_items");
    std::vector<basic_row> rows;
    for (std::size_t i = t.header_index + 1; i < t.records.size(); ++i) {
        const csv_record& row = t.records[i];
        if (all_empty(row) || !looks_like_data(row, c)) {
            continue;
        }
        ++out.result().rows_read;
        if (auto r = read_basic(out, h, c, basic_rules{}, row)) {
            rows.push_back(std::move(*r));
        }
    }

    share_order_shipping(rows);
    for (auto& r : rows) {
        out.add_sale(std::move(r.s));
    }
    return out.finish();
}

result<sales_import> import_mercari(const table& t) {
    const header_columns h(t.records[t.header_index].fields);
    basic_columns c;
    c.title = h.find({"item title"});
    c.price = h.find({"item price"});
    c.date = h.find({"sold date"});
    c.listing = h.find({"item id"});
    c.shipping = h.find({"buyer shipping fee"});
    column status = h.find({"order status"});
    column completed = h.find({"completed date"});
    if (!c.price || !c.title) {
        return missing_column(t, !c.price ? "Item Price" : "Item Title");
    }

    import_builder out(t.source, "mercari");
    int not_completed = 0;
    int bundles = 0;
    for (std::size_t i = t.header_index + 1; i < t.records.size(); ++i) {
        const csv_record& row = t.records[i];
        if (all_empty(row) || !looks_like_data(row, c)) {
            continue;
        }
        ++out.result().rows_read;
        if (status && normalise_name(cell(row, status)) != "completed") {
            ++not_completed;
            continue;
        }
        if (starts_with_folded(cell(row, c.listing), "b")) {
            ++bundles;  // a bundle's price covers several items
            continue;
        }
        basic_columns row_columns = c;
        if (cell(row, c.date).empty()) {
            row_columns.date = completed;
        }
        if (auto r = read_basic(out, h, row_columns, basic_rules{}, row)) {
            r->s.order_id = r->s.listing_id;
            r->s.shipping_minor = r->shipping.minor;
            out.add_sale(std::move(r->s));
        }
    }
    out.result().excluded_other = not_completed + bundles;
    note_excluded(out, not_completed, "sale(s) not Completed (cancelled or in progress) were");
    note_excluded(out, bundles, "bundle sale(s) were");
    return out.finish();
}

result<sales_import> import_poshmark(const table& t) {
    const header_columns h(t.records[t.header_index].fields);
    basic_columns c;
    c.title = h.find({"listing title"});
    c.price = h.find({"order price"});
    c.date = h.find({"order date"});
    c.order = h.find({"order id"});
    c.sku = h.find({"sku"});
    column bundle = h.find({"bundle order?", "bundle order"});
    if (!c.price || !c.title || !c.date) {
        return missing_column(t, !c.price   ? "Order Price"
                                 : !c.title ? "Listing Title"
                                            : "Order Date");
    }

    import_builder out(t.source, "poshmark");
    basic_rules rules;
    rules.extra_fields = 1;
    int bundles = 0;
    for (std::size_t i = t.header_index + 1; i < t.records.size(); ++i) {
        const csv_record& row = t.records[i];
        if (all_empty(row) || !looks_like_data(row, c)) {
            continue;
        }
        ++out.result().rows_read;
        if (normalise_name(cell(row, bundle)) == "y") {
            ++bundles;  // one price for several items
            continue;
        }
        if (auto r = read_basic(out, h, c, rules, row)) {
            out.add_sale(std::move(r->s));
        }
    }
    out.result().excluded_other = bundles;
    note_excluded(out, bundles, "bundle sale(s) were");
    out.note(std::string(t.source) +
             ": Poshmark reports do not say what the buyer paid for shipping; prices are item "
             "prices only");
    return out.finish();
}

namespace {

basic_columns transaction_columns(const header_columns& h) {
    basic_columns c;
    c.title = h.find({"item title"});
    c.quantity = h.find({"quantity"});
    c.price = h.find({"item subtotal"});
    c.date = std::size_t{0};  // "Transaction creation date" or "Transaction date"
    c.order = h.find({"order number"});
    c.transaction = h.find({"transaction id"});
    c.listing = h.find({"item id"});
    c.sku = h.find({"custom label"});
    c.shipping = h.find({"shipping and handling"});
    c.currency = h.find({"transaction currency"});
    return c;
}

}  // namespace

result<sales_import> import_ebay_transactions(const table& t) {
    const header_columns h(t.records[t.header_index].fields);
    basic_columns c = transaction_columns(h);
    column type = h.find({"type"});
    if (!c.price || !c.title) {
        return missing_column(t, !c.price ? "Item subtotal" : "Item title");
    }

    import_builder out(t.source, "ebay_transactions");
    basic_rules rules;
    rules.price_is_line_total = true;
    std::vector<basic_row> orders;
    std::unordered_set<std::string> refunded;
    for (std::size_t i = t.header_index + 1; i < t.records.size(); ++i) {
        const csv_record& row = t.records[i];
        if (all_empty(row)) {
            continue;
        }
        ++out.result().rows_read;
        std::string kind = normalise_name(cell(row, type));
        if (kind == "refund") {
            refunded.insert(std::string(cell(row, c.order)));
        }
        if (kind != "order") {
            continue;  // payouts, fees, labels, holds...
        }
        if (auto r = read_basic(out, h, c, rules, row)) {
            r->s.shipping_minor = per_unit(r->shipping.minor, r->s.quantity);
            orders.push_back(std::move(*r));
        }
    }

    // A refunded order is a doubtful comp: leave it out.
    int dropped = 0;
    for (auto& r : orders) {
        if (!r.s.order_id.empty() && refunded.count(r.s.order_id) > 0) {
            ++dropped;
            continue;
        }
        out.add_sale(std::move(r.s));
    }
    out.result().excluded_other = dropped;
    note_excluded(out, dropped, "refunded order line(s) were");
    return out.finish();
}

}  // namespace boomer::market::detail
