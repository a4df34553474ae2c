// Shared machinery of the sales importers (internal to the market module): column lookup by
// synonyms, the capped warning list, cell parsing with row-level messages, de-duplication and
// sharing an order's shipping across its items.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/result.hpp"
#include "pipeline/market/csv.hpp"
#include "pipeline/market/dates.hpp"
#include "pipeline/market/sales_import.hpp"

namespace boomer::market::detail {

// A column index, or none when the header lacks the column.
using column = std::optional<std::size_t>;

// The header of a table, searchable by normalised name.
class header_columns {
public:
    explicit header_columns(const std::vector<std::string>& names);

    // find returns the first column whose normalised name equals one of `synonyms` (which must
    // be written normalised: lower case, single spaces).
    column find(std::initializer_list<std::string_view> synonyms) const;
    bool has(std::string_view normalised) const { return find({normalised}).has_value(); }
    std::size_t size() const { return names_.size(); }
    // The name as written in the file (for messages).
    const std::string& display(std::size_t index) const { return display_[index]; }

private:
    std::vector<std::string> names_;
    std::vector<std::string> display_;
};

// The rows of one file after its header, with the file's name for messages.
struct table {
    std::string_view source;
    std::vector<csv_record> records;  // every record of the file
    std::size_t header_index = 0;     // records[header_index] is the header
    char delimiter = ',';
};

// Collects the result's counters and warnings; warnings beyond `limit` are only counted.
class import_builder {
public:
    import_builder(std::string_view source, std::string format);

    void warn(int line, const std::string& reason);
    // skip records a row that could not be read (a warning and rows_skipped).
    void skip(int line, const std::string& reason);
    // note adds a warning that is about the whole file.
    void note(const std::string& message);
    // add_sale keeps a sale unless its ids were seen before (then counts a duplicate). Sales
    // without any id are always kept.
    void add_sale(sale s);
    sales_import& result() { return out_; }
    std::string_view source() const { return source_; }
    sales_import finish();

private:
    std::string_view source_;
    sales_import out_;
    std::unordered_set<std::string> seen_;
    int dropped_warnings_ = 0;
};

// cell returns the trimmed text of `col` in `record` ("" when absent).
std::string_view cell(const csv_record& record, column col);

// all_empty is true when every field is blank.
bool all_empty(const csv_record& record);

// A parsed amount, or the sentence explaining why the cell could not be read.
struct amount {
    std::int64_t minor = 0;
    std::string currency;
    bool present = false;
};
result<amount> read_amount(const csv_record& record, column col, const header_columns& header,
                           std::string_view default_currency);

// read_quantity: blank means 1; otherwise a positive whole number below one million.
result<int> read_quantity(const csv_record& record, column col, const header_columns& header);

// read_date returns "YYYY-MM-DD" or a sentence naming the column and value.
result<std::string> read_date(const csv_record& record, column col, const header_columns& header,
                              numeric_order order = numeric_order::month_first);

// read_date_text is read_date for a value taken from elsewhere (an order's summary row).
result<std::string> read_date_text(std::string_view text, const std::string& column_name,
                                   numeric_order order = numeric_order::month_first);

// clean_text makes a cell safe to keep: valid UTF-8, no control characters, line breaks and
// tabs turned into spaces, trimmed; "--" (eBay's "not applicable") becomes empty.
std::string clean_text(std::string_view text);

// share_shipping splits `total` across items in proportion to `weights` (line prices), returning
// each item's share; equal shares when every weight is zero. Shares add up to `total`.
std::vector<std::int64_t> share_shipping(std::int64_t total,
                                         const std::vector<std::int64_t>& weights);

// per_unit divides an item's shipping share by its quantity, rounding half away from zero.
std::int64_t per_unit(std::int64_t share, int quantity);

// The importers, one per family; each reads `t` whose header has been recognised.
result<sales_import> import_ebay_orders(const table& t);
result<sales_import> import_ebay_transactions(const table& t);
result<sales_import> import_etsy_items(const table& t);
result<sales_import> import_mercari(const table& t);
result<sales_import> import_poshmark(const table& t);

// missing_column is the "sales_file_incomplete" failure for a required column.
unexpected<failure> missing_column(const table& t, std::string_view column_name);

}  // namespace boomer::market::detail
