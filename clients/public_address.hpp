// Which IP addresses an outbound fetch of a user-given URL may reach: the guard against
// server-side request forgery (a photo URL aimed at the service's own network).
#pragma once

#include <boost/asio/ip/address.hpp>

namespace boomer::clients {

// is_public_address tells whether `address` is a globally reachable unicast address. Refused:
// "this network" (0/8), private (10/8, 172.16/12, 192.168/16), shared (100.64/10), loopback
// (127/8, ::1), link-local (169.254/16, fe80::/10; cloud metadata services live there), the
// IETF, benchmarking and documentation blocks, multicast, reserved and broadcast, the
// unspecified address, unique-local IPv6 (fc00::/7), site-local IPv6 (fec0::/10), discard-only
// (100::/64), and IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64 64:ff9b::/96,
// 6to4 2002::/16) when the address they carry is refused. Thread-safe.
bool is_public_address(const boost::asio::ip::address& address);

// is_reachable_address is the looser rule used when private ranges are allowed by
// configuration (a fetch from a LAN or, in tests, from loopback): every unicast address but
// the unspecified one. Thread-safe.
bool is_reachable_address(const boost::asio::ip::address& address);

}  // namespace boomer::clients
