// Parsing just enough of libpq's two DSN forms to find passwords and parameters. The rules
// follow libpq's own: key=value pairs separated by spaces, values optionally single-quoted with
// backslash escapes; URIs with optional user info before the last '@' and a query of
// key=value pairs joined by '&', percent-encoded.
#include "store/postgres_dsn.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace boomer::store {
namespace {

constexpr std::string_view mask = "***";

// A part of the DSN text: [begin, end).
struct text_range {
    std::size_t begin = 0;
    std::size_t end = 0;
};

struct dsn_param {
    std::string key;
    std::string value;  // unquoted / percent-decoded
    text_range raw;     // the value as written, quotes included
};

struct parsed_dsn {
    std::vector<dsn_param> params;
    std::optional<text_range> uri_password;  // user info password, as written
};

bool is_secret_key(std::string_view key) {
    return key == "password" || key == "sslpassword";
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// percent_decode decodes %XX sequences; malformed ones are kept as written.
std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
            hex_digit(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::string percent_encode(std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(digits[byte >> 4]);
            out.push_back(digits[byte & 0x0f]);
        }
    }
    return out;
}

std::size_t scheme_length(std::string_view dsn) {
    for (std::string_view scheme : {"postgresql://", "postgres://"}) {
        if (dsn.starts_with(scheme)) {
            return scheme.size();
        }
    }
    return 0;
}

parsed_dsn parse_uri(std::string_view dsn) {
    parsed_dsn parsed;
    std::size_t start = scheme_length(dsn);

    // User info ends at the last '@': a password with a stray '@' or '/' is still masked whole.
    std::size_t at = dsn.rfind('@');
    std::size_t query_from = start;
    if (at != std::string_view::npos && at >= start) {
        std::size_t colon = dsn.find(':', start);
        if (colon < at) {
            parsed.uri_password = text_range{colon + 1, at};
        }
        query_from = at + 1;
    }

    std::size_t question = dsn.find('?', query_from);
    if (question == std::string_view::npos) {
        return parsed;
    }
    for (std::size_t pos = question + 1; pos <= dsn.size();) {
        std::size_t amp = std::min(dsn.find('&', pos), dsn.size());
        std::string_view pair = dsn.substr(pos, amp - pos);
        std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos) {
            text_range raw{pos + eq + 1, amp};
            parsed.params.push_back(dsn_param{percent_decode(pair.substr(0, eq)),
                                              percent_decode(pair.substr(eq + 1)), raw});
        }
        pos = amp + 1;
    }
    return parsed;
}

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// parse_value reads one value starting at `pos`; nullopt when a quote is left open.
std::optional<std::string> parse_value(std::string_view dsn, std::size_t& pos) {
    std::string value;
    if (pos < dsn.size() && dsn[pos] == '\'') {
        for (++pos; pos < dsn.size(); ++pos) {
            if (dsn[pos] == '\\' && pos + 1 < dsn.size()) {
                value.push_back(dsn[++pos]);
            } else if (dsn[pos] == '\'') {
                ++pos;
                return value;
            } else {
                value.push_back(dsn[pos]);
            }
        }
        return std::nullopt;
    }
    for (; pos < dsn.size() && !is_space(dsn[pos]); ++pos) {
        if (dsn[pos] == '\\' && pos + 1 < dsn.size()) {
            ++pos;
        }
        value.push_back(dsn[pos]);
    }
    return value;
}

std::optional<parsed_dsn> parse_key_values(std::string_view dsn) {
    parsed_dsn parsed;
    std::size_t pos = 0;
    auto skip_spaces = [&] {
        while (pos < dsn.size() && is_space(dsn[pos])) {
            ++pos;
        }
    };
    for (skip_spaces(); pos < dsn.size(); skip_spaces()) {
        std::size_t key_begin = pos;
        while (pos < dsn.size() && !is_space(dsn[pos]) && dsn[pos] != '=') {
            ++pos;
        }
        std::string key(dsn.substr(key_begin, pos - key_begin));
        skip_spaces();
        if (key.empty() || pos >= dsn.size() || dsn[pos] != '=') {
            return std::nullopt;
        }
        ++pos;
        skip_spaces();
        std::size_t value_begin = pos;
        auto value = parse_value(dsn, pos);
        if (!value) {
            return std::nullopt;
        }
        parsed.params.push_back(dsn_param{std::move(key), std::move(*value), {value_begin, pos}});
    }
    return parsed;
}

std::optional<parsed_dsn> parse(std::string_view dsn) {
    if (is_postgres_uri(dsn)) {
        return parse_uri(dsn);
    }
    return parse_key_values(dsn);
}

// secret_ranges lists where passwords are written in the DSN, in text order, merged.
std::vector<text_range> secret_ranges(const parsed_dsn& parsed) {
    std::vector<text_range> ranges;
    if (parsed.uri_password) {
        ranges.push_back(*parsed.uri_password);
    }
    for (const auto& p : parsed.params) {
        if (is_secret_key(p.key)) {
            ranges.push_back(p.raw);
        }
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const text_range& a, const text_range& b) { return a.begin < b.begin; });
    std::vector<text_range> merged;
    for (const auto& r : ranges) {
        if (!merged.empty() && r.begin <= merged.back().end) {
            merged.back().end = std::max(merged.back().end, r.end);
        } else {
            merged.push_back(r);
        }
    }
    return merged;
}

bool mentions_password(std::string_view dsn) {
    std::string lower(dsn);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower.find("password") != std::string::npos;
}

void replace_all(std::string& text, std::string_view what, std::string_view with) {
    if (what.empty()) {
        return;
    }
    for (auto pos = text.find(what); pos != std::string::npos;
         pos = text.find(what, pos + with.size())) {
        text.replace(pos, what.size(), with);
    }
}

}  // namespace

bool is_postgres_uri(std::string_view dsn) {
    return scheme_length(dsn) > 0;
}

std::string redact_dsn(std::string_view dsn) {
    auto parsed = parse(dsn);
    if (!parsed) {
        return "(unparsable connection string)";
    }
    std::string out;
    std::size_t copied = 0;
    for (const auto& r : secret_ranges(*parsed)) {
        out.append(dsn.substr(copied, r.begin - copied));
        out.append(mask);
        copied = r.end;
    }
    out.append(dsn.substr(copied));
    return out;
}

std::string scrub_secrets(std::string_view message, std::string_view dsn) {
    auto parsed = parse(dsn);
    if (!parsed) {
        if (mentions_password(dsn)) {
            return "the Postgres connection string is malformed (not shown: it holds a password)";
        }
        return std::string(message);
    }
    std::string out(message);
    replace_all(out, dsn, redact_dsn(dsn));

    // Longest first, so that a password containing another one is masked whole.
    std::vector<std::string> secrets;
    for (const auto& r : secret_ranges(*parsed)) {
        std::string raw(dsn.substr(r.begin, r.end - r.begin));
        secrets.push_back(percent_decode(raw));
        secrets.push_back(std::move(raw));
    }
    for (const auto& p : parsed->params) {
        if (is_secret_key(p.key)) {
            secrets.push_back(p.value);
        }
    }
    std::sort(secrets.begin(), secrets.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& secret : secrets) {
        replace_all(out, secret, mask);
    }
    return out;
}

bool dsn_has_param(std::string_view dsn, std::string_view key) {
    auto parsed = parse(dsn);
    if (!parsed) {
        return false;
    }
    return std::any_of(parsed->params.begin(), parsed->params.end(),
                       [&](const dsn_param& p) { return p.key == key; });
}

std::string with_dsn_param(std::string_view dsn, std::string_view key, std::string_view value) {
    std::string out(dsn);
    if (is_postgres_uri(dsn)) {
        auto at = dsn.rfind('@');
        auto from = at == std::string_view::npos ? scheme_length(dsn) : at + 1;
        out += dsn.find('?', from) == std::string_view::npos ? '?' : '&';
        out += std::string(key) + "=" + percent_encode(value);
        return out;
    }
    std::string quoted;
    for (char c : value) {
        if (c == '\\' || c == '\'') {
            quoted.push_back('\\');
        }
        quoted.push_back(c);
    }
    if (!out.empty()) {
        out += ' ';
    }
    out += std::string(key) + "='" + quoted + "'";
    return out;
}

}  // namespace boomer::store
