// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/desired.hpp"

#include <algorithm>
#include <map>

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
    // A runtime rule (one prefix) wins over a config rule for its prefix: the config rule keeps
    // the rest of its set. Time in the number of prefixes, not prefixes times rules.
    std::map<Prefix, DesiredRule> by_prefix;
    for (const auto &r : runtime)
        if (!r.expires || *r.expires > now)
            for (const auto &p : r.rule.match)
                by_prefix[p] = {{p}, compile(r.rule), Origin::Runtime};
    std::vector<DesiredRule> out;
    out.reserve(config.rules.size() + by_prefix.size() + 1);
    for (const auto &rule : config.rules) {
        DesiredRule wanted{{}, compile(rule), Origin::Config};
        wanted.prefixes.reserve(rule.match.size());
        for (const auto &p : rule.match)
            if (!by_prefix.contains(p))
                wanted.prefixes.push_back(p); // sorted, as rule.match is
        if (!wanted.prefixes.empty())
            out.push_back(std::move(wanted));
    }
    for (auto &[prefix, rule] : by_prefix)
        out.push_back(std::move(rule));
    auto named = [&](const Prefix &p) {
        return by_prefix.contains(p) || std::ranges::any_of(config.rules, [&](const Rule &rule) {
                   return std::ranges::binary_search(rule.match, p);
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

std::uint32_t desired_settings_flags(const config::Config &config)
{
    std::uint32_t flags = 0;
    if (config.mode == config::Mode::Monitor)
        flags |= RL_SETTINGS_MONITOR;
    if (config.drop_malformed)
        flags |= RL_SETTINGS_DROP_MALFORMED;
    return flags;
}

} // namespace ratelimit
