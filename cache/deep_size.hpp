// How many bytes a cached value really holds: its own size plus what it owns on the heap
// (string buffers beyond the small-string storage, vector capacity, map nodes), so that a byte
// budget bounds memory and not just object headers. Value types that are not covered here get
// a size function of their own, built from heap_size() of their members.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace boomer::cache {

// Bookkeeping a node-based container allocates per element besides the element (pointers,
// colour, cached hash), rounded up: an estimate, on the high side.
inline constexpr std::size_t node_overhead = 32;

// heap_size returns the bytes `v` owns on the heap, not counting sizeof(v). Thread-safe for
// values not being modified.
template <class T>
requires std::is_arithmetic_v<T> || std::is_enum_v<T> std::size_t heap_size(const T&) {
    return 0;
}

inline std::size_t heap_size(const std::string& s) {
    static const std::size_t inline_capacity = std::string().capacity();
    return s.capacity() > inline_capacity ? s.capacity() + 1 : 0;
}

template <class T>
std::size_t heap_size(const std::optional<T>& v);
template <class A, class B>
std::size_t heap_size(const std::pair<A, B>& v);
template <class T>
std::size_t heap_size(const std::vector<T>& v);
template <class K, class V, class C>
std::size_t heap_size(const std::map<K, V, C>& m);
template <class K, class V, class H, class E>
std::size_t heap_size(const std::unordered_map<K, V, H, E>& m);

template <class T>
std::size_t heap_size(const std::optional<T>& v) {
    return v ? heap_size(*v) : 0;
}

template <class A, class B>
std::size_t heap_size(const std::pair<A, B>& v) {
    return heap_size(v.first) + heap_size(v.second);
}

template <class T>
std::size_t heap_size(const std::vector<T>& v) {
    std::size_t n = v.capacity() * sizeof(T);
    for (const auto& e : v) {
        n += heap_size(e);
    }
    return n;
}

template <class K, class V, class C>
std::size_t heap_size(const std::map<K, V, C>& m) {
    std::size_t n = m.size() * (sizeof(typename std::map<K, V, C>::value_type) + node_overhead);
    for (const auto& e : m) {
        n += heap_size(e.first) + heap_size(e.second);
    }
    return n;
}

template <class K, class V, class H, class E>
std::size_t heap_size(const std::unordered_map<K, V, H, E>& m) {
    using map_type = std::unordered_map<K, V, H, E>;
    std::size_t n = m.bucket_count() * sizeof(void*) +
                    m.size() * (sizeof(typename map_type::value_type) + node_overhead);
    for (const auto& e : m) {
        n += heap_size(e.first) + heap_size(e.second);
    }
    return n;
}

// deep_size returns sizeof(v) plus heap_size(v).
template <class T>
std::size_t deep_size(const T& v) {
    return sizeof(T) + heap_size(v);
}

}  // namespace boomer::cache
