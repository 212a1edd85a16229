// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// HOST:PORT, as a listening address is written: "127.0.0.1:9469", "[::1]:9469",
// "localhost:9469".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ratelimit
{

struct Endpoint {
    std::string host; // an IPv4 or IPv6 address (without its brackets), or a host name
    std::uint16_t port = 0;
    bool operator==(const Endpoint &) const = default;
};

struct EndpointParse {
    std::optional<Endpoint> endpoint;
    std::string problem; // when there is no endpoint: "has no port 1 .. 65535 after the last ':'"
};

// The endpoint `text` names, or what is wrong with it (worded to follow the quoted text).
EndpointParse parse_endpoint(std::string_view text);

} // namespace ratelimit
