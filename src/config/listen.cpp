// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "config/listen.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "json/text.hpp"
#include "net/address.hpp"

namespace ratelimit::config
{

namespace
{

bool is_host_name(std::string_view host)
{
    auto name_character = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
    };
    auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
    // At least one letter, or "10.0.0.300" would pass as a name.
    return std::ranges::all_of(host, name_character) && std::ranges::any_of(host, letter);
}

std::optional<std::string> listen_problem(std::string_view listen)
{
    auto colon = listen.rfind(':');
    if (colon == std::string_view::npos)
        return "is not HOST:PORT, e.g. 127.0.0.1:9469";
    auto host = listen.substr(0, colon), port_text = listen.substr(colon + 1);
    unsigned port = 0;
    auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535)
        return "has no port 1 .. 65535 after the last ':'";
    if (host.starts_with('[') && host.ends_with(']'))
        host = host.substr(1, host.size() - 2);
    else if (host.find(':') != std::string_view::npos)
        return "needs brackets around an IPv6 address, e.g. [::1]:9469";
    if (!parse_address(host) && !is_host_name(host))
        return "has no valid host before the port (an IPv4 or IPv6 address, or a host name)";
    return std::nullopt;
}

} // namespace

std::optional<std::string> explain_bad_listen(std::string_view listen)
{
    auto problem = listen_problem(listen);
    return problem ? std::optional(quote(listen) + " " + *problem) : std::nullopt;
}

} // namespace ratelimit::config
