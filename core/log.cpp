// JSON rendering of log events.
#include "core/log.hpp"

#include <fmt/format.h>

#include "core/utf8.hpp"

namespace boomer::log {
namespace {

void append_string(std::string& out, std::string_view raw) {
    auto s = valid_utf8(raw);
    out.push_back('"');
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<int>(c));
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

}  // namespace

std::string format_event(std::string_view name, std::initializer_list<field> fields) {
    std::string out = "\"event\":";
    append_string(out, name);
    for (const auto& f : fields) {
        out.push_back(',');
        append_string(out, f.key);
        out.push_back(':');
        std::visit(
            [&out](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::string_view>) {
                    append_string(out, v);
                } else if constexpr (std::is_same_v<T, bool>) {
                    out += v ? "true" : "false";
                } else {
                    out += fmt::format("{}", v);
                }
            },
            f.value);
    }
    return out;
}

}  // namespace boomer::log
