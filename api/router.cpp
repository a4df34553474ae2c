// Route templates, their matching against request paths, and URL decoding.
#include "api/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace boomer::api {
namespace {

// Splits "/a/b/" into {"a", "b", ""}; `path` starts with '/'.
template <class Out>
void split_path(std::string_view path, Out& out) {
    path.remove_prefix(1);
    while (true) {
        std::size_t slash = path.find('/');
        out.emplace_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            return;
        }
        path.remove_prefix(slash + 1);
    }
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

bool is_param_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

}  // namespace

std::optional<std::string_view> url_params::get(std::string_view name) const {
    for (const auto& [key, value] : items_) {
        if (key == name) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

void url_params::add(std::string name, std::string value) {
    items_.emplace_back(std::move(name), std::move(value));
}

std::vector<router::segment> router::parse_template(std::string_view path_template) {
    if (!path_template.starts_with('/')) {
        throw std::invalid_argument("router: template must start with '/': " +
                                    std::string(path_template));
    }
    std::vector<std::string_view> parts;
    split_path(path_template, parts);
    std::vector<segment> segments;
    for (std::string_view part : parts) {
        bool is_param = part.starts_with('{') && part.ends_with('}');
        std::string_view text = is_param ? part.substr(1, part.size() - 2) : part;
        bool bad =
            is_param ? !is_param_name(text) : text.find_first_of("{}") != std::string_view::npos;
        bool repeated = is_param && std::any_of(segments.begin(), segments.end(), [&](auto& s) {
                            return s.is_param && s.text == text;
                        });
        if (bad || repeated) {
            throw std::invalid_argument("router: bad parameter in " + std::string(path_template));
        }
        segments.push_back(segment{std::string(text), is_param});
    }
    return segments;
}

void router::add(http::verb method, std::string_view path_template, handler fn, std::string name) {
    if (!fn) {
        throw std::invalid_argument("router: empty handler for " + std::string(path_template));
    }
    std::vector<segment> segments = parse_template(path_template);
    auto found = std::find_if(patterns_.begin(), patterns_.end(),
                              [&](const pattern& p) { return p.text == path_template; });
    if (found == patterns_.end()) {
        patterns_.push_back(pattern{std::string(path_template), std::move(segments), {}});
        found = patterns_.end() - 1;
    }
    if (route_for(*found, method) != nullptr) {
        throw std::invalid_argument("router: route added twice: " + std::string(path_template));
    }
    found->routes.push_back(routes_.size());
    std::string label = name.empty() ? std::string(path_template) : std::move(name);
    routes_.push_back(route{method, static_cast<std::size_t>(found - patterns_.begin()),
                            std::move(label), std::move(fn)});
}

std::vector<route_info> router::routes() const {
    std::vector<route_info> out;
    out.reserve(routes_.size());
    for (const route& r : routes_) {
        out.push_back(route_info{r.method, patterns_[r.pattern_index].text, r.name});
    }
    return out;
}

const router::route* router::route_for(const pattern& p, http::verb method) const {
    for (std::size_t index : p.routes) {
        if (routes_[index].method == method) {
            return &routes_[index];
        }
    }
    return nullptr;
}

bool router::more_specific(const pattern& a, const pattern& b) {
    for (std::size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
        if (a.segments[i].is_param != b.segments[i].is_param) {
            return !a.segments[i].is_param;
        }
    }
    return false;
}

std::string router::allow_header(const std::vector<const pattern*>& matching) const {
    std::vector<std::string_view> methods;
    for (const pattern* p : matching) {
        for (std::size_t index : p->routes) {
            methods.push_back(http::to_string(routes_[index].method));
            if (routes_[index].method == http::verb::get) {
                methods.push_back("HEAD");
            }
        }
    }
    std::sort(methods.begin(), methods.end());
    methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
    std::string allow;
    for (std::string_view method : methods) {
        allow += allow.empty() ? "" : ", ";
        allow += method;
    }
    return allow;
}

route_match router::find(http::verb method, std::string_view path) const {
    route_match out;
    if (!path.starts_with('/')) {
        return out;
    }
    std::vector<std::string_view> parts;
    split_path(path, parts);

    // Every template whose segments fit the path; keep the most specific one with the method.
    std::vector<const pattern*> matching;
    const pattern* best = nullptr;
    const route* chosen = nullptr;
    for (const pattern& p : patterns_) {
        if (p.segments.size() != parts.size()) {
            continue;
        }
        bool fits = true;
        for (std::size_t i = 0; i < parts.size() && fits; ++i) {
            fits = p.segments[i].is_param ? !parts[i].empty() : p.segments[i].text == parts[i];
        }
        if (!fits) {
            continue;
        }
        matching.push_back(&p);
        const route* r = route_for(p, method);
        if (r == nullptr && method == http::verb::head) {
            r = route_for(p, http::verb::get);
        }
        if (r != nullptr && (best == nullptr || more_specific(p, *best))) {
            best = &p;
            chosen = r;
        }
    }

    if (matching.empty()) {
        return out;
    }
    if (chosen == nullptr) {
        const pattern* closest = matching.front();
        for (const pattern* p : matching) {
            closest = more_specific(*p, *closest) ? p : closest;
        }
        out.result = route_match::outcome::method_not_allowed;
        out.path_template = closest->text;
        out.allow = allow_header(matching);
        return out;
    }

    // Decode the parameters of the chosen template.
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (!best->segments[i].is_param) {
            continue;
        }
        auto value = percent_decode(parts[i], false);
        if (!value) {
            out.result = route_match::outcome::bad_request;
            return out;
        }
        out.path.add(best->segments[i].text, std::move(*value));
    }
    out.result = route_match::outcome::found;
    out.target = &chosen->fn;
    out.route_index = static_cast<std::size_t>(chosen - routes_.data());
    out.path_template = best->text;
    return out;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+' && plus_is_space) {
            out += ' ';
        } else if (c != '%') {
            out += c;
        } else if (i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
                   hex_digit(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
            i += 2;
        } else {
            return std::nullopt;
        }
    }
    return out;
}

std::optional<url_params> parse_query(std::string_view query) {
    url_params out;
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        std::size_t eq = pair.find('=');
        auto name = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!name || !value) {
            return std::nullopt;
        }
        out.add(std::move(*name), std::move(*value));
    }
    return out;
}

}  // namespace boomer::api
