// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "tools/frame.hpp"

#include <netinet/in.h>

#include <stdexcept>

namespace ratelimit
{

namespace
{

constexpr std::uint8_t kDstMac[6] = {0x02, 0, 0, 0, 0, 0x02};
constexpr std::uint8_t kSrcMac[6] = {0x02, 0, 0, 0, 0, 0x01};
constexpr std::uint16_t kEthIPv4 = 0x0800, kEthIPv6 = 0x86dd, kEthArp = 0x0806;
constexpr std::uint8_t kProtoUdp = IPPROTO_UDP, kProtoAh = IPPROTO_AH;

void put16(Frame &out, std::uint16_t v)
{
    out.push_back(v >> 8);
    out.push_back(v & 0xff);
}

void put_bytes(Frame &out, const std::uint8_t *p, std::size_t n)
{
    out.insert(out.end(), p, p + n);
}

// RFC 1071 one's complement sum over [begin, begin + len).
std::uint16_t checksum(const std::uint8_t *p, std::size_t len, std::uint32_t sum = 0)
{
    for (std::size_t i = 0; i + 1 < len; i += 2)
        sum += (p[i] << 8) | p[i + 1];
    if (len & 1)
        sum += p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void put_udp(Frame &out, std::uint16_t payload)
{
    put16(out, 40000);       // source port
    put16(out, 9);           // destination port: discard
    put16(out, 8 + payload); // length
    put16(out, 0);           // checksum: optional for IPv4, filled for IPv6 below
    out.insert(out.end(), payload, 0x5a);
}

} // namespace

FrameBuilder &FrameBuilder::vlan(std::uint16_t tpid, std::uint16_t vid)
{
    vlans_.emplace_back(tpid, vid);
    return *this;
}

FrameBuilder &FrameBuilder::ip(const Address &source, const Address &destination)
{
    if (source.is_v4() != destination.is_v4())
        throw std::invalid_argument("frame: source and destination of different families");
    source_ = source;
    destination_ = destination;
    return *this;
}

FrameBuilder &FrameBuilder::ipv4_options(std::uint8_t bytes)
{
    if (bytes % 4 || bytes > 40)
        throw std::invalid_argument("frame: IPv4 options are 0 to 40 bytes in steps of 4");
    ipv4_options_ = bytes;
    return *this;
}

FrameBuilder &FrameBuilder::ipv4_ihl(std::uint8_t ihl)
{
    ipv4_ihl_ = ihl;
    return *this;
}

FrameBuilder &FrameBuilder::ipv4_fragment(std::uint16_t offset_bytes, bool more_fragments)
{
    ipv4_frag_ = static_cast<std::uint16_t>((offset_bytes / 8) | (more_fragments ? 0x2000 : 0));
    return *this;
}

FrameBuilder &FrameBuilder::ipv6_extension(std::uint8_t type)
{
    ipv6_ext_.push_back(type);
    return *this;
}

FrameBuilder &FrameBuilder::udp_payload(std::uint16_t bytes)
{
    payload_ = bytes;
    return *this;
}

FrameBuilder &FrameBuilder::arp()
{
    arp_ = true;
    return *this;
}

void FrameBuilder::put_l3_ipv4(Frame &out, std::size_t l4_len) const
{
    std::size_t start = out.size();
    std::uint8_t header_len = 20 + ipv4_options_;
    std::uint8_t ihl = ipv4_ihl_.value_or(header_len / 4);
    out.push_back(0x40 | (ihl & 0x0f));
    out.push_back(0); // DSCP/ECN
    put16(out, static_cast<std::uint16_t>(header_len + l4_len));
    put16(out, 0x1234); // identification
    put16(out, ipv4_frag_);
    out.push_back(64); // TTL
    out.push_back(IPPROTO_UDP);
    put16(out, 0); // checksum, below
    put_bytes(out, source_->bytes.data() + 12, 4);
    put_bytes(out, destination_.bytes.data() + 12, 4);
    for (int i = 0; i < ipv4_options_; i++)
        out.push_back(i + 1 == ipv4_options_ ? 0 : 1); // NOPs, then end of options
    std::uint16_t sum = checksum(out.data() + start, header_len);
    out[start + 10] = sum >> 8;
    out[start + 11] = sum & 0xff;
}

void FrameBuilder::put_l3_ipv6(Frame &out, std::size_t l4_len) const
{
    std::size_t ext_len = 0;
    for (auto type : ipv6_ext_)
        ext_len += type == kProtoAh ? 16 : 8;
    out.push_back(0x60);
    out.push_back(0);
    put16(out, 0); // flow label
    put16(out, static_cast<std::uint16_t>(ext_len + l4_len));
    out.push_back(ipv6_ext_.empty() ? kProtoUdp : ipv6_ext_.front());
    out.push_back(64); // hop limit
    put_bytes(out, source_->bytes.data(), 16);
    put_bytes(out, destination_.bytes.data(), 16);
    for (std::size_t i = 0; i < ipv6_ext_.size(); i++) {
        std::uint8_t type = ipv6_ext_[i];
        std::uint8_t next = i + 1 < ipv6_ext_.size() ? ipv6_ext_[i + 1] : kProtoUdp;
        out.push_back(next);
        if (type == kProtoAh) {
            out.push_back(2); // (16 / 4) - 2
            out.insert(out.end(), 14, 0);
        } else {
            out.push_back(0); // fragment: reserved; others: (8 / 8) - 1
            out.insert(out.end(), 6, 0);
        }
    }
}

Frame FrameBuilder::build() const
{
    Frame out;
    put_bytes(out, kDstMac, 6);
    put_bytes(out, kSrcMac, 6);
    for (auto [tpid, vid] : vlans_) {
        put16(out, tpid);
        put16(out, vid & 0x0fff);
    }
    if (arp_ || !source_) {
        put16(out, kEthArp);
        static constexpr std::uint8_t kArpRequest[28] = {
            0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2};
        put_bytes(out, kArpRequest, sizeof(kArpRequest));
        return out;
    }
    std::size_t l4_len = 8 + payload_;
    if (source_->is_v4()) {
        put16(out, kEthIPv4);
        put_l3_ipv4(out, l4_len);
        put_udp(out, payload_);
    } else {
        put16(out, kEthIPv6);
        put_l3_ipv6(out, l4_len);
        std::size_t udp_start = out.size();
        put_udp(out, payload_);
        // IPv6 UDP checksum over the pseudo-header (addresses, length, next header) and datagram.
        std::uint32_t sum = 0;
        const std::uint8_t *addrs[] = {source_->bytes.data(), destination_.bytes.data()};
        for (auto *a : addrs)
            for (int i = 0; i < 16; i += 2)
                sum += (a[i] << 8) | a[i + 1];
        sum += static_cast<std::uint32_t>(l4_len) + IPPROTO_UDP;
        std::uint16_t c = checksum(out.data() + udp_start, l4_len, sum);
        if (c == 0)
            c = 0xffff;
        out[udp_start + 6] = c >> 8;
        out[udp_start + 7] = c & 0xff;
    }
    return out;
}

} // namespace ratelimit
