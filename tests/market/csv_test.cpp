// The RFC 4180 reader: quoting, line endings, BOM, delimiters and the errors it reports.
#include "pipeline/market/csv.hpp"

#include <catch2/catch.hpp>

using boomer::market::csv_options;
using boomer::market::csv_record;
using boomer::market::read_csv;

namespace {

std::vector<std::vector<std::string>> fields_of(const std::vector<csv_record>& records) {
    std::vector<std::vector<std::string>> out;
    for (const auto& r : records) {
        out.push_back(r.fields);
    }
    return out;
}

std::vector<int> lines_of(const std::vector<csv_record>& records) {
    std::vector<int> out;
    for (const auto& r : records) {
        out.push_back(r.line);
    }
    return out;
}

using rows = std::vector<std::vector<std::string>>;

}  // namespace

TEST_CASE("csv: quoted fields keep commas, doubled quotes and line breaks", "[market]") {
    auto r = read_csv("\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\nnext,row\n");
    REQUIRE(r);
    CHECK(fields_of(*r) == rows{{"a,b", "say \"hi\"", "two\nlines"}, {"next", "row"}});
    CHECK(lines_of(*r) == std::vector<int>{1, 3});
}

TEST_CASE("csv: bare and quoted fields mix, empty fields are kept", "[market]") {
    auto r = read_csv("\"1\",,\"x\",bare,\"\"\n,,\n");
    REQUIRE(r);
    CHECK(fields_of(*r) == rows{{"1", "", "x", "bare", ""}, {"", "", ""}});
}

TEST_CASE("csv: CRLF, LF and a lone CR all end records", "[market]") {
    auto r = read_csv("a,b\r\nc,d\ne,f\rg,h");
    REQUIRE(r);
    CHECK(fields_of(*r) == rows{{"a", "b"}, {"c", "d"}, {"e", "f"}, {"g", "h"}});
    CHECK(lines_of(*r) == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("csv: CRLF inside a quoted field is kept and counted as one line", "[market]") {
    auto r = read_csv("\"x\r\ny\",z\r\nlast,1");
    REQUIRE(r);
    CHECK(fields_of(*r) == rows{{"x\r\ny", "z"}, {"last", "1"}});
    CHECK(lines_of(*r) == std::vector<int>{1, 3});
}

TEST_CASE("csv: a missing final newline still gives the last record, a final one adds none",
          "[market]") {
    auto without = read_csv("a,b\nc,d");
    auto with = read_csv("a,b\nc,d\n");
    REQUIRE(without);
    REQUIRE(with);
    CHECK(fields_of(*without) == fields_of(*with));
    CHECK(without->size() == 2);
}

TEST_CASE("csv: a trailing delimiter makes a last empty field", "[market]") {
    auto r = read_csv("a,b,\nc,d,");
    REQUIRE(r);
    CHECK(fields_of(*r) == rows{{"a", "b", ""}, {"c", "d", ""}});
}

TEST_CASE("csv: the UTF-8 byte-order mark is stripped", "[market]") {
    auto r = read_csv("\xEF\xBB\xBF\"Sales Record Number\",x");
    REQUIRE(r);
    CHECK(r->at(0).fields.at(0) == "Sales Record Number");
}

TEST_CASE("csv: blank lines are records with one empty field", "[market]") {
    auto r = read_csv("\na\n\nb");
    REQUIRE(r);
    CHECK(fields_of(*r) == rows{{""}, {"a"}, {""}, {"b"}});
    CHECK(lines_of(*r) == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("csv: a semicolon delimiter leaves commas inside fields", "[market]") {
    auto r = read_csv("\"Vendu pour\";Date\n\"1 234,50 €\";05-oct.-26\n", csv_options{';'});
    REQUIRE(r);
    CHECK(fields_of(*r) == rows{{"Vendu pour", "Date"}, {"1 234,50 €", "05-oct.-26"}});
}

TEST_CASE("csv: an unterminated quote is refused with the line it opened on", "[market]") {
    auto r = read_csv("a,b\nc,d\n\"never closed,e\nmore\nlines");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "csv_malformed");
    CHECK(r.error().message.starts_with("line 3: unterminated quoted field"));
}

TEST_CASE("csv: a quote inside a bare field is refused with its line", "[market]") {
    auto r = read_csv("a,b\nc,d\ne,12\" ruler\n");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with("line 3: a quote inside an unquoted field"));
}

TEST_CASE("csv: text after a closing quote is refused with its line", "[market]") {
    auto r = read_csv("a\n\"two\nlines\"x,b\n");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with("line 3: unexpected text after a closing quote"));
}

TEST_CASE("csv: too many fields in one record are refused", "[market]") {
    csv_options options;
    options.max_fields = 3;
    CHECK(read_csv("a,b,c\n", options));
    auto r = read_csv("a,b,c\nd,e,f,g\n", options);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with("line 2: more than 3 fields"));
}

TEST_CASE("csv: empty input has no records", "[market]") {
    auto r = read_csv("");
    REQUIRE(r);
    CHECK(r->empty());
    auto bom_only = read_csv("\xEF\xBB\xBF");
    REQUIRE(bom_only);
    CHECK(bom_only->empty());
}
