// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/desired.hpp"

#include <algorithm>
#include <map>
#include <utility>

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
    std::map<std::pair<Selector, Prefix>, DesiredRule> by_prefix;
    for (const auto &rule : config.rules)
        by_prefix[{rule.selector, rule.match}] = {
            {rule.match}, compile(rule), Origin::Config, rule.selector};
    for (const auto &r : runtime)
        if (!r.expires || *r.expires > now)
            by_prefix[{r.rule.selector, r.rule.match}] = {
                {r.rule.match}, compile(r.rule), Origin::Runtime, r.rule.selector};

    std::vector<DesiredRule> out;
    out.reserve(by_prefix.size() + 1);
    for (auto &[prefix, rule] : by_prefix)
        out.push_back(std::move(rule));

    if (!config.default_limits.empty()) {
        DesiredRule fallback{
            {}, compile_rule(RL_ACTION_LIMIT, config.default_limits, false), Origin::Default};
        for (const char *everything : {"::/0", "0.0.0.0/0"}) {
            Prefix p = *parse_prefix(everything);
            if (!by_prefix.contains({Selector{}, p}))
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
