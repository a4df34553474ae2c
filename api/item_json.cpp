// Reading the JSON form of a submission with simdjson's DOM: every member checked for its type,
// unknown members refused as the multipart form refuses unknown fields.
#include "api/item_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/base64.hpp"
#include "core/utf8.hpp"

namespace boomer::api {
namespace {

namespace dom = simdjson::dom;

unexpected<input_error> refuse(std::string_view code, std::string pointer, std::string message) {
    return make_unexpected(
        input_error{failure{std::string(code), std::move(message)}, std::move(pointer)});
}

// pointer_token escapes a member name for a JSON pointer (RFC 6901), cut to 60 bytes.
std::string pointer_token(std::string_view key) {
    std::string out;
    for (char c : valid_utf8(key.substr(0, 60))) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

// seen_before tells whether `key` was met already in this object, and records it. Unknown
// members are refused as they come, so `seen` holds a handful of names at most. A repeated
// member would otherwise be read twice (two photo arrays past the photo limit).
bool seen_before(std::vector<std::string_view>& seen, std::string_view key) {
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return true;
    }
    seen.push_back(key);
    return false;
}

unexpected<input_error> repeated(const std::string& at, std::string_view key) {
    const std::string pointer = at + "/" + pointer_token(key);
    return refuse(json_error::invalid_field, pointer,
                  fmt::format("{} appears more than once", pointer));
}

std::string_view type_name(dom::element_type t) {
    switch (t) {
        case dom::element_type::ARRAY:
            return "an array";
        case dom::element_type::OBJECT:
            return "an object";
        case dom::element_type::STRING:
            return "a string";
        case dom::element_type::NULL_VALUE:
            return "null";
        case dom::element_type::BOOL:
            return "a boolean";
        default:
            return "a number";
    }
}

unexpected<input_error> wrong_type(const std::string& pointer, std::string_view expected,
                                   dom::element value) {
    return refuse(json_error::invalid_field, pointer,
                  fmt::format("{} must be {}, not {}", pointer, expected, type_name(value.type())));
}

// read_text reads a string member; null counts as absent.
result<std::string, input_error> read_text(dom::element value, const std::string& pointer) {
    if (value.is_null()) {
        return std::string();
    }
    std::string_view text;
    if (value.get(text) != simdjson::SUCCESS) {
        return wrong_type(pointer, "a string", value);
    }
    return std::string(text);
}

// read_category reads category_id: a string, or a whole number for convenience.
result<std::string, input_error> read_category(dom::element value) {
    std::uint64_t number = 0;
    if (value.is_uint64() && value.get(number) == simdjson::SUCCESS) {
        return std::to_string(number);
    }
    if (value.is_int64() || value.is_double()) {
        return refuse(json_error::invalid_field, "/category_id",
                      "/category_id must be an eBay category id (1 to 9 digits, e.g. 15230)");
    }
    return read_text(value, "/category_id");
}

result<store::priority, input_error> read_priority(dom::element value) {
    auto text = read_text(value, "/priority");
    if (!text) {
        return make_unexpected(text.error());
    }
    if (text->empty()) {
        return store::priority::normal;
    }
    auto prio = store::parse_priority(*text);
    if (!prio) {
        return refuse(json_error::invalid_field, "/priority",
                      fmt::format("/priority must be urgent, normal or bulk, not '{}'",
                                  valid_utf8(std::string_view(*text).substr(0, 40))));
    }
    return *prio;
}

// url_filename returns the last segment of a URL's path ("back.jpg"), at most 100 bytes.
std::string url_filename(std::string_view url) {
    url = url.substr(0, url.find_first_of("?#"));
    auto scheme = url.find("://");
    auto path = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
    if (path == std::string_view::npos) {
        return {};
    }
    auto name = url.substr(url.rfind('/') + 1);
    return valid_utf8(name.substr(0, 100));
}

// The longest base64 text a photo within the limit can take, with room for line breaks.
std::size_t max_base64_chars(std::uint64_t max_bytes) {
    const std::uint64_t plain = (max_bytes + 2) / 3 * 4;
    return static_cast<std::size_t>(plain + plain / 16 + 4);
}

result<json_photo, input_error> read_photo(dom::element entry, std::size_t index,
                                           const pipeline::intake_limits& limits) {
    const std::string at = fmt::format("/photos/{}", index);
    dom::object fields;
    if (entry.get(fields) != simdjson::SUCCESS) {
        return wrong_type(at, "an object with \"data\" (base64) or \"url\"", entry);
    }
    json_photo photo;
    std::string content_type;  // informational: the bytes decide
    bool has_data = false;
    std::vector<std::string_view> seen;
    for (auto [key, value] : fields) {
        if (seen_before(seen, key)) {
            return repeated(at, key);
        }
        const std::string pointer = at + "/" + pointer_token(key);
        if (key == "data") {
            if (value.get(photo.base64) != simdjson::SUCCESS) {
                return wrong_type(pointer, "a base64 string", value);
            }
            has_data = true;
        } else if (key == "url" || key == "filename" || key == "content_type") {
            auto text = read_text(value, pointer);
            if (!text) {
                return make_unexpected(text.error());
            }
            (key == "url"        ? photo.url
             : key == "filename" ? photo.filename
                                 : content_type) = std::move(*text);
        } else {
            return refuse(json_error::unknown_field, pointer,
                          fmt::format("unknown member {}; a photo takes data (base64), filename "
                                      "and content_type, or url",
                                      pointer));
        }
    }
    if (has_data == !photo.url.empty()) {
        return refuse(json_error::invalid_field, at,
                      fmt::format("{} must have either \"data\" (base64) or \"url\", not {}", at,
                                  has_data ? "both" : "neither"));
    }
    if (has_data && photo.base64.size() > max_base64_chars(limits.max_file_bytes)) {
        return refuse(
            pipeline::intake_error::file_too_large, at + "/data",
            fmt::format("{} is larger than the limit of {} bytes", at, limits.max_file_bytes));
    }
    if (photo.filename.empty() && !has_data) {
        photo.filename = url_filename(photo.url);
    }
    return photo;
}

result<bool, input_error> read_photos(dom::element value, const pipeline::intake_limits& limits,
                                      std::vector<json_photo>& photos) {
    dom::array entries;
    if (value.get(entries) != simdjson::SUCCESS) {
        return wrong_type("/photos", "an array of photos", value);
    }
    if (entries.size() == 0) {
        return refuse(pipeline::intake_error::no_files, "/photos",
                      "an item needs at least one photo");
    }
    if (entries.size() > static_cast<std::size_t>(limits.max_files)) {
        return refuse(pipeline::intake_error::too_many_files, "/photos",
                      fmt::format("an item takes at most {} photos; {} were sent", limits.max_files,
                                  entries.size()));
    }
    for (auto entry : entries) {
        auto photo = read_photo(entry, photos.size(), limits);
        if (!photo) {
            return make_unexpected(photo.error());
        }
        photos.push_back(std::move(*photo));
    }
    return true;
}

// read_member reads one top-level member into `item`.
result<bool, input_error> read_member(std::string_view key, dom::element value,
                                      const pipeline::intake_limits& limits, item_json& item) {
    auto& r = item.request;
    std::string* text_field = key == "title_hint"  ? &r.title_hint
                              : key == "sku"       ? &r.sku
                              : key == "condition" ? &r.condition
                                                   : nullptr;
    if (text_field != nullptr) {
        auto text = read_text(value, "/" + std::string(key));
        if (!text) {
            return make_unexpected(text.error());
        }
        *text_field = std::move(*text);
    } else if (key == "category_id") {
        auto category = read_category(value);
        if (!category) {
            return make_unexpected(category.error());
        }
        r.category_hint = std::move(*category);
    } else if (key == "priority") {
        auto prio = read_priority(value);
        if (!prio) {
            return make_unexpected(prio.error());
        }
        r.prio = *prio;
    } else if (key == "photos") {
        return read_photos(value, limits, item.photos);
    } else {
        const std::string pointer = "/" + pointer_token(key);
        return refuse(json_error::unknown_field, pointer,
                      fmt::format("unknown member {}; expected photos, title_hint, sku, "
                                  "condition, category_id and priority",
                                  pointer));
    }
    return true;
}

}  // namespace

result<item_json, input_error> read_item_json(std::string_view body, dom::parser& parser,
                                              const pipeline::intake_limits& limits) {
    dom::element root;
    if (auto error = parser.parse(body.data(), body.size()).get(root); error != simdjson::SUCCESS) {
        return refuse(
            json_error::malformed, "",
            fmt::format("the body is not valid JSON ({})", simdjson::error_message(error)));
    }
    dom::object members;
    if (root.get(members) != simdjson::SUCCESS) {
        return refuse(
            json_error::invalid_field, "",
            fmt::format("the body must be a JSON object, not {}", type_name(root.type())));
    }
    item_json item;
    bool has_photos = false;
    std::vector<std::string_view> seen;
    for (auto [key, value] : members) {
        if (seen_before(seen, key)) {
            return repeated("", key);
        }
        auto read = read_member(key, value, limits, item);
        if (!read) {
            return make_unexpected(read.error());
        }
        has_photos = has_photos || key == "photos";
    }
    if (!has_photos) {
        return refuse(pipeline::intake_error::no_files, "/photos",
                      "an item needs at least one photo: give \"photos\", an array of "
                      "{\"data\": base64} or {\"url\": \"https://...\"}");
    }
    return item;
}

result<bool, input_error> decode_photos(item_json& item, const pipeline::intake_limits& limits) {
    for (std::size_t i = 0; i < item.photos.size(); ++i) {
        auto& photo = item.photos[i];
        if (!photo.url.empty()) {
            continue;
        }
        const std::string pointer = fmt::format("/photos/{}/data", i);
        auto bytes = base64_decode(photo.base64);
        if (!bytes) {
            return refuse(json_error::invalid_base64, pointer,
                          fmt::format("{} is not valid base64 (the standard alphabet, A-Z a-z "
                                      "0-9 + /, with optional = padding)",
                                      pointer));
        }
        if (bytes->size() > limits.max_file_bytes) {
            return refuse(pipeline::intake_error::file_too_large, pointer,
                          fmt::format("/photos/{} is {} bytes; the limit is {} bytes", i,
                                      bytes->size(), limits.max_file_bytes));
        }
        photo.bytes = std::move(*bytes);
        photo.base64 = {};
    }
    return true;
}

void attach_photos(item_json& item) {
    item.request.files.clear();
    for (const auto& photo : item.photos) {
        item.request.files.push_back({photo.filename, photo.bytes});
    }
}

}  // namespace boomer::api
