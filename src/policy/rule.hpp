// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The policy's words: a limit as a user states it. Pure: config, state, control and the CLI all
// speak in these types; the data path compiles them (datapath/compile.hpp).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/address.hpp"
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

// Whose traffic a ban drops: the traffic of the rule that banned the source, or all of it.
enum class BanScope { Rule, All };

// A limit rule's automatic ban (the exact trigger and the growth: struct rl_ban in abi.h): a source
// that keeps exceeding the rule for more than `after` is banned for `duration` (doubled for a
// repeat offender).
struct BanSpec {
    std::chrono::milliseconds after{};
    std::chrono::milliseconds duration{}; // "for"
    BanScope scope = BanScope::Rule;
    auto operator<=>(const BanSpec &) const = default;
};

// What traffic a rule applies to besides its sources (PRODUCT.md, "Rules: selectors"): an IP
// protocol, for tcp and udp a set of destination ports, for tcp the SYN of a connection. Rules of
// one selector form a group; a rule without one (the default) is in the catch-all group, which
// selects all traffic.
enum class TcpFlags { Any, Syn }; // Syn: SYN set, ACK clear

struct PortRange {
    std::uint16_t first = 0, last = 0; // 1 .. 65535, first <= last
    auto operator<=>(const PortRange &) const = default;
};

inline constexpr std::uint8_t kProtoTcp = 6, kProtoUdp = 17;

struct Selector {
    std::optional<std::uint8_t> proto;  // IP protocol number; none: the catch-all
    std::vector<PortRange> ports;       // tcp/udp: sorted, disjoint, not adjacent; empty: all
    TcpFlags tcp_flags = TcpFlags::Any; // tcp only
    bool catch_all() const { return !proto; }
    auto operator<=>(const Selector &) const = default;
};

// A byte bucket smaller than one full-size Ethernet frame could never pass such a frame.
inline constexpr std::uint64_t kMinByteBurst = 1518;
inline constexpr std::size_t kMaxCommentBytes = 200;
// A rule's name: 1 to kMaxNameBytes of a-z, 0-9, '_', '.', '-', not only digits and dots (see
// rule_json.hpp: no name reads as an address or a prefix).
inline constexpr std::size_t kMaxNameBytes = 64;

// What to do with traffic from a set of prefixes: the rule object of the config file, of the
// runtime rule file and of ratelimitctl set/allow/deny (rule_json.hpp reads and writes it). All
// the prefixes share the one rule: one slot, one set of per-rule buckets.
struct Rule {
    std::vector<Prefix> match; // sorted, distinct; one for a runtime rule
    rl_action action = RL_ACTION_LIMIT;
    std::vector<LimitSpec> limits; // RL_ACTION_LIMIT: 1 .. RL_MAX_LIMITS; else empty
    bool monitor = false;          // count would-be drops of this rule, pass everything
    std::string text;              // the match as written (or the file), for error messages
    bool force = false;            // taken although it denies a whole address family
    std::string comment{};         // the operator's note, shown by ratelimitctl list
    std::optional<BanSpec> ban{};  // RL_ACTION_LIMIT only
    Selector selector{};           // the catch-all unless "proto" is given
    std::string name{};            // unique among all rules; empty: unnamed
    std::string match_file{};      // the file `match` was read from ("match_file"); empty: none
    // The same rule however its match was spelled: `text` is left out.
    bool operator==(const Rule &other) const
    {
        return match == other.match && match_file == other.match_file && action == other.action &&
               limits == other.limits && monitor == other.monitor && force == other.force &&
               comment == other.comment && ban == other.ban && selector == other.selector &&
               name == other.name;
    }
};

} // namespace ratelimit
