// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Addresses and prefixes as the data path keys them: what parses and what is refused, IPv4 mapped
// into ::ffff:0:0/96, lengths in IPv6 bits, host bits, and text that reads back as it was given.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>

#include "net/address.hpp"

namespace ratelimit
{
namespace
{

Address address(std::string_view text)
{
    auto parsed = parse_address(text);
    EXPECT_TRUE(parsed) << text;
    return parsed.value_or(Address{});
}

Prefix prefix(std::string_view text)
{
    auto parsed = parse_prefix(text);
    EXPECT_TRUE(parsed) << text;
    return parsed.value_or(Prefix{});
}

TEST(Address, Ipv4IsStoredMappedIntoIpv6)
{
    const Address a = address("192.0.2.7");
    const std::uint8_t mapped[RL_ADDR_LEN] = {0, 0, 0,    0,    0,   0, 0, 0,
                                              0, 0, 0xff, 0xff, 192, 0, 2, 7};
    EXPECT_EQ(std::memcmp(a.bytes.data(), mapped, RL_ADDR_LEN), 0);
    EXPECT_TRUE(a.is_v4());
    EXPECT_EQ(a.to_string(), "192.0.2.7");
    // The mapped IPv6 spelling is the same address, and prints as IPv4.
    EXPECT_EQ(address("::ffff:192.0.2.7"), a);
    EXPECT_EQ(address("::ffff:c000:207"), a);
}

TEST(Address, Ipv6IsNotIpv4)
{
    for (const char *text : {"2001:db8::1", "::", "::1", "::fffe:192.0.2.7", "::ffff:0:0:1"}) {
        EXPECT_FALSE(address(text).is_v4()) << text;
    }
    EXPECT_TRUE(address("::ffff:0.0.0.0").is_v4());
}

TEST(Address, TextReadsBackAsItWasGiven)
{
    for (const char *text :
         {"0.0.0.0", "255.255.255.255", "10.1.2.3", "::", "::1", "2001:db8::", "fe80::1:2",
          "2001:db8:0:1:2:3:4:5", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
        EXPECT_EQ(address(text).to_string(), text);
        EXPECT_EQ(address(address(text).to_string()), address(text)) << text;
    }
    // Other spellings of one address print in the canonical form (RFC 5952).
    EXPECT_EQ(address("2001:0DB8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
}

TEST(Address, RefusesWhatIsNotOneAddress)
{
    for (std::string text :
         {"", " ", "10.0.0", "10.0.0.256", "10.0.0.1 ", " 10.0.0.1", "10.0.0.1/32",
          "1:2:3:4:5:6:7:8:9", "2001:db8:::1", "::g", "localhost", "0x0a000001", "10.0.0.01x"}) {
        EXPECT_FALSE(parse_address(text)) << '"' << text << '"';
    }
    // inet_pton stops at a NUL: what follows it must not pass unseen.
    EXPECT_FALSE(parse_address(std::string_view("10.4.0.9\0 <- harmless", 21)));
    EXPECT_FALSE(parse_address("10.4.0.9\n"));
}

TEST(Address, KeyIsTheBytes)
{
    const Address a = address("2001:db8::42");
    const rl_source_key key = a.key();
    EXPECT_EQ(std::memcmp(key.addr, a.bytes.data(), RL_ADDR_LEN), 0);
}

TEST(Address, OrderIsByteOrder)
{
    EXPECT_LT(address("10.0.0.1"), address("10.0.0.2"));
    EXPECT_LT(address("9.255.255.255"), address("10.0.0.0"));
    EXPECT_LT(address("::1"), address("10.0.0.1")) << "IPv4 sorts as ::ffff:a.b.c.d";
    EXPECT_LT(address("10.0.0.1"), address("2001:db8::"));
}

TEST(Prefix, Ipv4LengthsAreCountedInIpv6Bits)
{
    const Prefix p = prefix("10.1.0.0/16");
    EXPECT_EQ(p.length, 16u + RL_IPV4_MAPPED_PREFIXLEN);
    EXPECT_EQ(p.family_length(), 16u);
    EXPECT_TRUE(p.is_v4());
    EXPECT_EQ(p.to_string(), "10.1.0.0/16");

    EXPECT_EQ(prefix("0.0.0.0/0").length, RL_IPV4_MAPPED_PREFIXLEN);
    EXPECT_EQ(prefix("0.0.0.0/0").to_string(), "0.0.0.0/0");
    // Written in IPv6 syntax, a mapped prefix's length is IPv6 bits.
    EXPECT_EQ(prefix("::ffff:10.1.0.0/112"), p);
}

TEST(Prefix, ABareAddressIsAHostPrefix)
{
    EXPECT_EQ(prefix("10.1.2.3"), prefix("10.1.2.3/32"));
    EXPECT_EQ(prefix("10.1.2.3").length, 128u);
    EXPECT_EQ(prefix("10.1.2.3").to_string(), "10.1.2.3/32");
    EXPECT_EQ(prefix("2001:db8::1").length, 128u);
    EXPECT_EQ(prefix("2001:db8::1").to_string(), "2001:db8::1/128");
}

TEST(Prefix, Ipv6PrefixesBelowTheMappedSpaceAreNotIpv4)
{
    const Prefix all = prefix("::/0");
    EXPECT_FALSE(all.is_v4());
    EXPECT_EQ(all.family_length(), 0u);
    EXPECT_EQ(all.to_string(), "::/0");
    // ::/8 holds ::ffff:0:0/96, but it is an IPv6 prefix: written and read as one.
    EXPECT_FALSE(prefix("::/8").is_v4());
    EXPECT_EQ(prefix("::/8").to_string(), "::/8");
}

TEST(Prefix, TextReadsBackAsItWasGiven)
{
    for (const char *text :
         {"0.0.0.0/0", "10.0.0.0/8", "192.0.2.128/25", "255.255.255.255/32", "::/0",
          "2001:db8::/32", "2001:db8:1:2::/64", "fe80::/10", "2001:db8::1/128"}) {
        EXPECT_EQ(prefix(text).to_string(), text);
        EXPECT_EQ(prefix(prefix(text).to_string()), prefix(text)) << text;
    }
}

TEST(Prefix, RefusesHostBitsRatherThanWideningThePrefix)
{
    EXPECT_FALSE(parse_prefix("10.1.2.3/16"));
    EXPECT_FALSE(parse_prefix("10.0.0.1/31"));
    EXPECT_FALSE(parse_prefix("2001:db8::1/64"));
    EXPECT_FALSE(parse_prefix("::1/0"));
    EXPECT_TRUE(parse_prefix("10.0.0.0/31"));
}

TEST(Prefix, RefusesBadLengthsAndSyntax)
{
    for (const char *text : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8",
                             "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/0x8", "/8", "",
                             "10.0.0.0/99999999999", "10.0.0.300/8", "::ffff:10.0.0.0/129"}) {
        EXPECT_FALSE(parse_prefix(text)) << '"' << text << '"';
    }
}

TEST(Prefix, ContainsWhatItsLengthKeeps)
{
    const Prefix p = prefix("10.1.0.0/16");
    EXPECT_TRUE(p.contains(address("10.1.0.0")));
    EXPECT_TRUE(p.contains(address("10.1.255.255")));
    EXPECT_FALSE(p.contains(address("10.2.0.0")));
    EXPECT_FALSE(p.contains(address("::a01:0"))) << "an IPv6 address with the same low bits";

    EXPECT_TRUE(prefix("0.0.0.0/0").contains(address("203.0.113.9")));
    EXPECT_FALSE(prefix("0.0.0.0/0").contains(address("2001:db8::1")));
    EXPECT_TRUE(prefix("::/0").contains(address("2001:db8::1")));
    EXPECT_TRUE(prefix("::/0").contains(address("203.0.113.9"))) << "mapped, so inside ::/0";
}

TEST(Prefix, CoversTheSourcesOfItsOwnFamilyOnly)
{
    EXPECT_TRUE(prefix("::/0").covers(address("2001:db8::1")));
    EXPECT_FALSE(prefix("::/0").covers(address("203.0.113.9"))) << "an IPv6 rule, an IPv4 source";
    EXPECT_FALSE(prefix("::/8").covers(address("203.0.113.9")));
    EXPECT_TRUE(prefix("0.0.0.0/0").covers(address("203.0.113.9")));
    EXPECT_FALSE(prefix("0.0.0.0/0").covers(address("2001:db8::1")));
    EXPECT_TRUE(prefix("::ffff:0:0/96").covers(address("203.0.113.9")))
        << "0.0.0.0/0 spelled as IPv6";
    EXPECT_FALSE(prefix("10.1.0.0/16").covers(address("10.2.0.1")));
}

TEST(Mask, KeepsTheFirstBitsAndZeroesTheRest)
{
    const Address a = address("2001:db8:abcd:ef01:2345:6789:abcd:ef01");
    EXPECT_EQ(mask(a, 128), a);
    EXPECT_EQ(mask(a, 0), address("::"));
    EXPECT_EQ(mask(a, 64), address("2001:db8:abcd:ef01::"));
    EXPECT_EQ(mask(a, 36), address("2001:db8:a000::"));
    EXPECT_EQ(mask(a, 1), address("::")) << "2001: the first bit is 0";
    EXPECT_EQ(mask(address("192.0.2.255"), 96 + 25), address("192.0.2.128"));
    EXPECT_EQ(mask(address("192.0.2.255"), 96), address("::ffff:0.0.0.0"));
}

} // namespace
} // namespace ratelimit
