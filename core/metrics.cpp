// Metric types, families and the text exposition format (Prometheus 0.0.4).
#include "core/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace boomer::metrics {
namespace {

bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9');
}

// Metric and label names: [a-zA-Z_][a-zA-Z0-9_]* (colons are left to recording rules).
bool is_valid_name(std::string_view name) {
    if (name.empty() || !is_name_start(name.front())) {
        return false;
    }
    for (char c : name) {
        if (!is_name_char(c)) {
            return false;
        }
    }
    return true;
}

void check_label_names(const std::vector<std::string>& names, bool histogram) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string& label = names[i];
        if (!is_valid_name(label) || label.starts_with("__")) {
            throw std::invalid_argument("metrics: invalid label name '" + label + "'");
        }
        if (histogram && label == "le") {
            throw std::invalid_argument("metrics: 'le' is reserved in histograms");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (names[j] == label) {
                throw std::invalid_argument("metrics: label name '" + label + "' repeated");
            }
        }
    }
}

void check_bounds(const std::vector<double>& bounds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
            throw std::invalid_argument("metrics: bucket bounds must be finite and increasing");
        }
    }
}

// The value syntax of the exposition format: shortest round-trip decimal, +Inf, -Inf, NaN.
void append_number(std::string& out, double value) {
    if (std::isnan(value)) {
        out += "NaN";
        return;
    }
    if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
}

void append_number(std::string& out, std::uint64_t value) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (quote && c == '"') {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

// `a="x",b="y"` for the given names and values (no braces).
std::string label_pairs(const std::vector<std::string>& names,
                        const std::vector<std::string>& values) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        out += names[i];
        out += "=\"";
        append_escaped(out, values[i], true);
        out += '"';
    }
    return out;
}

// One sample line: name{pairs} value
void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view pairs, double value) {
    out += name;
    out += suffix;
    if (!pairs.empty()) {
        out += '{';
        out += pairs;
        out += '}';
    }
    out += ' ';
    append_number(out, value);
    out += '\n';
}

void append_bucket(std::string& out, std::string_view name, std::string_view pairs,
                   std::string_view le, std::uint64_t count) {
    out += name;
    out += "_bucket{";
    out += pairs;
    if (!pairs.empty()) {
        out += ',';
    }
    out += "le=\"";
    out += le;
    out += "\"} ";
    append_number(out, count);
    out += '\n';
}

void append_child(std::string& out, const family_base& f, std::string_view pairs,
                  const counter& c) {
    append_sample(out, f.name(), "", pairs, c.value());
}

void append_child(std::string& out, const family_base& f, std::string_view pairs, const gauge& g) {
    append_sample(out, f.name(), "", pairs, g.value());
}

void append_child(std::string& out, const family_base& f, std::string_view pairs,
                  const callback_gauge& g) {
    if (auto value = g.sample()) {
        append_sample(out, f.name(), "", pairs, *value);
    }
}

void append_child(std::string& out, const family<histogram>& f, std::string_view pairs,
                  const histogram& h) {
    histogram::counts counts = h.read();
    const std::vector<double>& bounds = f.buckets();
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        std::string le;
        append_number(le, bounds[i]);
        append_bucket(out, f.name(), pairs, le, counts.cumulative[i]);
    }
    append_bucket(out, f.name(), pairs, "+Inf", counts.cumulative.back());
    append_sample(out, f.name(), "_sum", pairs, counts.sum);
    append_sample(out, f.name(), "_count", pairs, static_cast<double>(counts.cumulative.back()));
}

template <class M>
std::unique_ptr<M> make_child(const std::vector<double>& bounds) {
    if constexpr (std::is_same_v<M, histogram>) {
        return std::make_unique<histogram>(bounds);
    } else {
        return std::make_unique<M>();
    }
}

}  // namespace

void counter::inc(double amount) {
    if (!(amount >= 0.0)) {
        throw std::invalid_argument("metrics: a counter cannot go down");
    }
    value_.fetch_add(amount, std::memory_order_relaxed);
}

void callback_gauge::set_callback(std::function<double()> fn) {
    std::lock_guard lock(mutex_);
    fn_ = std::move(fn);
}

void callback_gauge::clear_callback() {
    std::lock_guard lock(mutex_);
    fn_ = nullptr;
}

std::optional<double> callback_gauge::sample() const {
    std::lock_guard lock(mutex_);
    if (!fn_) {
        return std::nullopt;
    }
    return fn_();
}

histogram::histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        buckets_[i].store(0, std::memory_order_relaxed);
    }
}

void histogram::observe(double value) {
    if (std::isnan(value)) {
        return;
    }
    auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

histogram::counts histogram::read() const {
    counts out;
    out.cumulative.reserve(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        out.cumulative.push_back(running);
    }
    out.sum = sum_.load(std::memory_order_relaxed);
    return out;
}

family_base::family_base(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

template <class M>
family<M>::family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : family_base(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {
    // A family without labels has exactly one child: create it so that it renders as 0.
    if (label_names_.empty()) {
        children_.emplace(std::vector<std::string>{}, make_child<M>(bounds_));
    }
}

template <class M>
template <class Range>
M& family<M>::find_or_create(const Range& label_values) {
    if (std::size(label_values) != label_names_.size()) {
        throw std::invalid_argument("metrics: " + name_ + " takes " +
                                    std::to_string(label_names_.size()) + " label values");
    }
    std::lock_guard lock(mutex_);
    auto found = children_.find(label_values);
    if (found != children_.end()) {
        return *found->second;
    }
    std::vector<std::string> key(std::begin(label_values), std::end(label_values));
    auto [inserted, ok] = children_.emplace(std::move(key), make_child<M>(bounds_));
    return *inserted->second;
}

template <class M>
M& family<M>::with(std::initializer_list<std::string_view> label_values) {
    return find_or_create(
        std::span<const std::string_view>(label_values.begin(), label_values.size()));
}

template <class M>
M& family<M>::with(std::span<const std::string_view> label_values) {
    return find_or_create(label_values);
}

template <class M>
M& family<M>::with(const std::vector<std::string>& label_values) {
    return find_or_create(label_values);
}

template <class M>
std::string_view family<M>::type_name() const {
    if constexpr (std::is_same_v<M, counter>) {
        return "counter";
    } else if constexpr (std::is_same_v<M, histogram>) {
        return "histogram";
    } else {
        return "gauge";
    }
}

template <class M>
void family<M>::render(std::string& out) const {
    out += "# HELP ";
    out += name_;
    out += ' ';
    append_escaped(out, help_, false);
    out += "\n# TYPE ";
    out += name_;
    out += ' ';
    out += type_name();
    out += '\n';

    std::lock_guard lock(mutex_);
    for (const auto& [values, child] : children_) {
        append_child(out, *this, label_pairs(label_names_, values), *child);
    }
}

template class family<counter>;
template class family<gauge>;
template class family<callback_gauge>;
template class family<histogram>;

std::vector<double> latency_buckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
    if (!(start > 0.0) || !(factor > 1.0) || count == 0) {
        throw std::invalid_argument("metrics: exponential_buckets needs start > 0, factor > 1");
    }
    std::vector<double> bounds;
    bounds.reserve(count);
    for (double bound = start; bounds.size() < count; bound *= factor) {
        bounds.push_back(bound);
    }
    return bounds;
}

template <class M>
family<M>& registry::add(std::string name, std::string help, std::vector<std::string> label_names,
                         std::vector<double> bounds) {
    constexpr bool is_histogram = std::is_same_v<M, histogram>;
    if (!is_valid_name(name)) {
        throw std::invalid_argument("metrics: invalid metric name '" + name + "'");
    }
    if (std::is_same_v<M, counter> && !name.ends_with("_total")) {
        throw std::invalid_argument("metrics: counter '" + name + "' must end in _total");
    }
    check_label_names(label_names, is_histogram);
    check_bounds(bounds);

    std::lock_guard lock(mutex_);
    if (auto found = families_.find(name); found != families_.end()) {
        auto* same = dynamic_cast<family<M>*>(found->second.get());
        if (same == nullptr || same->label_names() != label_names || same->buckets() != bounds) {
            throw std::invalid_argument("metrics: '" + name + "' registered twice, differently");
        }
        return *same;
    }
    for (const auto& [existing, f] : families_) {
        bool existing_histogram = f->type_name() == "histogram";
        for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
            if ((existing_histogram && name == existing + std::string(suffix)) ||
                (is_histogram && existing == name + std::string(suffix))) {
                throw std::invalid_argument("metrics: '" + name + "' clashes with '" + existing +
                                            "'");
            }
        }
    }
    auto created = std::make_unique<family<M>>(name, std::move(help), std::move(label_names),
                                               std::move(bounds));
    family<M>& out = *created;
    families_.emplace(std::move(name), std::move(created));
    return out;
}

family<counter>& registry::counter_family(std::string name, std::string help,
                                          std::vector<std::string> label_names) {
    return add<counter>(std::move(name), std::move(help), std::move(label_names), {});
}

family<gauge>& registry::gauge_family(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
    return add<gauge>(std::move(name), std::move(help), std::move(label_names), {});
}

family<callback_gauge>& registry::callback_gauge_family(std::string name, std::string help,
                                                        std::vector<std::string> label_names) {
    return add<callback_gauge>(std::move(name), std::move(help), std::move(label_names), {});
}

family<histogram>& registry::histogram_family(std::string name, std::string help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds) {
    return add<histogram>(std::move(name), std::move(help), std::move(label_names),
                          std::move(bounds));
}

std::string registry::render() const {
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, f] : families_) {
        f->render(out);
    }
    return out;
}

}  // namespace boomer::metrics
