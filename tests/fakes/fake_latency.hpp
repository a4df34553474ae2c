// How long a fake upstream waits before it answers: a fixed delay, a uniform range, or a
// lognormal shape given by its median and 99th percentile (clamped to bounds), as real APIs with
// long tails behave. Parsed from flag or file text:
//
//     "800"                                fixed 800 ms
//     "4000-8000"                          uniform in [4000, 8000] ms
//     "lognormal:p50=5000,p99=12000"       lognormal, clamped to [0, 4 * p99] ms
//     "lognormal:p50=5000,p99=12000,min=2000,max=15000"
//
// Thread-safety: a distribution is an immutable value; sample() uses the caller's generator.
#pragma once

#include <chrono>
#include <random>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace boomer::fakes {

class latency_distribution {
public:
    enum class shape { fixed, uniform, lognormal };

    // A fixed delay (implicit, so that a plain duration still sets a fake's latency).
    latency_distribution(std::chrono::milliseconds fixed = std::chrono::milliseconds(0));

    // parse reads one of the forms above. Errors: "bad_latency" with what was wrong.
    static result<latency_distribution> parse(std::string_view text);

    // sample draws one delay, always within [min(), max()]. Fixed delays draw nothing from rng.
    std::chrono::milliseconds sample(std::mt19937_64& rng) const;

    shape kind() const { return kind_; }
    std::chrono::milliseconds min() const { return min_; }
    std::chrono::milliseconds max() const { return max_; }
    // describe returns text that parse() reads back to the same distribution.
    std::string describe() const;

private:
    shape kind_ = shape::fixed;
    std::chrono::milliseconds min_{0};
    std::chrono::milliseconds max_{0};
    double median_ms_ = 0;  // lognormal only
    double p99_ms_ = 0;     // lognormal only
};

}  // namespace boomer::fakes
