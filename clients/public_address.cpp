// Address ranges as (prefix, length) tables, checked bit by bit.
#include "clients/public_address.hpp"

#include <array>
#include <cstdint>

namespace boomer::clients {
namespace {

using v4_bytes = boost::asio::ip::address_v4::bytes_type;
using v6_bytes = boost::asio::ip::address_v6::bytes_type;

struct v4_range {
    std::uint32_t prefix;
    int length;
};

// Special-purpose IPv4 blocks (RFC 6890 and its updates) that are not globally reachable.
constexpr std::array<v4_range, 16> refused_v4 = {{
    {0x00000000, 8},   // 0.0.0.0/8 this network
    {0x0A000000, 8},   // 10.0.0.0/8 private
    {0x64400000, 10},  // 100.64.0.0/10 shared address space
    {0x7F000000, 8},   // 127.0.0.0/8 loopback
    {0xA9FE0000, 16},  // 169.254.0.0/16 link-local
    {0xAC100000, 12},  // 172.16.0.0/12 private
    {0xC0000000, 24},  // 192.0.0.0/24 IETF protocol assignments
    {0xC0000200, 24},  // 192.0.2.0/24 documentation
    {0xC0586300, 24},  // 192.88.99.0/24 6to4 relay anycast (deprecated)
    {0xC0A80000, 16},  // 192.168.0.0/16 private
    {0xC6120000, 15},  // 198.18.0.0/15 benchmarking
    {0xC6336400, 24},  // 198.51.100.0/24 documentation
    {0xCB007100, 24},  // 203.0.113.0/24 documentation
    {0xE0000000, 4},   // 224.0.0.0/4 multicast
    {0xF0000000, 4},   // 240.0.0.0/4 reserved, and the broadcast address
    {0xFFFFFFFF, 32},  // 255.255.255.255 broadcast (inside the one above; named for clarity)
}};

bool in_v4(std::uint32_t address, const v4_range& r) {
    const std::uint32_t mask = r.length == 0 ? 0 : ~std::uint32_t{0} << (32 - r.length);
    return (address & mask) == r.prefix;
}

bool public_v4(const boost::asio::ip::address_v4& a) {
    const auto value = a.to_uint();
    for (const auto& r : refused_v4) {
        if (in_v4(value, r)) {
            return false;
        }
    }
    return true;
}

// starts_with tells whether the first `bits` bits of `a` are those of `prefix`.
bool starts_with(const v6_bytes& a, const v6_bytes& prefix, int bits) {
    for (int i = 0; i < bits; ++i) {
        const auto byte = static_cast<std::size_t>(i / 8);
        const int shift = 7 - i % 8;
        if (((a[byte] >> shift) & 1) != ((prefix[byte] >> shift) & 1)) {
            return false;
        }
    }
    return true;
}

boost::asio::ip::address_v4 v4_at(const v6_bytes& a, std::size_t offset) {
    return boost::asio::ip::address_v4(
        v4_bytes{a[offset], a[offset + 1], a[offset + 2], a[offset + 3]});
}

bool public_v6(const boost::asio::ip::address_v6& address) {
    const auto a = address.to_bytes();
    if (address.is_v4_mapped()) {
        return public_v4(v4_at(a, 12));
    }
    const v6_bytes zero{};
    if (starts_with(a, zero, 96)) {  // ::/96: unspecified, loopback, IPv4-compatible
        return !address.is_unspecified() && !address.is_loopback() && public_v4(v4_at(a, 12));
    }
    const v6_bytes nat64{0x00, 0x64, 0xff, 0x9b};
    if (starts_with(a, nat64, 96)) {
        return public_v4(v4_at(a, 12));
    }
    const v6_bytes six_to_four{0x20, 0x02};
    if (starts_with(a, six_to_four, 16)) {
        return public_v4(v4_at(a, 2));
    }
    const v6_bytes discard{0x01, 0x00};
    const v6_bytes documentation{0x20, 0x01, 0x0d, 0xb8};
    const v6_bytes unique_local{0xfc};
    const v6_bytes link_local{0xfe, 0x80};
    const v6_bytes site_local{0xfe, 0xc0};
    const v6_bytes multicast{0xff};
    return !starts_with(a, discard, 64) && !starts_with(a, documentation, 32) &&
           !starts_with(a, unique_local, 7) && !starts_with(a, link_local, 10) &&
           !starts_with(a, site_local, 10) && !starts_with(a, multicast, 8);
}

}  // namespace

bool is_public_address(const boost::asio::ip::address& address) {
    return address.is_v4() ? public_v4(address.to_v4()) : public_v6(address.to_v6());
}

bool is_reachable_address(const boost::asio::ip::address& address) {
    return !address.is_unspecified() && !address.is_multicast() &&
           !(address.is_v4() && address.to_v4() == boost::asio::ip::address_v4::broadcast());
}

}  // namespace boomer::clients
