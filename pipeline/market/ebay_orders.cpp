// Importer for the eBay Seller Hub Orders report (US, UK, AU, legacy Selling Manager and French
// variants): padding and footer rows, multi-item orders (a summary row followed by item rows),
// unpaid rows, duplicate rows and order-level shipping shared across items.
#include <unordered_set>
#include <utility>

#include "pipeline/market/import_detail.hpp"
#include "pipeline/market/text.hpp"

namespace boomer::market::detail {

namespace {

// Only these columns are ever read; buyer and ship-to columns are not mapped at all.
struct order_columns {
    column srn, order, item, title, sku, quantity, sold_for, shipping, total, sale_date, paid_on,
        transaction, variation;
};

order_columns map_columns(const header_columns& h) {
    order_columns c;
    c.srn = h.find({"sales record number", "numéro de vente", "record number"});
    c.order = h.find({"order number", "order id", "numéro de commande"});
    c.item = h.find({"item number", "item id", "numéro de l'objet", "numéro d'objet"});
    c.title = h.find({"item title", "intitulé de l'objet", "titre de l'objet"});
    c.sku = h.find({"custom label", "custom label (sku)", "étiquette personnalisée", "sku"});
    c.quantity = h.find({"quantity", "quantité", "qty"});
    c.sold_for = h.find({"sold for", "sale price", "vendu pour", "prix de vente", "item price"});
    c.shipping = h.find({"shipping and handling", "postage and packaging", "postage and handling",
                         "shipping & handling", "livraison et manutention", "frais de port",
                         "frais de livraison"});
    c.total = h.find({"total price", "prix total", "montant total"});
    c.sale_date = h.find({"sale date", "date de vente", "order date"});
    c.paid_on = h.find({"paid on date", "paid date", "date de paiement", "payé le"});
    c.transaction = h.find({"transaction id", "numéro de transaction", "id de transaction"});
    c.variation = h.find(
        {"variation details", "détails de la variante", "détails des variantes", "variation"});
    return c;
}

struct variant {
    std::string format;
    std::string currency;  // for amounts printed without a symbol
};

variant variant_of(const header_columns& h, const csv_record& header_row, char delimiter) {
    if (delimiter == ';' || h.has("numéro de vente") || h.has("vendu pour")) {
        return {"ebay_orders_fr", "EUR"};
    }
    if (h.has("sale price") || h.has("user id") || (!h.has("item number") && h.has("item id"))) {
        return {"ebay_orders_legacy", "USD"};
    }
    bool sentence_case = false;
    for (const auto& name : header_row.fields) {
        sentence_case = sentence_case || trim(name) == "Sales record number";
    }
    if (sentence_case || h.has("postage and packaging") || h.has("post to name")) {
        return {"ebay_orders_uk", "GBP"};
    }
    if (h.has("postage and handling")) {
        return {"ebay_orders_au", "AUD"};
    }
    return {"ebay_orders_us", "USD"};
}

// Footer rows: "N","record(s) downloaded" (or "N record(s) downloaded") and "Seller ID : x".
bool is_footer(const csv_record& row, std::optional<int>& count) {
    std::string first = row.fields.empty() ? std::string{} : normalise_name(row.fields[0]);
    std::string second = row.fields.size() > 1 ? normalise_name(row.fields[1]) : std::string{};
    if (first.starts_with("seller id")) {
        return true;
    }
    bool downloaded = first.find("record(s) downloaded") != std::string::npos ||
                      second.find("record(s) downloaded") != std::string::npos;
    if (!downloaded) {
        return false;
    }
    int value = 0;
    std::size_t digits = 0;
    while (digits < first.size() && digits < 9 && first[digits] >= '0' && first[digits] <= '9') {
        value = value * 10 + (first[digits] - '0');
        ++digits;
    }
    if (digits > 0) {
        count = value;
    }
    return true;
}

// What an order summary row hands down to its item rows.
struct order_context {
    const csv_record* summary = nullptr;
    std::string paid;
    std::string sale_date;
    std::string order_id;
    amount shipping;
    amount total;
    amount sold_for;
};

// One item row read so far, before the order context is applied.
struct item_row {
    const csv_record* row = nullptr;
    sale s;
    amount own_shipping;
    amount own_total;
};

class ebay_orders_importer {
public:
    explicit ebay_orders_importer(const table& t)
        : t_(t),
          header_(t.records[t.header_index].fields),
          cols_(map_columns(header_)),
          variant_(variant_of(header_, t.records[t.header_index], t.delimiter)),
          out_(t.source, variant_.format) {}

    result<sales_import> run();

private:
    bool is_summary(const csv_record& row) const {
        return cell(row, cols_.title).empty() && cell(row, cols_.item).empty();
    }
    bool belongs(const csv_record& row, const csv_record& summary) const;
    void route(const csv_record& row);
    void flush();
    order_context read_order(const csv_record& summary);
    std::vector<item_row> read_members(const std::vector<const csv_record*>& members,
                                       const order_context& order);
    void import_single(const csv_record& row);
    std::optional<item_row> read_item(const csv_record& row);
    amount read_optional_amount(const csv_record& row, column col);
    void finish_sale(item_row& item, const std::string& date_text, std::int64_t shipping_share);
    void add_notes(std::optional<int> footer_count, int distinct_records);

    const table& t_;
    header_columns header_;
    order_columns cols_;
    variant variant_;
    import_builder out_;
    const csv_record* summary_ = nullptr;
    std::vector<const csv_record*> members_;
    int refunded_ = 0;
};

bool ebay_orders_importer::belongs(const csv_record& row, const csv_record& summary) const {
    std::string_view srn = cell(row, cols_.srn);
    std::string_view order = cell(row, cols_.order);
    if (srn.empty() && order.empty()) {
        return true;
    }
    return (!srn.empty() && srn == cell(summary, cols_.srn)) ||
           (!order.empty() && order == cell(summary, cols_.order));
}

amount ebay_orders_importer::read_optional_amount(const csv_record& row, column col) {
    auto value = read_amount(row, col, header_, variant_.currency);
    if (!value) {
        out_.warn(row.line, value.error().message + "; counted as 0");
        return amount{};
    }
    return *value;
}

std::optional<item_row> ebay_orders_importer::read_item(const csv_record& row) {
    item_row item{&row, {}, {}, {}};
    item.s.title = clean_text(cell(row, cols_.title));
    if (item.s.title.empty()) {
        out_.skip(row.line, "no Item Title");
        return std::nullopt;
    }
    auto quantity = read_quantity(row, cols_.quantity, header_);
    auto price = read_amount(row, cols_.sold_for, header_, variant_.currency);
    if (!quantity || !price || !price->present) {
        std::string why = !quantity ? quantity.error().message
                          : !price  ? price.error().message
                                   : "column \"" + header_.display(*cols_.sold_for) + "\" is empty";
        out_.skip(row.line, why);
        return std::nullopt;
    }
    item.s.quantity = *quantity;
    item.s.unit_price_minor = price->minor;
    item.s.currency = price->currency;
    item.s.sku = clean_text(cell(row, cols_.sku));
    item.s.listing_id = clean_text(cell(row, cols_.item));
    item.s.transaction_id = clean_text(cell(row, cols_.transaction));
    item.s.variation = clean_text(cell(row, cols_.variation));
    item.s.order_id = clean_text(cell(row, cols_.order));
    if (item.s.order_id.empty()) {
        item.s.order_id = clean_text(cell(row, cols_.srn));
    }
    item.own_shipping = read_optional_amount(row, cols_.shipping);
    item.own_total = read_optional_amount(row, cols_.total);
    return item;
}

void ebay_orders_importer::finish_sale(item_row& item, const std::string& date_text,
                                       std::int64_t shipping_share) {
    auto date = read_date_text(date_text, header_.display(*cols_.sale_date));
    if (!date) {
        out_.skip(item.row->line, date.error().message);
        return;
    }
    item.s.sold_on = *date;
    item.s.shipping_minor = per_unit(shipping_share, item.s.quantity);
    out_.add_sale(std::move(item.s));
}

void ebay_orders_importer::import_single(const csv_record& row) {
    if (cols_.paid_on && cell(row, cols_.paid_on).empty()) {
        ++out_.result().excluded_unpaid;
        return;
    }
    auto item = read_item(row);
    if (!item) {
        return;
    }
    if (item->own_total.present && item->own_total.minor == 0 && item->s.unit_price_minor > 0) {
        ++refunded_;
        return;
    }
    finish_sale(*item, std::string(cell(row, cols_.sale_date)), item->own_shipping.minor);
}

order_context ebay_orders_importer::read_order(const csv_record& summary) {
    order_context order;
    order.summary = &summary;
    order.paid = std::string(cell(summary, cols_.paid_on));
    order.sale_date = std::string(cell(summary, cols_.sale_date));
    order.order_id = clean_text(cell(summary, cols_.order));
    if (order.order_id.empty()) {
        order.order_id = clean_text(cell(summary, cols_.srn));
    }
    order.shipping = read_optional_amount(summary, cols_.shipping);
    order.total = read_optional_amount(summary, cols_.total);
    order.sold_for = read_optional_amount(summary, cols_.sold_for);
    return order;
}

// Reads an order's item rows, leaving out unpaid ones (no Paid On Date on item or summary).
std::vector<item_row> ebay_orders_importer::read_members(
    const std::vector<const csv_record*>& members, const order_context& order) {
    std::vector<item_row> items;
    for (const csv_record* row : members) {
        if (cols_.paid_on && order.paid.empty() && cell(*row, cols_.paid_on).empty()) {
            ++out_.result().excluded_unpaid;
            continue;
        }
        if (auto item = read_item(*row)) {
            if (cell(*row, cols_.order).empty() && !order.order_id.empty()) {
                item->s.order_id = order.order_id;
            }
            items.push_back(std::move(*item));
        }
    }
    return items;
}

// Imports the open multi-item order: its summary row and the item rows that followed it.
void ebay_orders_importer::flush() {
    if (summary_ == nullptr) {
        return;
    }
    const csv_record& summary = *summary_;
    std::vector<const csv_record*> members = std::move(members_);
    summary_ = nullptr;
    members_.clear();
    if (members.empty()) {
        out_.skip(summary.line, "an order summary row (no Item Title) without item rows");
        return;
    }
    order_context order = read_order(summary);
    std::vector<item_row> items = read_members(members, order);
    if (order.total.present && order.total.minor == 0 && order.sold_for.minor > 0) {
        refunded_ += static_cast<int>(items.size());
        return;
    }

    // The order's shipping is shared by line price; without it each item keeps its own.
    std::vector<std::int64_t> weights;
    for (const auto& item : items) {
        weights.push_back(item.s.unit_price_minor * item.s.quantity);
    }
    auto shares = share_shipping(order.shipping.minor, weights);
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::string date = order.sale_date.empty()
                               ? std::string(cell(*items[i].row, cols_.sale_date))
                               : order.sale_date;
        std::int64_t shipping = order.shipping.present ? shares[i] : items[i].own_shipping.minor;
        finish_sale(items[i], date, shipping);
    }
}

void ebay_orders_importer::add_notes(std::optional<int> footer_count, int distinct_records) {
    sales_import& r = out_.result();
    r.excluded_other = refunded_;
    if (!cols_.paid_on) {
        out_.note(std::string(t_.source) +
                  ": no Paid On Date column, so every row is counted as paid");
    }
    if (r.excluded_unpaid > 0) {
        out_.note(std::string(t_.source) + ": " + std::to_string(r.excluded_unpaid) +
                  " row(s) never paid for (no Paid On Date) were left out");
    }
    if (refunded_ > 0) {
        out_.note(std::string(t_.source) + ": " + std::to_string(refunded_) +
                  " row(s) with a Total Price of 0 (refunded or cancelled) were left out");
    }
    if (footer_count && *footer_count != r.rows_read && *footer_count != distinct_records) {
        out_.note(std::string(t_.source) + ": the footer says " + std::to_string(*footer_count) +
                  " records but " + std::to_string(r.rows_read) +
                  " rows were read; the file may be incomplete");
    }
}

// Sends a data row to the open order, or closes the order and starts the next one.
void ebay_orders_importer::route(const csv_record& row) {
    // A row of another width has lost or gained a separator: its columns cannot be trusted
    // (a shifted buyer column could land under Item Title).
    if (row.fields.size() != header_.size()) {
        out_.skip(row.line, std::to_string(row.fields.size()) + " fields where the header has " +
                                std::to_string(header_.size()));
        return;
    }
    bool summary = is_summary(row);
    if (summary_ != nullptr && belongs(row, *summary_)) {
        if (!summary) {
            members_.push_back(&row);
            return;
        }
        if (members_.empty()) {
            ++out_.result().duplicates;  // the same summary row twice in a row
            return;
        }
    }
    flush();
    if (summary) {
        summary_ = &row;
    } else {
        import_single(row);
    }
}

result<sales_import> ebay_orders_importer::run() {
    if (!cols_.sale_date) {
        return missing_column(t_, "Sale Date");
    }
    std::optional<int> footer_count;
    std::unordered_set<std::string> record_keys;
    for (std::size_t i = t_.header_index + 1; i < t_.records.size(); ++i) {
        const csv_record& row = t_.records[i];
        if (all_empty(row) || is_footer(row, footer_count)) {
            continue;
        }
        ++out_.result().rows_read;
        std::string_view key =
            cell(row, cols_.srn).empty() ? cell(row, cols_.order) : cell(row, cols_.srn);
        if (!key.empty()) {
            record_keys.insert(std::string(key));
        }
        route(row);
    }
    flush();
    add_notes(footer_count, static_cast<int>(record_keys.size()));
    return out_.finish();
}

}  // namespace

result<sales_import> import_ebay_orders(const table& t) {
    ebay_orders_importer importer(t);
    return importer.run();
}

}  // namespace boomer::market::detail
