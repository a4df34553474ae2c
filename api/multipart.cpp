// multipart/form-data: header parameters, boundaries and the part-by-part walk through a body.
#include "api/multipart.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

namespace boomer::api {
namespace {

constexpr std::size_t max_boundary_length = 70;

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// A header value split as `value; name=param; ...`, names lower-cased, quoted-strings unquoted.
struct header_value {
    std::string_view value;
    std::vector<std::pair<std::string, std::string>> params;

    const std::string* param(std::string_view name) const {
        for (const auto& [key, text] : params) {
            if (key == name) {
                return &text;
            }
        }
        return nullptr;
    }
};

// Reads a quoted-string at the start of `rest` (which starts with '"'); advances past it.
std::optional<std::string> read_quoted(std::string_view& rest) {
    std::string out;
    for (std::size_t i = 1; i < rest.size(); ++i) {
        char c = rest[i];
        if (c == '"') {
            rest.remove_prefix(i + 1);
            return out;
        }
        if (c == '\\') {
            if (++i == rest.size()) {
                break;
            }
            c = rest[i];
        }
        out += c;
    }
    return std::nullopt;
}

// Reads one `name=value` parameter from the start of `rest`; advances to the next ';' or end.
std::optional<std::pair<std::string, std::string>> read_param(std::string_view& rest) {
    std::size_t eq = rest.find('=');
    if (eq == std::string_view::npos || !is_token(trim(rest.substr(0, eq)))) {
        return std::nullopt;
    }
    std::string name(trim(rest.substr(0, eq)));
    std::transform(name.begin(), name.end(), name.begin(), lower);
    rest = trim(rest.substr(eq + 1));

    std::string value;
    if (!rest.empty() && rest.front() == '"') {
        auto quoted = read_quoted(rest);
        if (!quoted) {
            return std::nullopt;
        }
        value = std::move(*quoted);
        rest = trim(rest);
        if (!rest.empty() && rest.front() != ';') {
            return std::nullopt;
        }
    } else {
        std::size_t semi = rest.find(';');
        value = std::string(trim(rest.substr(0, semi)));
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi);
        if (value.empty()) {
            return std::nullopt;
        }
    }
    return std::make_pair(std::move(name), std::move(value));
}

std::optional<header_value> parse_header_value(std::string_view text) {
    header_value out;
    std::size_t semi = text.find(';');
    out.value = trim(text.substr(0, semi));
    std::string_view rest = semi == std::string_view::npos ? std::string_view{} : text.substr(semi);
    while (!(rest = trim(rest)).empty()) {
        if (rest.front() == ';') {
            rest.remove_prefix(1);
            continue;
        }
        auto param = read_param(rest);
        if (!param || out.param(param->first) != nullptr) {
            return std::nullopt;
        }
        out.params.push_back(std::move(*param));
    }
    return out;
}

// RFC 2046 bchars: 1 to 70 of DIGIT ALPHA '()+_,-./:=? and space, not ending with a space.
bool is_valid_boundary(std::string_view b) {
    if (b.empty() || b.size() > max_boundary_length || b.back() == ' ') {
        return false;
    }
    return std::all_of(b.begin(), b.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
    });
}

result<std::string> boundary_of(std::string_view content_type_header) {
    auto header = parse_header_value(content_type_header);
    if (!header) {
        return fail("invalid_content_type",
                    "The Content-Type header could not be parsed; send "
                    "'multipart/form-data; boundary=...'.");
    }
    if (!iequals(header->value, "multipart/form-data")) {
        return fail("not_multipart", "The request body must be multipart/form-data.");
    }
    const std::string* boundary = header->param("boundary");
    if (boundary == nullptr) {
        return fail("missing_boundary",
                    "The Content-Type header has no boundary parameter; multipart/form-data "
                    "needs one.");
    }
    if (!is_valid_boundary(*boundary)) {
        return fail("invalid_boundary",
                    "The multipart boundary must be 1 to 70 letters, digits or '()+_,-./:=? "
                    "characters.");
    }
    return *boundary;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

// RFC 8187 ext-value: charset'language'percent-encoded; only UTF-8 is decoded.
std::optional<std::string> decode_ext_value(std::string_view text) {
    std::size_t first = text.find('\'');
    std::size_t second = first == std::string_view::npos ? first : text.find('\'', first + 1);
    if (second == std::string_view::npos || !iequals(text.substr(0, first), "utf-8")) {
        return std::nullopt;
    }
    std::string out;
    for (std::size_t i = second + 1; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size() || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
        i += 2;
    }
    return out;
}

auto malformed(std::string message) {
    return fail("malformed_multipart", std::move(message));
}

// Applies `Content-Disposition: form-data; name=...; filename=...` to `p`.
std::optional<failure> read_disposition(std::string_view value, part& p) {
    auto header = parse_header_value(value);
    if (!header || !iequals(header->value, "form-data")) {
        return failure{"malformed_multipart",
                       "A part's Content-Disposition must be 'form-data' with a name."};
    }
    const std::string* name = header->param("name");
    if (name == nullptr || name->empty()) {
        return failure{"malformed_multipart", "A multipart part has no field name."};
    }
    p.name = *name;
    if (const std::string* filename = header->param("filename")) {
        p.filename = *filename;
    }
    if (const std::string* extended = header->param("filename*")) {
        if (auto decoded = decode_ext_value(*extended)) {
            p.filename = std::move(*decoded);
        }
    }
    return std::nullopt;
}

// Reads one header line of a part into `p`; `seen_*` reject repeated headers.
std::optional<failure> read_header_line(std::string_view line, part& p, bool& seen_disposition,
                                        bool& seen_type) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)) ||
        line.find_first_of("\r\n") != std::string_view::npos) {
        return failure{"malformed_multipart", "A multipart part has a malformed header line."};
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-type")) {
        if (std::exchange(seen_type, true)) {
            return failure{"malformed_multipart", "A multipart part repeats Content-Type."};
        }
        p.content_type = std::string(value);
        return std::nullopt;
    }
    if (!iequals(name, "content-disposition")) {
        return std::nullopt;  // other part headers carry nothing we use
    }
    if (std::exchange(seen_disposition, true)) {
        return failure{"malformed_multipart", "A multipart part repeats Content-Disposition."};
    }
    return read_disposition(value, p);
}

// Walks a body from boundary to boundary.
class reader {
public:
    reader(std::string_view body, const std::string& boundary, const multipart_limits& limits)
        : body_(body),
          delimiter_("\r\n--" + boundary),
          searcher_(delimiter_.begin(), delimiter_.end()),
          limits_(limits) {}
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;

    result<std::vector<part>> run() {
        if (auto start = first_boundary(); !start) {
            return make_unexpected(start.error());
        }
        std::vector<part> parts;
        while (true) {
            auto closed = after_boundary();
            if (!closed) {
                return make_unexpected(closed.error());
            }
            if (*closed == end::closed) {
                return parts;
            }
            if (parts.size() == limits_.max_parts) {
                return fail("too_many_parts", "The form has more than " +
                                                  std::to_string(limits_.max_parts) +
                                                  " parts; send fewer files or fields.");
            }
            auto next = read_part();
            if (!next) {
                return make_unexpected(next.error());
            }
            parts.push_back(std::move(*next));
        }
    }

private:
    enum class end { open, closed };

    std::size_t find_delimiter(std::size_t from) const {
        auto found =
            std::search(body_.begin() + static_cast<std::ptrdiff_t>(from), body_.end(), searcher_);
        return found == body_.end() ? std::string_view::npos
                                    : static_cast<std::size_t>(found - body_.begin());
    }

    // Places pos_ just after the first "--boundary", which opens the body or ends a preamble.
    result<std::size_t> first_boundary() {
        std::string_view dash_boundary = std::string_view(delimiter_).substr(2);
        if (body_.starts_with(dash_boundary)) {
            pos_ = dash_boundary.size();
            return pos_;
        }
        std::size_t found = find_delimiter(0);
        if (found == std::string_view::npos) {
            return malformed("The body does not contain the multipart boundary.");
        }
        pos_ = found + delimiter_.size();
        return pos_;
    }

    // After a boundary: "--" closes the body; otherwise optional spaces, then CRLF.
    result<end> after_boundary() {
        std::string_view rest = body_.substr(pos_);
        if (rest.starts_with("--")) {
            return end::closed;
        }
        std::size_t padding = rest.find_first_not_of(" \t");
        if (padding == std::string_view::npos || !rest.substr(padding).starts_with("\r\n")) {
            return malformed("A multipart boundary line must end with CRLF.");
        }
        pos_ += padding + 2;
        return end::open;
    }

    // Reads the headers and the data of the part starting at pos_.
    result<part> read_part() {
        part p;
        auto content_start = read_headers(p);
        if (!content_start) {
            return make_unexpected(content_start.error());
        }
        std::size_t content_end = find_delimiter(*content_start);
        if (content_end == std::string_view::npos) {
            return malformed("The multipart body ends before its closing boundary.");
        }
        p.data = body_.substr(*content_start, content_end - *content_start);
        pos_ = content_end + delimiter_.size();
        return p;
    }

    // Parses the header block at pos_; returns where the part's data starts.
    result<std::size_t> read_headers(part& p) {
        std::string_view rest = body_.substr(pos_);
        if (rest.starts_with("\r\n")) {
            return malformed("A multipart part has no Content-Disposition header.");
        }
        std::string_view window = rest.substr(0, limits_.max_header_bytes + 4);
        std::size_t block_end = window.find("\r\n\r\n");
        if (block_end == std::string_view::npos) {
            if (rest.size() > window.size()) {
                return fail("part_header_too_large", "A multipart part's headers are longer than " +
                                                         std::to_string(limits_.max_header_bytes) +
                                                         " bytes.");
            }
            return malformed("A multipart part's headers do not end with an empty line.");
        }
        if (auto bad = read_header_block(rest.substr(0, block_end), p)) {
            return make_unexpected(std::move(*bad));
        }
        return pos_ + block_end + 4;
    }

    static std::optional<failure> read_header_block(std::string_view block, part& p) {
        bool seen_disposition = false;
        bool seen_type = false;
        while (true) {
            std::size_t eol = block.find("\r\n");
            auto bad = read_header_line(block.substr(0, eol), p, seen_disposition, seen_type);
            if (bad) {
                return bad;
            }
            if (eol == std::string_view::npos) {
                break;
            }
            block.remove_prefix(eol + 2);
        }
        if (!seen_disposition) {
            return failure{"malformed_multipart",
                           "A multipart part has no Content-Disposition header."};
        }
        return std::nullopt;
    }

    std::string_view body_;
    std::string delimiter_;  // CRLF "--" boundary
    std::boyer_moore_horspool_searcher<std::string::const_iterator> searcher_;
    const multipart_limits& limits_;
    std::size_t pos_ = 0;
};

}  // namespace

result<std::vector<part>> parse_multipart(std::string_view body,
                                          std::string_view content_type_header,
                                          const multipart_limits& limits) {
    auto boundary = boundary_of(content_type_header);
    if (!boundary) {
        return make_unexpected(boundary.error());
    }
    return reader(body, *boundary, limits).run();
}

bool media_type_is(std::string_view content_type_header, std::string_view essence) {
    std::string_view value = trim(content_type_header.substr(0, content_type_header.find(';')));
    return iequals(value, essence);
}

}  // namespace boomer::api
