// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The policy's words: a limit as a user states it. Pure: config, state, control and the CLI all
// speak in these types; the data path compiles them (datapath/compile.hpp).

#include <cstdint>

#include "ratelimit/abi.h"

namespace ratelimit
{

// Enforce: drops what the rules say to drop. Monitor: counts it as a would-drop, passes it.
enum class Mode { Enforce, Monitor };
// How the program is attached: native (in the driver), generic (after the skb is made), or
// native where the driver supports it, else generic.
enum class XdpMode { Auto, Native, Generic };
// Where a rule in force comes from.
enum class Origin { Config, Runtime, Default };

struct LimitSpec {
    rl_unit unit = RL_UNIT_PACKETS;
    std::uint64_t rate = 0;  // units per second, >= 1
    std::uint64_t burst = 0; // units, >= 1
    rl_per per = RL_PER_SOURCE;
    std::uint32_t per_prefixlen = 0; // RL_PER_PREFIX: in IPv6 (or mapped) bits
    auto operator<=>(const LimitSpec &) const = default;
};

} // namespace ratelimit
