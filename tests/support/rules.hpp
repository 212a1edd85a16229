// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Rules and limits as tests build them, whatever module they test: limits, config rules (built
// by hand or read by the config's own parser), and what the program's rules map holds.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "policy/rule_json.hpp"
#include "datapath/compile.hpp"
#include "net/address.hpp"
#include "policy/rule.hpp"

namespace ratelimit::test
{

// `rate` packets a second, bursts of `burst`.
inline LimitSpec packet_limit(std::uint64_t rate, std::uint64_t burst, rl_per per = RL_PER_SOURCE,
                              std::uint32_t per_prefixlen = 0)
{
    return {RL_UNIT_PACKETS, rate, burst, per, per_prefixlen};
}

// `rate` bytes a second, bursts of `burst`.
inline LimitSpec byte_limit(std::uint64_t rate, std::uint64_t burst, rl_per per = RL_PER_SOURCE,
                            std::uint32_t per_prefixlen = 0)
{
    return {RL_UNIT_BYTES, rate, burst, per, per_prefixlen};
}

// A rule limiting `match` to `rate` packets a second per source, bursts of `burst` (of `rate`
// if not given).
inline Rule limit_rule(const char *match, std::uint64_t rate,
                       std::optional<std::uint64_t> burst = std::nullopt)
{
    Rule rule;
    rule.match = {parse_prefix(match).value()};
    rule.text = match;
    rule.limits = {packet_limit(rate, burst.value_or(rate))};
    return rule;
}

// A rule that allows or denies `match`.
inline Rule action_rule(const char *match, rl_action action)
{
    Rule rule;
    rule.match = {parse_prefix(match).value()};
    rule.text = match;
    rule.action = action;
    return rule;
}

// One rule's JSON as the config reads it; throws std::invalid_argument with the first error.
inline Rule parsed_rule(std::string_view text)
{
    auto result = parse_rule(nlohmann::json::parse(text), "rule");
    if (!result.value)
        throw std::invalid_argument(std::string(text) + ": " + result.errors.front().to_string());
    return *result.value;
}

// What the program's rules map holds for a rule of `limits`.
inline rl_rule compiled_limit_rule(std::initializer_list<LimitSpec> limits, bool monitor = false)
{
    return compile_rule(RL_ACTION_LIMIT, {limits.begin(), limits.size()}, monitor);
}

} // namespace ratelimit::test
