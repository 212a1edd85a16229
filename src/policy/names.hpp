// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The policy's spelling: one table per enum, read when parsing (config file, control requests,
// ratelimitctl's options) and when printing (runtime rule file, answers, rendering, metrics
// labels, the completion). Scripts and dashboards match on these words: they are stable.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/rule.hpp"
#include "ratelimit/abi.h"

namespace ratelimit
{

template <typename T>
struct Spelling {
    std::string_view name;
    T value;
};

// A table of spellings: every value of T once, in the order help and errors list them.
template <typename T, std::size_t N>
using Spellings = std::array<Spelling<T>, N>;

inline constexpr Spellings<rl_action, 3> kActionNames{
    {{"limit", RL_ACTION_LIMIT}, {"allow", RL_ACTION_ALLOW}, {"deny", RL_ACTION_DENY}}};
inline constexpr Spellings<Mode, 2> kModeNames{
    {{"enforce", Mode::Enforce}, {"monitor", Mode::Monitor}}};
inline constexpr Spellings<XdpMode, 3> kXdpModeNames{
    {{"auto", XdpMode::Auto}, {"native", XdpMode::Native}, {"generic", XdpMode::Generic}}};
// Who shares a bucket. A third form, "/N" (one bucket per /N block of sources), carries a
// number: rule_json.hpp reads and writes it.
inline constexpr Spellings<rl_per, 2> kPerNames{{{"source", RL_PER_SOURCE}, {"rule", RL_PER_RULE}}};
inline constexpr Spellings<rl_unit, 2> kUnitNames{
    {{"packets", RL_UNIT_PACKETS}, {"bytes", RL_UNIT_BYTES}}};
inline constexpr Spellings<rl_verdict, 2> kVerdictNames{
    {{"pass", RL_VERDICT_PASS}, {"drop", RL_VERDICT_DROP}}};
inline constexpr Spellings<rl_reason, RL_REASON_COUNT> kReasonNames{{
    {"non_ip", RL_REASON_NON_IP},
    {"malformed", RL_REASON_MALFORMED},
    {"no_rule", RL_REASON_NO_RULE},
    {"allowed", RL_REASON_ALLOWED},
    {"denied", RL_REASON_DENIED},
    {"conforming", RL_REASON_CONFORMING},
    {"over_limit", RL_REASON_OVER_LIMIT},
    {"untracked", RL_REASON_UNTRACKED},
    {"banned", RL_REASON_BANNED},
}};
inline constexpr Spellings<BanScope, 2> kBanScopeNames{
    {{"rule", BanScope::Rule}, {"all", BanScope::All}}};
// IP protocols by name ("proto"); any other is given by its number.
inline constexpr Spellings<std::uint8_t, 4> kProtoNames{
    {{"tcp", kProtoTcp}, {"udp", kProtoUdp}, {"icmp", 1}, {"icmpv6", 58}}};
inline constexpr Spellings<TcpFlags, 1> kTcpFlagNames{{{"syn", TcpFlags::Syn}}};
inline constexpr Spellings<Origin, 3> kOriginNames{
    {{"config", Origin::Config}, {"runtime", Origin::Runtime}, {"default", Origin::Default}}};

// The word for `value`; "unknown" for a value outside the table (a counter index from a newer
// program, say), so that printing never fails.
template <typename T, std::size_t N>
constexpr std::string_view name_of(const Spellings<T, N> &table, T value)
{
    for (const auto &entry : table)
        if (entry.value == value)
            return entry.name;
    return "unknown";
}

// The value `name` spells, exactly (names are lowercase; no other case is accepted).
template <typename T, std::size_t N>
constexpr std::optional<T> value_of(const Spellings<T, N> &table, std::string_view name)
{
    for (const auto &entry : table)
        if (entry.name == name)
            return entry.value;
    return std::nullopt;
}

// "limit, allow, deny" (or, with last = " or ", "limit, allow or deny"): how errors and help
// list the choices.
template <typename T, std::size_t N>
std::string list_names(const Spellings<T, N> &table, std::string_view last = ", ")
{
    std::string names;
    for (std::size_t i = 0; i < N; i++)
        names += std::string(i == 0 ? "" : i + 1 == N ? last : ", ") + std::string(table[i].name);
    return names;
}

} // namespace ratelimit
