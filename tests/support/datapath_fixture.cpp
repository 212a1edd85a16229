// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath_fixture.hpp"

#include <linux/bpf.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "rules.hpp"

namespace ratelimit::test
{

Address addr(std::string_view text)
{
    auto parsed = parse_address(text);
    if (!parsed)
        throw std::invalid_argument("test address " + std::string(text));
    return *parsed;
}

Prefix prefix(std::string_view text)
{
    auto parsed = parse_prefix(text);
    if (!parsed)
        throw std::invalid_argument("test prefix " + std::string(text));
    return *parsed;
}

Frame udp_from(std::string_view source, std::uint16_t payload)
{
    Address src = addr(source);
    Address dst = addr(src.is_v4() ? "198.51.100.1" : "2001:db8:ffff::1");
    return FrameBuilder().ip(src, dst).udp_payload(payload).build();
}

Frame udp6_from_mapped(std::string_view ipv4)
{
    const Address mapped = addr(ipv4);
    if (!mapped.is_v4())
        throw std::invalid_argument("not an IPv4 address: " + std::string(ipv4));
    Frame frame = udp_from("2001:db8::1");
    constexpr std::size_t kIpv6Source = 14 + 8; // after Ethernet, 8 bytes into the IPv6 header
    std::copy(mapped.bytes.begin(), mapped.bytes.end(), frame.begin() + kIpv6Source);
    return frame;
}

void DatapathTest::SetUp()
{
    RL_REQUIRE_BPF();
    dp_ = std::make_unique<Datapath>(options_);
}

std::uint32_t DatapathTest::add_rule(std::initializer_list<std::string_view> prefixes,
                                     const rl_rule &rule)
{
    std::uint32_t index = next_rule_++;
    dp_->rules().update(index, rule);
    for (auto text : prefixes)
        dp_->prefixes().update(prefix_key(prefix(text)), rl_prefix_value{index});
    dp_->publish_rules();
    return index;
}

std::uint32_t DatapathTest::add_limit(std::string_view prefix_text, const LimitSpec &limit)
{
    return add_rule({prefix_text}, compiled_limit_rule({limit}));
}

std::uint32_t DatapathTest::send(const Frame &frame)
{
    return run_xdp(dp_->program_fd(), frame).action;
}

std::uint32_t DatapathTest::passed_of(const Frame &frame, std::uint32_t count)
{
    std::uint32_t passed = 0;
    for (std::uint32_t i = 0; i < count; i++)
        passed += send(frame) == XDP_PASS;
    return passed;
}

std::uint64_t DatapathTest::packets(rl_reason reason, rl_verdict verdict) const
{
    return dp_->counter(reason, verdict).packets;
}

} // namespace ratelimit::test
