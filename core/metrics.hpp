// Prometheus metrics: counters, gauges and histograms grouped in families that share a name, a
// help text and label names, and a registry that renders them all in the text exposition format
// 0.0.4 for `GET /metrics`.
//
// Thread-safety: everything here may be used from any thread. Registering a family and looking
// up a labelled child (`with`) take a mutex; updating a child (`inc`, `set`, `observe`) is
// lock-free on atomics. Hot paths look a child up once and keep the reference: children are never
// removed, so a reference stays valid for as long as the registry lives.
//
// Usage:
//     auto& requests = reg.counter_family("jobs_done_total", "Jobs finished.", {"outcome"});
//     metrics::counter& ok = requests.with({"ok"});   // cache this
//     ok.inc();
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace boomer::metrics {

// A value that only goes up (requests served, bytes written).
class counter {
public:
    // inc adds `amount`. Precondition: amount >= 0 (a negative amount is a bug: it throws
    // std::invalid_argument). Lock-free.
    void inc(double amount = 1.0);
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

// A value that goes up and down (requests in flight, queue depth). Lock-free.
class gauge {
public:
    void set(double value) { value_.store(value, std::memory_order_relaxed); }
    void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
    void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

// A gauge whose value is computed when the registry is rendered (cache bytes, pool sizes).
class callback_gauge {
public:
    // set_callback installs `fn`, called on the rendering thread at every scrape. `fn` must be
    // cheap, thread-safe, and must not call back into the registry. Whoever owns what `fn`
    // captures must call clear_callback() before that state dies.
    void set_callback(std::function<double()> fn);
    void clear_callback();
    // sample calls the callback; empty when none is installed (the sample is then not rendered).
    std::optional<double> sample() const;

private:
    mutable std::mutex mutex_;
    std::function<double()> fn_;  // guarded by mutex_
};

// Observations counted into fixed buckets (request durations, image sizes).
class histogram {
public:
    // `bounds` are the buckets' upper bounds, strictly increasing and finite; they are owned by
    // the family and must outlive the histogram.
    explicit histogram(const std::vector<double>& bounds);

    // observe counts `value` into the first bucket whose bound is >= value (or +Inf) and adds it
    // to the sum. NaN is ignored. Lock-free.
    void observe(double value);

    // A copy of the counts; each counter is read atomically, the whole is not a snapshot.
    struct counts {
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
        double sum = 0.0;
    };
    counts read() const;

private:
    const std::vector<double>& bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
    std::atomic<double> sum_{0.0};
};

// What every family shares, whatever its metric type.
class family_base {
public:
    family_base(std::string name, std::string help, std::vector<std::string> label_names);
    virtual ~family_base() = default;
    family_base(const family_base&) = delete;
    family_base& operator=(const family_base&) = delete;

    const std::string& name() const { return name_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    // type_name is the word on the `# TYPE` line: counter, gauge or histogram.
    virtual std::string_view type_name() const = 0;
    // render appends the family's HELP, TYPE and sample lines to `out`.
    virtual void render(std::string& out) const = 0;

protected:
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
};

// Orders label value lists (any range of string-like values) so that a lookup needs no copy.
struct label_values_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
        return std::lexicographical_compare(
            a.begin(), a.end(), b.begin(), b.end(),
            [](std::string_view x, std::string_view y) { return x < y; });
    }
};

// The metrics of one name, one child per distinct list of label values.
template <class M>
class family final : public family_base {
public:
    family(std::string name, std::string help, std::vector<std::string> label_names,
           std::vector<double> bounds);

    // with returns the child for `label_values` (one per label name, in order), creating it on
    // first use. Errors: a wrong number of values throws std::invalid_argument. Takes a mutex:
    // keep the reference on hot paths. Label values may hold any text; they are escaped on
    // rendering.
    M& with(std::initializer_list<std::string_view> label_values);
    M& with(std::span<const std::string_view> label_values);
    M& with(const std::vector<std::string>& label_values);

    // buckets returns the upper bounds (histograms only; empty otherwise).
    const std::vector<double>& buckets() const { return bounds_; }

    std::string_view type_name() const override;
    void render(std::string& out) const override;

private:
    template <class Range>
    M& find_or_create(const Range& label_values);

    std::vector<double> bounds_;
    mutable std::mutex mutex_;
    // guarded by mutex_; children are never erased, so references to them stay valid
    std::map<std::vector<std::string>, std::unique_ptr<M>, label_values_less> children_;
};

extern template class family<counter>;
extern template class family<gauge>;
extern template class family<callback_gauge>;
extern template class family<histogram>;

// latency_buckets returns bounds in seconds fit for request and stage durations (0.5 ms .. 10 s).
std::vector<double> latency_buckets();

// exponential_buckets returns `count` bounds: start, start*factor, ... Preconditions: start > 0,
// factor > 1, count >= 1; otherwise std::invalid_argument.
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

// A set of families and their rendering. Families are never removed.
class registry {
public:
    registry() = default;
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    // counter_family registers (or returns the already registered) family `name`. Errors
    // (std::invalid_argument, these are bugs): an invalid metric or label name, a counter name
    // that does not end in `_total`, a label name starting with `__`, or `name` already used by
    // a family of another type or with other label names (or, for histograms, other buckets).
    // Thread-safe.
    family<counter>& counter_family(std::string name, std::string help,
                                    std::vector<std::string> label_names = {});
    family<gauge>& gauge_family(std::string name, std::string help,
                                std::vector<std::string> label_names = {});
    family<callback_gauge>& callback_gauge_family(std::string name, std::string help,
                                                  std::vector<std::string> label_names = {});
    // histogram_family also rejects bounds that are not finite and strictly increasing, and the
    // label name `le`.
    family<histogram>& histogram_family(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds = latency_buckets());

    // render returns every family, sorted by name, in the Prometheus text format 0.0.4 (content
    // type `text/plain; version=0.0.4; charset=utf-8`). Calls the callback gauges. Thread-safe.
    std::string render() const;

private:
    template <class M>
    family<M>& add(std::string name, std::string help, std::vector<std::string> label_names,
                   std::vector<double> bounds);

    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<family_base>, std::less<>> families_;  // by mutex_
};

// The content type of registry::render()'s output.
inline constexpr std::string_view exposition_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace boomer::metrics
