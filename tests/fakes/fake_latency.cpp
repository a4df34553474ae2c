// Parsing and sampling of the fakes' latency distributions.
#include "tests/fakes/fake_latency.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

namespace boomer::fakes {
namespace {

using std::chrono::milliseconds;

// The z-score of the 99th percentile of the standard normal distribution.
constexpr double z99 = 2.3263478740408408;
constexpr std::int64_t max_latency_ms = 3'600'000;

bool read_ms(std::string_view text, double& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && out >= 0 &&
           out <= static_cast<double>(max_latency_ms);
}

unexpected<failure> bad(std::string_view text, std::string_view why) {
    return fail("bad_latency", "latency \"" + std::string(text) + "\": " + std::string(why));
}

std::string ms_text(double ms) {
    auto n = static_cast<std::int64_t>(std::llround(ms));
    return static_cast<double>(n) == ms ? std::to_string(n) : std::to_string(ms);
}

// The "key=value,..." list of the lognormal form.
result<std::map<std::string, double>> read_fields(std::string_view text, std::string_view all) {
    std::map<std::string, double> fields;
    while (!text.empty()) {
        auto comma = text.find(',');
        auto part = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        auto eq = part.find('=');
        double v = 0;
        if (eq == std::string_view::npos || !read_ms(part.substr(eq + 1), v)) {
            return bad(all, "expected key=milliseconds, got \"" + std::string(part) + "\"");
        }
        auto key = std::string(part.substr(0, eq));
        if (key != "p50" && key != "p99" && key != "min" && key != "max") {
            return bad(all, "unknown key " + key + " (p50, p99, min, max)");
        }
        fields[key] = v;
    }
    return fields;
}

}  // namespace

latency_distribution::latency_distribution(milliseconds fixed)
    : min_(std::max(fixed, milliseconds(0))), max_(min_) {}

result<latency_distribution> latency_distribution::parse(std::string_view text) {
    constexpr std::string_view prefix = "lognormal:";
    latency_distribution d;
    if (text.substr(0, prefix.size()) == prefix) {
        auto fields = read_fields(text.substr(prefix.size()), text);
        if (!fields) {
            return make_unexpected(fields.error());
        }
        auto& f = *fields;
        if (!f.count("p50") || !f.count("p99") || f["p50"] <= 0 || f["p99"] < f["p50"]) {
            return bad(text, "needs p50 > 0 and p99 >= p50");
        }
        double lo = f.count("min") ? f["min"] : 0.0;
        double hi = f.count("max") ? f["max"] : std::min(4 * f["p99"], double(max_latency_ms));
        if (lo > f["p50"] || hi < f["p50"]) {
            return bad(text, "needs min <= p50 <= max");
        }
        d.kind_ = shape::lognormal;
        d.median_ms_ = f["p50"];
        d.p99_ms_ = f["p99"];
        d.min_ = milliseconds(std::llround(lo));
        d.max_ = milliseconds(std::llround(hi));
        return d;
    }
    auto dash = text.find('-');
    double lo = 0;
    double hi = 0;
    if (dash == std::string_view::npos) {
        if (!read_ms(text, lo)) {
            return bad(text, "expected MS, LO-HI or lognormal:p50=MS,p99=MS[,min=MS,max=MS]");
        }
        return latency_distribution(milliseconds(std::llround(lo)));
    }
    if (!read_ms(text.substr(0, dash), lo) || !read_ms(text.substr(dash + 1), hi) || hi < lo) {
        return bad(text, "expected LO-HI milliseconds with LO <= HI");
    }
    d.kind_ = shape::uniform;
    d.min_ = milliseconds(std::llround(lo));
    d.max_ = milliseconds(std::llround(hi));
    return d;
}

milliseconds latency_distribution::sample(std::mt19937_64& rng) const {
    switch (kind_) {
        case shape::fixed:
            return min_;
        case shape::uniform:
            return milliseconds(
                std::uniform_int_distribution<std::int64_t>(min_.count(), max_.count())(rng));
        case shape::lognormal: {
            double sigma = std::log(p99_ms_ / median_ms_) / z99;
            double ms = std::lognormal_distribution<double>(std::log(median_ms_), sigma)(rng);
            auto n = milliseconds(std::llround(std::min(ms, double(max_latency_ms))));
            return std::clamp(n, min_, max_);
        }
    }
    return min_;
}

std::string latency_distribution::describe() const {
    switch (kind_) {
        case shape::fixed:
            return std::to_string(min_.count());
        case shape::uniform:
            return std::to_string(min_.count()) + "-" + std::to_string(max_.count());
        case shape::lognormal:
            return "lognormal:p50=" + ms_text(median_ms_) + ",p99=" + ms_text(p99_ms_) +
                   ",min=" + std::to_string(min_.count()) + ",max=" + std::to_string(max_.count());
    }
    return {};
}

}  // namespace boomer::fakes
