// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "net/address.hpp"

#include "ratelimit/abi.h"

#include "json/text.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ratelimit
{

namespace
{

constexpr std::array<std::uint8_t, 12> kV4MappedHead = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

} // namespace

bool Address::is_v4() const
{
    return std::memcmp(bytes.data(), kV4MappedHead.data(), kV4MappedHead.size()) == 0;
}

std::string Address::to_string() const
{
    char text[INET6_ADDRSTRLEN];
    if (is_v4())
        inet_ntop(AF_INET, bytes.data() + 12, text, sizeof(text));
    else
        inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
    return text;
}

rl_source_key Address::key() const
{
    rl_source_key key{};
    std::memcpy(key.addr, bytes.data(), RL_ADDR_LEN);
    return key;
}

std::uint32_t Prefix::family_length() const
{
    return is_v4() ? length - RL_IPV4_MAPPED_PREFIXLEN : length;
}

std::string Prefix::to_string() const
{
    return address.to_string() + "/" + std::to_string(family_length());
}

bool Prefix::contains(const Address &addr) const
{
    return mask(addr, length) == address;
}

Address mask(const Address &addr, std::uint32_t length)
{
    Address out = addr;
    rl_mask_addr(out.bytes.data(), length);
    return out;
}

std::optional<Address> parse_address(std::string_view text)
{
    // inet_pton reads up to a NUL: "10.4.0.9\0 <- harmless" would pass as 10.4.0.9.
    if (control_character_problem(text))
        return std::nullopt;
    std::string s(text);
    Address addr;
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        RL_ADDR_FROM_IPV4(addr.bytes.data(), &v4);
        return addr;
    }
    if (inet_pton(AF_INET6, s.c_str(), addr.bytes.data()) == 1)
        return addr;
    return std::nullopt;
}

Parsed<Prefix> read_prefix(std::string_view text)
{
    const std::string not_a_prefix = quote(text) + " is not an IPv4 or IPv6 prefix";
    auto slash = text.find('/');
    auto addr = parse_address(text.substr(0, slash));
    if (!addr)
        return {std::nullopt, not_a_prefix};
    // "::ffff:a.b.c.d" parses as IPv4-mapped too; its length is then counted in IPv6 bits.
    bool v4_syntax = text.substr(0, slash).find(':') == std::string_view::npos;
    std::uint32_t max_len = v4_syntax ? 32 : 128;
    std::uint32_t len = max_len;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
        if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
            len > max_len)
            return {std::nullopt,
                    not_a_prefix + " (the length must be 0 .. " + std::to_string(max_len) + ")"};
    }
    Prefix prefix{*addr, v4_syntax ? len + RL_IPV4_MAPPED_PREFIXLEN : len};
    Prefix intended{mask(prefix.address, prefix.length), prefix.length};
    if (intended != prefix) // host bits set: almost always a typo, never silently widened
        return {std::nullopt,
                quote(text) + " has host bits set; did you mean " + intended.to_string() + "?"};
    return {prefix, ""};
}

std::optional<Prefix> parse_prefix(std::string_view text)
{
    return read_prefix(text).value;
}

} // namespace ratelimit
