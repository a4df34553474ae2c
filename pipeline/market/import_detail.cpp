// Shared machinery of the sales importers (see import_detail.hpp).
#include "pipeline/market/import_detail.hpp"

#include <charconv>
#include <cmath>
#include <utility>

#include "pipeline/market/money.hpp"
#include "pipeline/market/text.hpp"

namespace boomer::market::detail {

namespace {

constexpr std::size_t max_warnings = 50;

std::string quoted_value(std::string_view value) {
    std::string clean = utf8_clean(value);
    if (utf8_length(clean) > 40) {
        std::size_t cut = 0;
        for (std::size_t chars = 0; chars < 40 && cut < clean.size(); ++chars) {
            std::size_t n = utf8_sequence_length(clean, cut);
            cut += n == 0 ? 1 : n;
        }
        clean = clean.substr(0, cut) + "...";
    }
    return "\"" + clean + "\"";
}

std::string column_label(const header_columns& header, column col) {
    return col ? "column \"" + header.display(*col) + "\"" : std::string("a column");
}

}  // namespace

header_columns::header_columns(const std::vector<std::string>& names) {
    for (const auto& name : names) {
        names_.push_back(normalise_name(name));
        display_.push_back(utf8_clean(trim(name)));
    }
}

column header_columns::find(std::initializer_list<std::string_view> synonyms) const {
    for (std::size_t i = 0; i < names_.size(); ++i) {
        for (auto synonym : synonyms) {
            if (names_[i] == synonym) {
                return i;
            }
        }
    }
    return std::nullopt;
}

import_builder::import_builder(std::string_view source, std::string format) : source_(source) {
    out_.format = std::move(format);
}

void import_builder::note(const std::string& message) {
    if (out_.warnings.size() < max_warnings) {
        out_.warnings.push_back(message);
    } else {
        ++dropped_warnings_;
    }
}

void import_builder::warn(int line, const std::string& reason) {
    note(std::string(source_) + " line " + std::to_string(line) + ": " + reason);
}

void import_builder::skip(int line, const std::string& reason) {
    ++out_.rows_skipped;
    warn(line, reason + "; row skipped");
}

void import_builder::add_sale(sale s) {
    if (!s.order_id.empty() || !s.transaction_id.empty() || !s.listing_id.empty()) {
        std::string key = s.order_id + '\x1f' + s.transaction_id + '\x1f' + s.listing_id;
        if (!seen_.insert(std::move(key)).second) {
            ++out_.duplicates;
            return;
        }
    }
    s.source = std::string(source_);
    out_.sales.push_back(std::move(s));
}

sales_import import_builder::finish() {
    if (dropped_warnings_ > 0) {
        out_.warnings.push_back("... and " + std::to_string(dropped_warnings_) +
                                " more warnings for " + std::string(source_));
    }
    return std::move(out_);
}

std::string_view cell(const csv_record& record, column col) {
    if (!col || *col >= record.fields.size()) {
        return {};
    }
    return trim(record.fields[*col]);
}

bool all_empty(const csv_record& record) {
    for (const auto& field : record.fields) {
        if (!trim(field).empty()) {
            return false;
        }
    }
    return true;
}

result<amount> read_amount(const csv_record& record, column col, const header_columns& header,
                           std::string_view default_currency) {
    std::string_view text = cell(record, col);
    auto parsed = parse_money(text, default_currency);
    if (!parsed) {
        return fail("bad_cell", column_label(header, col) + ": " + quoted_value(text) +
                                    " is not an amount of money");
    }
    if (!*parsed) {
        return amount{};
    }
    return amount{(*parsed)->minor, (*parsed)->currency, true};
}

result<int> read_quantity(const csv_record& record, column col, const header_columns& header) {
    std::string_view text = cell(record, col);
    if (text.empty() || text == "--") {
        return 1;
    }
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value <= 0 || value >= 1'000'000) {
        return fail("bad_cell",
                    column_label(header, col) + ": " + quoted_value(text) + " is not a quantity");
    }
    return value;
}

result<std::string> read_date(const csv_record& record, column col, const header_columns& header,
                              numeric_order order) {
    std::string name = col ? header.display(*col) : std::string("date");
    return read_date_text(cell(record, col), name, order);
}

result<std::string> read_date_text(std::string_view text, const std::string& column_name,
                                   numeric_order order) {
    auto iso = parse_date_iso(trim(text), order);
    if (!iso) {
        return fail("bad_cell", "column \"" + column_name + "\": " + quoted_value(trim(text)) +
                                    " is not a date");
    }
    return *iso;
}

std::string clean_text(std::string_view text) {
    if (trim(text) == "--") {
        return {};  // "not applicable" in eBay reports
    }
    std::string clean = utf8_clean(text);
    for (char& c : clean) {
        if (c == '\n' || c == '\t') {
            c = ' ';
        }
    }
    return std::string(trim(clean));
}

std::vector<std::int64_t> share_shipping(std::int64_t total,
                                         const std::vector<std::int64_t>& weights) {
    std::vector<std::int64_t> shares(weights.size(), 0);
    if (weights.empty()) {
        return shares;
    }
    // Long double keeps the products exact enough and cannot overflow for any parsed amount.
    long double sum = 0;
    for (auto w : weights) {
        sum += static_cast<long double>(w > 0 ? w : 0);
    }
    std::int64_t given = 0;
    for (std::size_t i = 0; i + 1 < weights.size(); ++i) {
        long double w = sum > 0 ? static_cast<long double>(weights[i] > 0 ? weights[i] : 0) : 1;
        long double s = sum > 0 ? sum : static_cast<long double>(weights.size());
        // Rounded to the nearest minor unit; the last item takes the remainder.
        shares[i] = std::llround(static_cast<long double>(total) * w / s);
        given += shares[i];
    }
    shares.back() = total - given;
    return shares;
}

std::int64_t per_unit(std::int64_t share, int quantity) {
    if (quantity <= 1) {
        return share;
    }
    std::int64_t q = quantity;
    return share >= 0 ? (share * 2 + q) / (2 * q) : -((-share * 2 + q) / (2 * q));
}

unexpected<failure> missing_column(const table& t, std::string_view column_name) {
    return fail("sales_file_incomplete", std::string(t.source) + " line " +
                                             std::to_string(t.records[t.header_index].line) +
                                             ": the header has no \"" + std::string(column_name) +
                                             "\" column, which the import needs");
}

}  // namespace boomer::market::detail
