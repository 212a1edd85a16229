// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Desired state: what the data path should enforce, from the config and the runtime rules. Pure:
// no kernel, no clock of its own.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "json/validated.hpp"
#include "ratelimit/abi.h"

namespace ratelimit
{

using WallClock = std::chrono::system_clock;

// A rule added at run time (ratelimitctl), optionally expiring.
struct RuntimeRule {
    Rule rule;
    std::optional<WallClock::time_point> expires;
    bool operator==(const RuntimeRule &) const = default;
};

// Its word in kOriginNames (policy/names.hpp).
std::string to_string(Origin origin);

// One logical rule: the prefixes that select it (the default has two, ::/0 and 0.0.0.0/0), the
// traffic it applies to and the compiled rule. Its identity across reloads is its selector and
// prefix set.
struct DesiredRule {
    std::vector<Prefix> prefixes; // sorted
    rl_rule compiled{};
    Origin origin = Origin::Config;
    Selector selector{}; // the catch-all for the default
    std::string name{};  // the rule's name; empty: unnamed (the default always is)
};

// Runtime rules win over config rules for the same prefix and selector; rules win over the default
// for the prefix they name; expired runtime rules are left out.
std::vector<DesiredRule> desired_rules(const config::Config &config,
                                       const std::vector<RuntimeRule> &runtime,
                                       WallClock::time_point now);

// Which side of a name clash is the change being made (and so named first in its message).
enum class Changed { Config, Runtime };

// The names that two rules share (names are unique across config and runtime rules), one error
// each naming both: with the config `changed`, at "rules[2].name": "\"dns\" is the name of the
// runtime rule for 10.0.0.0/8 too ..."; with the runtime rules, at "name": "\"dns\" of the runtime
// rule for 11.0.0.0/8 is the name of rules[2] (10.0.0.0/8) too ...". Duplicates within the config
// are the config's to find (DistinctNames).
JsonErrors name_clashes(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                        Changed changed);

// Whether a config or runtime rule bans.
bool rules_ban(const config::Config &config, const std::vector<RuntimeRule> &runtime);

// The settings flags (rl_settings.flags): what the config asks for, and RL_SETTINGS_BANS if
// `bans_may_apply` (a rule bans, or rld_bans holds entries).
std::uint32_t desired_settings_flags(const config::Config &config, bool bans_may_apply);

} // namespace ratelimit
