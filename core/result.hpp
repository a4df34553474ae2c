// A value or the reason there is none: how expected failures (a bad image, a malformed file,
// a lost lease) travel between modules without exceptions.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace boomer {

// Why an operation did not produce its value. `code` is stable and machine-readable (it ends up
// in API problem types and metrics labels); `message` is for the person who submitted the input.
// `retry_after_ms` > 0: the upstream asked not to be called again for this long (its
// retry-after), so a retry of the whole job must not come sooner.
struct failure {
    std::string code;
    std::string message;
    bool retryable = false;
    std::int64_t retry_after_ms = 0;
    // False when the work was refused before it reached anyone (an open circuit breaker): a
    // retry of the job then gives its attempt back, so a pause cannot use up its attempts.
    bool counts_as_attempt = true;
};

// Wraps an error so that `result<T, E>` can be built from it unambiguously.
template <class E>
struct unexpected {
    E error;
};

template <class E>
unexpected<std::decay_t<E>> make_unexpected(E&& e) {
    return {std::forward<E>(e)};
}

inline unexpected<failure> fail(std::string code, std::string message, bool retryable = false) {
    return {failure{std::move(code), std::move(message), retryable}};
}

// result<T, E> holds a T or an E. Reading the wrong side is a bug and throws std::logic_error.
template <class T, class E = failure>
class result {
public:
    result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    template <class E2>
    result(unexpected<E2> e) : v_(std::in_place_index<1>, E(std::move(e.error))) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return checked_value(); }
    const T& value() const& { return const_cast<result*>(this)->checked_value(); }
    T&& value() && { return std::move(checked_value()); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const E& error() const {
        if (has_value()) {
            throw std::logic_error("result: error() read on a value");
        }
        return std::get<1>(v_);
    }

private:
    T& checked_value() {
        if (!has_value()) {
            throw std::logic_error("result: value() read on an error");
        }
        return std::get<0>(v_);
    }

    std::variant<T, E> v_;
};

}  // namespace boomer
