// One listing seen by several sources (see same_listing.hpp).
//
// How the sources represent repeated sales of one listing (a multi-quantity listing sold
// several times), which decides what may be merged:
//   - the seller's sales export: one comp per order line (a line imported twice is dropped by
//     sales_history::add), so two comps with one item number are two sales;
//   - Marketplace Insights: one entry per listing however many units sold (totalSoldQuantity
//     is not read), priced at its last sale;
//   - the sold-listings page: one comp per result card; eBay does not document whether each
//     sale of a multi-quantity listing gets its own card, so repeated cards count as sales;
//   - Browse: active listings only, never merged with sold ones (a multi-quantity listing can
//     be on sale and have sold at once: both are true, and count apart).
// A source is a comp_source (the own-sales source answers for every sales file at once).
// So within one source, comps with one item number stay apart: each is a sale that source saw.
// Across sources they are views of the same sales: a listing that source A reports a times and
// source B b times stands for max(a, b) sales, not a + b. The kept records are the most
// authoritative source's (the seller's own record of what the buyer paid, then eBay's APIs,
// then the scraped page), topped up from the next source when it saw more sales of the
// listing; blank descriptive fields (condition, URL, category, title) are filled from the
// other records, and so is Insights' unknown shipping (from a sale at the same item price).
#include "pipeline/market/same_listing.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace boomer::market {
namespace {

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The digits at the start of `text`.
std::string_view leading_digits(std::string_view text) {
    std::size_t n = 0;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9') {
        ++n;
    }
    return text.substr(0, n);
}

// Which source's record of a listing is kept first: lower ranks first; eBay's APIs (and any
// other source) between the seller's own sales and the scraped page.
int authority(const std::string& source) {
    if (source == "ebay_sold_page") {
        return 2;  // read off a web page
    }
    if (source == "own_sales") {
        return 0;  // the seller's own record: the price the buyer paid
    }
    return 1;
}

void fill_blank(std::string& field, const std::string& from) {
    if (field.empty()) {
        field = from;
    }
}

// Every answer's comps in one list, each with the name of the source that gave it.
struct pool {
    std::vector<comp> comps;
    std::vector<std::string> origin;  // comp_source::name() of comps[i]'s source
    std::vector<bool> keep;
};

// The distinct sources of the comps at `indexes`, in that order.
std::vector<std::string> sources_of(const pool& p, const std::vector<std::size_t>& indexes) {
    std::vector<std::string> sources;
    for (auto i : indexes) {
        if (std::find(sources.begin(), sources.end(), p.origin[i]) == sources.end()) {
            sources.push_back(p.origin[i]);
        }
    }
    return sources;
}

// Keeps as many of the `ranked` comps (one listing, most authoritative source first) as the
// source that saw most of its sales shows: all of the first source's, then of each next source
// those past the number already kept. Clears keep for the others.
void keep_most_seen(pool& p, const std::vector<std::size_t>& ranked) {
    std::size_t taken = 0;
    for (const auto& source : sources_of(p, ranked)) {
        std::size_t seen = 0;
        for (auto i : ranked) {
            if (p.origin[i] == source) {
                p.keep[i] = seen >= taken;
                ++seen;
            }
        }
        taken = std::max(taken, seen);
    }
}

// Fills the kept comps[i]'s blanks from the listing's other records (`ranked`, best first).
// Marketplace Insights gives no shipping cost, so its record takes the shipping another source
// shows for a sale at the same item price; no other price field is ever mixed.
void fill_from(pool& p, std::size_t i, const std::vector<std::size_t>& ranked) {
    auto& c = p.comps[i];
    for (auto other : ranked) {
        const auto& o = p.comps[other];
        fill_blank(c.condition_id, o.condition_id);
        fill_blank(c.url, o.url);
        fill_blank(c.category_id, o.category_id);
        fill_blank(c.title, o.title);
        if (p.origin[i] == "ebay_insights" && c.shipping_minor == 0 && o.shipping_minor > 0 &&
            o.item_price_minor == c.item_price_minor && o.currency == c.currency) {
            c.shipping_minor = o.shipping_minor;
            c.price_minor = c.item_price_minor + c.shipping_minor;
        }
    }
}

// Merges the comps at `group` (one listing, all sold or all active, in input order): clears
// keep for the dropped ones, completes the kept ones and names the sources in seen_by.
void merge_group(pool& p, const std::vector<std::size_t>& group, const std::string& id) {
    auto sources = sources_of(p, group);
    if (sources.size() == 1) {
        for (auto i : group) {
            p.comps[i].seen_by = sources;  // one source's repeats are sales of their own
        }
        return;
    }

    auto ranked = group;  // most authoritative source first, input order among equals
    std::stable_sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) {
        return authority(p.origin[a]) < authority(p.origin[b]);
    });
    keep_most_seen(p, ranked);
    for (auto i : group) {
        if (!p.keep[i]) {
            continue;
        }
        fill_from(p, i, ranked);
        auto& c = p.comps[i];
        c.listing_id = id;
        c.seen_by = {p.origin[i]};
        for (const auto& source : sources) {
            if (source != p.origin[i]) {
                c.seen_by.push_back(source);
            }
        }
    }
}

}  // namespace

std::string ebay_item_number(std::string_view text) {
    if (all_digits(text)) {
        return std::string(text);
    }
    if (text.rfind("v1|", 0) == 0) {
        auto rest = text.substr(3);
        auto number = rest.substr(0, rest.find('|'));
        return all_digits(number) ? std::string(number) : std::string();
    }
    auto at = text.find("/itm/");
    if (at == std::string_view::npos) {
        return {};
    }
    auto path = text.substr(at + 5);
    auto number = leading_digits(path);
    if (number.empty()) {
        // ".../itm/<title-words>/<number>"
        auto slash = path.find('/');
        auto end = path.find_first_of("?#");
        if (slash != std::string_view::npos && slash < end) {
            number = leading_digits(path.substr(slash + 1));
        }
    }
    return std::string(number);
}

std::string listing_key(const comp& c) {
    return c.listing_id.empty() ? ebay_item_number(c.url) : c.listing_id;
}

std::vector<comp> merge_same_listings(std::vector<source_comps> answers) {
    pool p;
    for (auto& answer : answers) {
        for (auto& c : answer.comps) {
            p.comps.push_back(std::move(c));
            p.origin.push_back(answer.source);
        }
    }
    p.keep.assign(p.comps.size(), true);

    std::map<std::pair<bool, std::string>, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < p.comps.size(); ++i) {
        if (auto id = listing_key(p.comps[i]); !id.empty()) {
            groups[{p.comps[i].sold, std::move(id)}].push_back(i);
        } else {
            p.comps[i].seen_by = {p.origin[i]};
        }
    }
    for (const auto& [key, group] : groups) {
        merge_group(p, group, key.second);
    }

    std::vector<comp> out;
    out.reserve(p.comps.size());
    for (std::size_t i = 0; i < p.comps.size(); ++i) {
        if (p.keep[i]) {
            out.push_back(std::move(p.comps[i]));
        }
    }
    return out;
}

}  // namespace boomer::market
