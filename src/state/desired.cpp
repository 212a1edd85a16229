// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/desired.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "json/text.hpp"
#include "datapath/compile.hpp"
#include "policy/names.hpp"

namespace ratelimit
{

std::string to_string(Origin origin)
{
    return std::string(name_of(kOriginNames, origin));
}

namespace
{

rl_rule compile(const Rule &rule)
{
    return compile_rule(rule.action, rule.limits, rule.monitor, rule.ban);
}

} // namespace

std::vector<DesiredRule> desired_rules(const config::Config &config,
                                       const std::vector<RuntimeRule> &runtime,
                                       WallClock::time_point now)
{
    // A runtime rule (one prefix) wins over a config rule with its selector for its prefix: the
    // config rule keeps the rest of its set. Time in the number of prefixes, not prefixes times
    // rules.
    std::map<std::pair<Selector, Prefix>, DesiredRule> by_prefix;
    for (const auto &r : runtime)
        if (!r.expires || *r.expires > now)
            for (const auto &p : r.rule.match)
                by_prefix[{r.rule.selector, p}] = {
                    {p}, compile(r.rule), Origin::Runtime, r.rule.selector, r.rule.name};
    std::vector<DesiredRule> out;
    out.reserve(config.rules.size() + by_prefix.size() + 1);
    for (const auto &rule : config.rules) {
        DesiredRule wanted{{}, compile(rule), Origin::Config, rule.selector, rule.name};
        wanted.prefixes.reserve(rule.match.size());
        for (const auto &p : rule.match)
            if (!by_prefix.contains({rule.selector, p}))
                wanted.prefixes.push_back(p); // sorted, as rule.match is
        if (!wanted.prefixes.empty())
            out.push_back(std::move(wanted));
    }
    for (auto &[prefix, rule] : by_prefix)
        out.push_back(std::move(rule));
    // Whether a catch-all rule names `p`: then the default does not.
    auto named = [&](const Prefix &p) {
        return by_prefix.contains({Selector{}, p}) ||
               std::ranges::any_of(config.rules, [&](const Rule &rule) {
                   return rule.selector == Selector{} && std::ranges::binary_search(rule.match, p);
               });
    };

    if (!config.default_limits.empty()) {
        DesiredRule fallback{
            {}, compile_rule(RL_ACTION_LIMIT, config.default_limits, false), Origin::Default};
        for (const char *everything : {"::/0", "0.0.0.0/0"}) {
            Prefix p = *parse_prefix(everything);
            if (!named(p))
                fallback.prefixes.push_back(p);
        }
        std::sort(fallback.prefixes.begin(), fallback.prefixes.end());
        if (!fallback.prefixes.empty())
            out.push_back(std::move(fallback));
    }
    return out;
}

JsonErrors name_clashes(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                        Changed changed)
{
    std::map<std::string, std::size_t, std::less<>> config_rule; // by name: its index
    for (std::size_t i = 0; i < config.rules.size(); i++)
        if (!config.rules[i].name.empty())
            config_rule.emplace(config.rules[i].name, i);
    auto config_place = [&](std::size_t i) {
        return "rules[" + std::to_string(i) + "] (" + config.rules[i].text + ")";
    };
    auto runtime_place = [](const Rule &rule) {
        return "the runtime rule for " + rule.match.front().to_string();
    };
    const std::string unique = ": names are unique across config and runtime rules";
    JsonErrors clashes;
    std::map<std::string, const Rule *, std::less<>> runtime_rule; // by name: the first
    for (const auto &r : runtime) {
        const Rule &rule = r.rule;
        if (rule.name.empty())
            continue;
        const std::string name = quote(rule.name);
        if (auto first = runtime_rule.emplace(rule.name, &rule); !first.second)
            clashes.push_back({"name", name + " of " + runtime_place(rule) + " is the name of " +
                                           runtime_place(*first.first->second) + " too" + unique});
        auto in_config = config_rule.find(rule.name);
        if (in_config == config_rule.end())
            continue;
        if (changed == Changed::Config)
            clashes.push_back({"rules[" + std::to_string(in_config->second) + "].name",
                               name + " is the name of " + runtime_place(rule) + " too" + unique});
        else
            clashes.push_back({"name", name + " of " + runtime_place(rule) + " is the name of " +
                                           config_place(in_config->second) + " too" + unique});
    }
    return clashes;
}

bool rules_ban(const config::Config &config, const std::vector<RuntimeRule> &runtime)
{
    auto bans = [](const Rule &rule) { return rule.ban.has_value(); };
    return std::ranges::any_of(config.rules, bans) ||
           std::ranges::any_of(runtime, [&](const RuntimeRule &r) { return bans(r.rule); });
}

std::uint32_t desired_settings_flags(const config::Config &config, bool bans_may_apply)
{
    std::uint32_t flags = bans_may_apply ? RL_SETTINGS_BANS : 0;
    if (config.mode == config::Mode::Monitor)
        flags |= RL_SETTINGS_MONITOR;
    if (config.drop_malformed)
        flags |= RL_SETTINGS_DROP_MALFORMED;
    return flags;
}

} // namespace ratelimit
