// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/map_rule_table.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "ratelimit/gcra.h"

namespace ratelimit
{

std::vector<InstalledRule> installed_rules(const Datapath &dp)
{
    std::map<std::uint32_t, InstalledRule> by_index;
    auto prefixes = dp.prefixes();
    for (const auto &key : prefixes.keys()) {
        auto target = prefixes.lookup(key);
        if (!target || target->rule == RL_NO_RULE)
            continue; // removed meanwhile, or the IPv4 space with no rule (ipv4_space_key)
        Prefix prefix;
        prefix.length = key.prefixlen;
        std::memcpy(prefix.address.bytes.data(), key.addr, RL_ADDR_LEN);
        auto &rule = by_index[target->rule];
        rule.index = target->rule;
        rule.prefixes.push_back(prefix);
    }
    std::vector<InstalledRule> out;
    for (auto &[index, rule] : by_index) {
        rule.rule = dp.rules().lookup(index).value_or(rl_rule{});
        std::sort(rule.prefixes.begin(), rule.prefixes.end());
        out.push_back(std::move(rule));
    }
    return out;
}

void DatapathRuleTable::write_rule(std::uint32_t index, const rl_rule &rule)
{
    // A slot being reused starts with full buckets, and counts its own bans.
    for (std::uint32_t i = 0; i < RL_MAX_LIMITS; i++)
        dp_.rule_buckets().update(rl_rule_bucket_slot(index, i), rl_bucket{});
    dp_.ban_counts().update(index, rl_ban_counts{});
    dp_.rules().update(index, rule);
}

void DatapathRuleTable::rewrite_rule(std::uint32_t index, const rl_rule &previous,
                                     const rl_rule &rule)
{
    // The program may read the rule while it is rewritten: for that packet, a mix of old and new
    // limits applies, each of them sound on its own.
    dp_.rules().update(index, rule);
    carry_buckets(index, previous, rule);
}

// Each limit present before and after keeps its sources' tokens (rl_gcra_rescale): a higher
// rate or burst does not refill anyone, a lower one does not lock anyone out.
void DatapathRuleTable::carry_buckets(std::uint32_t index, const rl_rule &previous,
                                      const rl_rule &rule)
{
    const std::uint32_t carried = std::min(previous.nlimits, rule.nlimits);
    if (rule.action != RL_ACTION_LIMIT || previous.action != RL_ACTION_LIMIT || carried == 0)
        return;
    const std::uint64_t now = bucket_now(previous);
    auto rescale = [&](std::uint32_t i, __u64 tat) {
        return rl_gcra_rescale(tat, now, &previous.limits[i], &rule.limits[i]);
    };

    auto sources = dp_.sources();
    for (const auto &key : sources.keys()) {
        auto src = sources.lookup(key);
        if (!src || src->rule != index)
            continue;
        for (std::uint32_t i = 0; i < carried; i++)
            if (rule.limits[i].per == RL_PER_SOURCE)
                src->tat[i] = rescale(i, src->tat[i]);
        sources.update(key, *src, BPF_EXIST);
    }
    auto blocks = dp_.blocks();
    for (const auto &key : blocks.keys()) {
        if (key.rule != index || key.limit >= carried)
            continue;
        if (auto bucket = blocks.lookup(key))
            blocks.update(key, rl_bucket{rescale(key.limit, bucket->tat)}, BPF_EXIST);
    }
    for (std::uint32_t i = 0; i < carried; i++) {
        if (rule.limits[i].per != RL_PER_RULE)
            continue; // that slot is no bucket of this rule's
        const std::uint32_t slot = rl_rule_bucket_slot(index, i);
        if (auto bucket = dp_.rule_buckets().lookup(slot))
            dp_.rule_buckets().update(slot, rl_bucket{rescale(i, bucket->tat)});
    }
}

void DatapathRuleTable::put_prefix(const Prefix &prefix, std::uint32_t index)
{
    dp_.prefixes().update(prefix.key(), rl_prefix_value{index});
}

void DatapathRuleTable::remove_prefix(const Prefix &prefix)
{
    // 0.0.0.0/0 is never removed, only left with no rule (in one update: IPv4 is never without
    // it), so that no IPv6 prefix becomes an IPv4 source's longest match.
    const rl_prefix_key key = prefix.key();
    if (is_ipv4_space(key))
        dp_.prefixes().update(key, rl_prefix_value{RL_NO_RULE});
    else
        dp_.prefixes().erase(key);
}

void DatapathRuleTable::free_rule(std::uint32_t index)
{
    dp_.rules().update(index, rl_rule{});
}

void DatapathRuleTable::publish()
{
    dp_.publish_rules();
}

} // namespace ratelimit
