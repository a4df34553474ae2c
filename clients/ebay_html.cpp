// The forgiving HTML reader: a tokenizer feeding a stack of open elements.
#include "clients/ebay_html.hpp"

#include <algorithm>
#include <cstdint>

namespace boomer::clients {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_void(std::string_view tag) {
    static constexpr std::string_view voids[] = {"area",   "base",  "br",    "col",  "embed",
                                                 "hr",     "img",   "input", "link", "meta",
                                                 "source", "track", "wbr"};
    return std::find(std::begin(voids), std::end(voids), tag) != std::end(voids);
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x110000) {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Reads one entity at `pos` (just after '&'); returns the characters consumed, 0 if none.
std::size_t read_entity(std::string_view text, std::size_t pos, std::string& out) {
    auto semi = text.find(';', pos);
    if (semi == std::string_view::npos || semi - pos > 10) {
        return 0;
    }
    auto name = text.substr(pos, semi - pos);
    static constexpr std::pair<std::string_view, std::string_view> named[] = {
        {"amp", "&"},  {"lt", "<"},          {"gt", ">"},           {"quot", "\""},
        {"apos", "'"}, {"nbsp", "\xC2\xA0"}, {"pound", "\xC2\xA3"}, {"euro", "\xE2\x82\xAC"}};
    for (const auto& [key, value] : named) {
        if (name == key) {
            out += value;
            return name.size() + 1;
        }
    }
    if (name.size() < 2 || name[0] != '#') {
        return 0;
    }
    bool hex = name[1] == 'x' || name[1] == 'X';
    std::uint32_t cp = 0;
    for (char c : name.substr(hex ? 2 : 1)) {
        int digit = (c >= '0' && c <= '9')          ? c - '0'
                    : (hex && c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (hex && c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                    : -1;
        if (digit < 0 || cp > 0x10FFFF) {
            return 0;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(digit);
    }
    append_utf8(out, cp);
    return name.size() + 1;
}

// The tokenizer's view of one tag.
struct tag_token {
    std::string name;
    bool closing = false;
    bool self_closing = false;
    std::vector<std::pair<std::string, std::string>> attrs;
};

// Reads attributes from `pos` up to '>' (quoted, unquoted or bare); returns the position after
// '>'.
std::size_t read_attrs(std::string_view s, std::size_t pos, tag_token& tag) {
    while (pos < s.size() && s[pos] != '>') {
        if (is_space(s[pos]) || s[pos] == '/') {
            tag.self_closing = s[pos] == '/';
            ++pos;
            continue;
        }
        std::string name;
        while (pos < s.size() && !is_space(s[pos]) && s[pos] != '=' && s[pos] != '>') {
            name += lower(s[pos++]);
        }
        std::string value;
        if (pos < s.size() && s[pos] == '=') {
            ++pos;
            if (pos < s.size() && (s[pos] == '"' || s[pos] == '\'')) {
                char quote = s[pos++];
                auto end = s.find(quote, pos);
                end = end == std::string_view::npos ? s.size() : end;
                value = decode_entities(s.substr(pos, end - pos));
                pos = std::min(end + 1, s.size());
            } else {
                auto start = pos;
                while (pos < s.size() && !is_space(s[pos]) && s[pos] != '>') {
                    ++pos;
                }
                value = decode_entities(s.substr(start, pos - start));
            }
        }
        tag.self_closing = false;
        if (!name.empty()) {
            tag.attrs.emplace_back(std::move(name), std::move(value));
        }
    }
    return pos < s.size() ? pos + 1 : s.size();
}

// Reads a tag starting at '<'; returns the position after it, or `pos` when it is not a tag.
std::size_t read_tag(std::string_view s, std::size_t pos, tag_token& tag) {
    std::size_t p = pos + 1;
    if (p < s.size() && s[p] == '/') {
        tag.closing = true;
        ++p;
    }
    if (p >= s.size() || !((s[p] >= 'a' && s[p] <= 'z') || (s[p] >= 'A' && s[p] <= 'Z'))) {
        return pos;
    }
    while (p < s.size() && !is_space(s[p]) && s[p] != '>' && s[p] != '/') {
        tag.name += lower(s[p++]);
    }
    return read_attrs(s, p, tag);
}

}  // namespace

std::string decode_entities(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '&') {
            if (auto used = read_entity(text, i + 1, out); used > 0) {
                i += used;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

html_doc html_doc::parse(std::string_view s) {
    html_doc doc;
    doc.nodes_.push_back(node{"#root", {}, {}, {}, 0});
    std::vector<node_id> open{root};
    auto add = [&doc, &open](node n) {
        n.parent = open.back();
        doc.nodes_.push_back(std::move(n));
        node_id id = doc.nodes_.size() - 1;
        doc.nodes_[open.back()].children.push_back(id);
        return id;
    };
    auto close = [&doc, &open](std::string_view name, std::string_view stop_at) {
        for (std::size_t i = open.size(); i-- > 1;) {
            const auto& tag = doc.nodes_[open[i]].tag;
            if (tag == name) {
                open.resize(i);
                return;
            }
            if (tag == stop_at) {
                return;
            }
        }
    };
    std::size_t pos = 0;
    while (pos < s.size()) {
        auto lt = s.find('<', pos);
        auto text_end = lt == std::string_view::npos ? s.size() : lt;
        if (text_end > pos) {
            add(node{"", {}, decode_entities(s.substr(pos, text_end - pos)), {}, 0});
        }
        if (lt == std::string_view::npos) {
            break;
        }
        if (s.substr(lt, 4) == "<!--") {
            auto end = s.find("-->", lt + 4);
            pos = end == std::string_view::npos ? s.size() : end + 3;
            continue;
        }
        if (s.substr(lt, 2) == "<!" || s.substr(lt, 2) == "<?") {
            auto end = s.find('>', lt);
            pos = end == std::string_view::npos ? s.size() : end + 1;
            continue;
        }
        tag_token tag;
        auto after = read_tag(s, lt, tag);
        if (after == lt) {
            add(node{"", {}, "<", {}, 0});
            pos = lt + 1;
            continue;
        }
        pos = after;
        if (tag.closing) {
            close(tag.name, tag.name == "li" ? "ul" : "");
            continue;
        }
        if (tag.name == "script" || tag.name == "style") {
            auto end = s.find("</" + tag.name, pos);
            pos = end == std::string_view::npos ? s.size() : s.find('>', end) + 1;
            if (pos == 0) {
                pos = s.size();
            }
            continue;
        }
        if (tag.name == "li") {
            close("li", "ul");  // an open <li> in the same list ends here
        }
        auto id = add(node{tag.name, std::move(tag.attrs), {}, {}, 0});
        // Deeper nesting than any real page is flattened, which bounds the recursion below.
        if (!tag.self_closing && !is_void(tag.name) && open.size() < 256) {
            open.push_back(id);
        }
    }
    return doc;
}

void html_doc::collect(node_id from, std::string_view tag, std::string_view cls,
                       std::vector<node_id>& out, bool first_only) const {
    for (auto child : nodes_[from].children) {
        if (first_only && !out.empty()) {
            return;
        }
        const auto& n = nodes_[child];
        if (n.tag.empty()) {
            continue;
        }
        if ((tag.empty() || n.tag == tag) && (cls.empty() || has_class(child, cls))) {
            out.push_back(child);
        }
        collect(child, tag, cls, out, first_only);
    }
}

std::vector<html_doc::node_id> html_doc::find_all(node_id from, std::string_view tag,
                                                  std::string_view cls) const {
    std::vector<node_id> out;
    collect(from, tag, cls, out, false);
    return out;
}

html_doc::node_id html_doc::find_first(node_id from, std::string_view tag,
                                       std::string_view cls) const {
    std::vector<node_id> out;
    collect(from, tag, cls, out, true);
    return out.empty() ? npos : out.front();
}

bool html_doc::has_class(node_id id, std::string_view cls) const {
    for (const auto& [name, value] : nodes_[id].attrs) {
        if (name != "class") {
            continue;
        }
        std::size_t pos = 0;
        while (pos < value.size()) {
            while (pos < value.size() && is_space(value[pos])) {
                ++pos;
            }
            auto end = pos;
            while (end < value.size() && !is_space(value[end])) {
                ++end;
            }
            if (std::string_view(value).substr(pos, end - pos) == cls) {
                return true;
            }
            pos = end;
        }
    }
    return false;
}

std::string html_doc::attr(node_id id, std::string_view name) const {
    for (const auto& [key, value] : nodes_[id].attrs) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

void html_doc::gather_text(node_id id, const std::vector<std::string_view>& skip,
                           std::string& out) const {
    for (auto child : nodes_[id].children) {
        const auto& n = nodes_[child];
        if (n.tag.empty()) {
            out += n.text;
            continue;
        }
        bool skipped = std::any_of(skip.begin(), skip.end(),
                                   [&](std::string_view cls) { return has_class(child, cls); });
        if (!skipped) {
            out += ' ';
            gather_text(child, skip, out);
            out += ' ';
        }
    }
}

std::string html_doc::text(node_id id, const std::vector<std::string_view>& skip) const {
    std::string raw;
    gather_text(id, skip, raw);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        bool nbsp = raw.compare(i, 2, "\xC2\xA0") == 0;
        if (is_space(raw[i]) || nbsp) {
            i += nbsp ? 1 : 0;
            if (!out.empty() && out.back() != ' ') {
                out += ' ';
            }
            continue;
        }
        out += raw[i];
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

}  // namespace boomer::clients
