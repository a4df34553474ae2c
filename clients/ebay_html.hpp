// A small, forgiving HTML reader for eBay's search pages: a tree of elements and text built
// from real-world markup (unquoted attributes, unclosed <li> and <p>, void elements, comments,
// scripts and styles skipped), with the few queries the sold-page parser needs: elements by
// tag and class, attributes, and visible text. It is not a conforming HTML5 parser.
//
// Thread-safety: an html_doc is immutable after parsing; const use from many threads is safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boomer::clients {

class html_doc {
public:
    using node_id = std::size_t;
    static constexpr node_id root = 0;

    // parse builds the tree of `html`; it never fails (broken markup gives some tree).
    static html_doc parse(std::string_view html);

    // find_all returns the elements under `from` (in document order) whose tag is `tag` (any
    // tag when empty) and whose class list holds `cls` (any when empty).
    std::vector<node_id> find_all(node_id from, std::string_view tag, std::string_view cls) const;

    // find_first is find_all's first element, or `npos`.
    node_id find_first(node_id from, std::string_view tag, std::string_view cls) const;
    static constexpr node_id npos = static_cast<node_id>(-1);

    // has_class says whether the element's class attribute lists `cls`.
    bool has_class(node_id node, std::string_view cls) const;

    // attr returns the decoded value of attribute `name` (lower-case), or empty.
    std::string attr(node_id node, std::string_view name) const;

    // text returns the element's visible text with entities decoded and whitespace collapsed,
    // leaving out descendants that carry any class in `skip`.
    std::string text(node_id node, const std::vector<std::string_view>& skip = {}) const;

private:
    struct node {
        std::string tag;  // lower-case; empty for a text node
        std::vector<std::pair<std::string, std::string>> attrs;
        std::string text;  // text nodes only, entities decoded
        std::vector<node_id> children;
        node_id parent = 0;
    };

    void collect(node_id from, std::string_view tag, std::string_view cls,
                 std::vector<node_id>& out, bool first_only) const;
    void gather_text(node_id node, const std::vector<std::string_view>& skip,
                     std::string& out) const;

    std::vector<node> nodes_;
};

// decode_entities replaces the common named entities (&amp; &lt; &gt; &quot; &apos; &nbsp;)
// and numeric ones (&#39; &#x27;) by their UTF-8 text.
std::string decode_entities(std::string_view text);

}  // namespace boomer::clients
