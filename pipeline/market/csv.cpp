// RFC 4180 CSV reading (see csv.hpp).
#include "pipeline/market/csv.hpp"

#include <utility>

namespace boomer::market {

namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";

unexpected<failure> malformed(int line, const std::string& reason) {
    return fail("csv_malformed", "line " + std::to_string(line) + ": " + reason);
}

}  // namespace

std::string_view strip_bom(std::string_view text) {
    return text.starts_with(bom) ? text.substr(bom.size()) : text;
}

csv_reader::csv_reader(std::string_view text, csv_options options)
    : text_(strip_bom(text)), options_(options) {}

void csv_reader::consume_line_break() {
    if (text_[pos_] == '\r') {
        ++pos_;
        if (!at_end() && text_[pos_] == '\n') {
            ++pos_;
        }
    } else {
        ++pos_;
    }
    ++line_;
}

result<bool> csv_reader::read_bare(std::string& field) {
    const char stops[] = {options_.delimiter, '\r', '\n', '"', '\0'};
    std::size_t end = text_.find_first_of(std::string_view(stops, 4), pos_);
    if (end == std::string_view::npos) {
        end = text_.size();
    }
    if (end < text_.size() && text_[end] == '"') {
        return malformed(line_,
                         "a quote inside an unquoted field (fields that contain quotes must be "
                         "wrapped in quotes, with inner quotes doubled)");
    }
    field.assign(text_.substr(pos_, end - pos_));
    pos_ = end;
    return true;
}

result<bool> csv_reader::read_quoted(std::string& field) {
    const int opened_on = line_;
    ++pos_;  // the opening quote
    while (true) {
        std::size_t quote = text_.find('"', pos_);
        std::size_t stop = quote == std::string_view::npos ? text_.size() : quote;
        for (std::size_t i = pos_; i < stop; ++i) {
            bool lone_cr = text_[i] == '\r' && (i + 1 >= text_.size() || text_[i + 1] != '\n');
            if (text_[i] == '\n' || lone_cr) {
                ++line_;
            }
        }
        if (quote == std::string_view::npos) {
            return malformed(opened_on,
                             "unterminated quoted field (the quote opened here is "
                             "never closed)");
        }
        field.append(text_.substr(pos_, quote - pos_));
        pos_ = quote + 1;
        if (!at_end() && text_[pos_] == '"') {
            field += '"';
            ++pos_;
            continue;
        }
        break;
    }
    if (!at_end() && text_[pos_] != options_.delimiter && text_[pos_] != '\r' &&
        text_[pos_] != '\n') {
        return malformed(line_,
                         "unexpected text after a closing quote (a quote inside a "
                         "quoted field must be doubled)");
    }
    return true;
}

result<bool> csv_reader::next(csv_record& out) {
    out.fields.clear();
    if (at_end()) {
        return false;
    }
    out.line = line_;
    std::string field;
    while (true) {
        field.clear();
        bool quoted = !at_end() && text_[pos_] == '"';
        auto read = quoted ? read_quoted(field) : read_bare(field);
        if (!read) {
            pos_ = text_.size();
            return make_unexpected(read.error());
        }
        if (out.fields.size() >= options_.max_fields) {
            pos_ = text_.size();
            return malformed(out.line, "more than " + std::to_string(options_.max_fields) +
                                           " fields in one record");
        }
        out.fields.push_back(std::move(field));
        if (at_end()) {
            return true;
        }
        if (text_[pos_] == options_.delimiter) {
            ++pos_;
            continue;
        }
        consume_line_break();
        return true;
    }
}

result<std::vector<csv_record>> read_csv(std::string_view text, csv_options options) {
    csv_reader reader(text, options);
    std::vector<csv_record> records;
    csv_record record;
    while (true) {
        auto more = reader.next(record);
        if (!more) {
            return make_unexpected(more.error());
        }
        if (!*more) {
            return records;
        }
        records.push_back(std::move(record));
    }
}

}  // namespace boomer::market
