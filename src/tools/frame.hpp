// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Builds Ethernet frames for tests, benchmarks and the traffic generator: optional VLAN tags,
// IPv4 (with options, or a deliberately wrong IHL) or IPv6 (with extension headers), UDP, ARP.
// Checksums are filled in; lengths follow what was added unless overridden.

#include <cstdint>
#include <optional>
#include <vector>

#include "net/address.hpp"

namespace ratelimit
{

using Frame = std::vector<std::uint8_t>;

class FrameBuilder
{
  public:
    static constexpr std::uint16_t kTpid8021Q = 0x8100;
    static constexpr std::uint16_t kTpid8021AD = 0x88a8;

    FrameBuilder &vlan(std::uint16_t tpid, std::uint16_t vid);
    // IPv4 or IPv6 by the family of `source` (IPv4-mapped means IPv4).
    FrameBuilder &ip(const Address &source, const Address &destination);
    FrameBuilder &ipv4_options(std::uint8_t bytes); // multiple of 4, at most 40
    FrameBuilder &ipv4_ihl(std::uint8_t ihl);       // write this IHL whatever the options
    FrameBuilder &ipv4_fragment(std::uint16_t offset_bytes, bool more_fragments);
    // IPv6 extension header by protocol number (0, 43, 44, 51, 60), in chain order.
    FrameBuilder &ipv6_extension(std::uint8_t type);
    FrameBuilder &udp_payload(std::uint16_t bytes); // default 18: a 64-byte IPv4 frame
    FrameBuilder &arp();

    Frame build() const;

  private:
    void put_l3_ipv4(Frame &out, std::size_t l4_len) const;
    void put_l3_ipv6(Frame &out, std::size_t l4_len) const;

    std::vector<std::pair<std::uint16_t, std::uint16_t>> vlans_;
    std::optional<Address> source_;
    Address destination_{};
    std::uint8_t ipv4_options_ = 0;
    std::optional<std::uint8_t> ipv4_ihl_;
    std::uint16_t ipv4_frag_ = 0;
    std::vector<std::uint8_t> ipv6_ext_;
    std::uint16_t payload_ = 18;
    bool arp_ = false;
};

} // namespace ratelimit
