// An RFC 4180 CSV reader for marketplace exports: quoted fields with embedded delimiters,
// doubled quotes and line breaks, bare fields next to quoted ones, CRLF or LF (or a lone CR),
// a missing final newline, a leading UTF-8 byte-order mark, and a configurable delimiter.
// Every record carries the line it starts on so that errors can point the user at it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace boomer::market {

struct csv_options {
    char delimiter = ',';
    // A record with more fields than this is refused (protects memory against hostile input).
    std::size_t max_fields = 4096;
};

struct csv_record {
    std::vector<std::string> fields;
    int line = 0;  // 1-based line on which the record starts
};

// Reads records one at a time from a text that must outlive the reader.
//
// A blank line is a record with one empty field. Quoted fields keep their content verbatim
// (including CRLF inside them). Framing errors are failures with code "csv_malformed" and a
// message that starts with "line N: " followed by the reason: an unterminated quoted field, a
// quote inside a bare field, text after a closing quote, or too many fields. After an error the
// reader stays at the end. Not thread-safe; use one reader per thread.
class csv_reader {
public:
    explicit csv_reader(std::string_view text, csv_options options = {});

    // next reads the following record into `out`. Returns true when a record was read, false
    // at the end of the input, or the framing failure.
    result<bool> next(csv_record& out);

private:
    bool at_end() const { return pos_ >= text_.size(); }
    void consume_line_break();
    result<bool> read_quoted(std::string& field);
    result<bool> read_bare(std::string& field);

    std::string_view text_;
    csv_options options_;
    std::size_t pos_ = 0;
    int line_ = 1;
};

// read_csv reads every record of `text` (see csv_reader). Thread-safe.
result<std::vector<csv_record>> read_csv(std::string_view text, csv_options options = {});

// strip_bom returns `text` without a leading UTF-8 byte-order mark.
std::string_view strip_bom(std::string_view text);

}  // namespace boomer::market
