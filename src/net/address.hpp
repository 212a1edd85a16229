// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Source addresses and prefixes as the data path keys them: IPv6, with IPv4 mapped into
// ::ffff:0:0/96 so that one LPM trie and one bucket map hold both families.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "json/validated.hpp"
#include "ratelimit/abi.h"

namespace ratelimit
{

struct Address {
    std::array<std::uint8_t, RL_ADDR_LEN> bytes{};

    bool is_v4() const; // an IPv4-mapped address
    std::string to_string() const;
    rl_source_key key() const;
    auto operator<=>(const Address &) const = default;
};

struct Prefix {
    Address address;          // host bits are zero
    std::uint32_t length = 0; // bits of the IPv6 (or mapped) address: IPv4 /24 is 120

    bool is_v4() const { return address.is_v4() && length >= RL_IPV4_MAPPED_PREFIXLEN; }
    // Length as written by the user: /24 for IPv4, /64 for IPv6.
    std::uint32_t family_length() const;
    std::string to_string() const;
    // Whether `addr` lies in the prefix, bit for bit: ::/0 contains ::ffff:10.0.0.1.
    bool contains(const Address &addr) const;
    // Whether a rule (or a flush) on this prefix reaches the source `addr`: an IPv4 prefix covers
    // IPv4 sources, an IPv6 one IPv6 sources only, although ::/8 contains ::ffff:0:0/96, where
    // IPv4 is keyed (the trie always holds ::ffff:0:0/96, so such a prefix never matches there).
    bool covers(const Address &addr) const { return is_v4() == addr.is_v4() && contains(addr); }
    auto operator<=>(const Prefix &) const = default;
};

std::optional<Address> parse_address(std::string_view text);
// "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128). Host bits must be zero.
std::optional<Prefix> parse_prefix(std::string_view text);
// parse_prefix, or why `text` is not a prefix, quoting it: "\"10.0.0.300/8\" is not an IPv4 or
// IPv6 prefix", the same with " (the length must be 0 .. 32)", or, with the likely intent,
// "\"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?".
Parsed<Prefix> read_prefix(std::string_view text);

// The first `length` bits of `addr`, the rest zeroed.
Address mask(const Address &addr, std::uint32_t length);

} // namespace ratelimit
