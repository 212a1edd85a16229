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
    // Both maps are read in batches (the trie's through the kernel's generic batch read, which
    // walks it by next key in the kernel): a few system calls, not two per prefix.
    std::map<std::uint32_t, InstalledRule> by_index;
    dp.prefixes().for_each([&](const rl_prefix_key &key, const rl_prefix_value &target) {
        if (target.rule == RL_NO_RULE)
            return; // the IPv4 space with no rule (ipv4_space_key)
        auto &rule = by_index[target.rule];
        rule.index = target.rule;
        rule.prefixes.push_back(prefix_of_key(key));
    });
    if (by_index.empty())
        return {};
    dp.rules().for_each([&](const std::uint32_t &index, const rl_rule &rule) {
        if (auto it = by_index.find(index); it != by_index.end())
            it->second.rule = rule;
    });
    std::vector<InstalledRule> out;
    out.reserve(by_index.size());
    for (auto &[index, rule] : by_index) {
        std::sort(rule.prefixes.begin(), rule.prefixes.end());
        out.push_back(std::move(rule));
    }
    return out;
}

void DatapathRuleTable::write_rules(std::span<const RuleWrite> writes)
{
    // A slot being reused starts with full buckets, before the rule is there to use them, and
    // counts its own bans and its own traffic.
    std::vector<std::uint32_t> slots, indexes;
    std::vector<rl_rule> rules;
    for (const auto &w : writes) {
        for (std::uint32_t i = 0; i < RL_MAX_LIMITS; i++)
            slots.push_back(rl_rule_bucket_slot(w.index, i));
        indexes.push_back(w.index);
        rules.push_back(w.rule);
    }
    dp_.rule_buckets().update(slots, std::vector<rl_bucket>(slots.size()));
    dp_.rule_counts().zero(indexes);
    dp_.rules().update(indexes, rules);
}

void DatapathRuleTable::rewrite_rules(std::span<const RuleRewrite> rewrites)
{
    // The program may read a rule while it is rewritten, or before its buckets are carried: for
    // that packet, a mix of old and new limits applies, each of them sound on its own.
    std::vector<std::uint32_t> indexes;
    std::vector<rl_rule> rules;
    for (const auto &r : rewrites) {
        indexes.push_back(r.index);
        rules.push_back(r.rule);
    }
    dp_.rules().update(indexes, rules);
    carry_buckets(rewrites);
}

namespace
{

// The limits whose buckets a rewrite carries: those present before and after, when the rule
// limits both times. None for a rule that was or becomes allow or deny.
std::uint32_t carried_limits(const RuleRewrite &r)
{
    if (r.rule.action != RL_ACTION_LIMIT || r.previous.action != RL_ACTION_LIMIT)
        return 0;
    return std::min(r.previous.nlimits, r.rule.nlimits);
}

__u64 rescale(const RuleRewrite &r, std::uint32_t limit, __u64 tat)
{
    return rl_gcra_rescale(tat, bucket_now(r.previous), &r.previous.limits[limit],
                           &r.rule.limits[limit]);
}

// Rescales *tat and says whether that changed anything: a TAT not ahead of now is a full bucket
// under any limit, and stays as it is (most tracked sources are idle: they are not written).
bool carry_tat(const RuleRewrite &r, std::uint32_t limit, __u64 &tat)
{
    if (static_cast<__s64>(tat - bucket_now(r.previous)) <= 0)
        return false;
    tat = rescale(r, limit, tat);
    return true;
}

// Reads the map in batches and writes back, one batch at a time, the entries `carry` changed
// (it returns true for those): one pass, with a few system calls per thousand entries. Written
// back within its batch, a packet counted since the entry was read is lost, as with any
// read-modify-write from user space, but only for the moment one batch takes; an entry the LRU
// evicted in that moment comes back (the kernel takes no BPF_EXIST for a batch).
template <typename K, typename V, typename Carry>
void carry_in_batches(Map<K, V> map, Carry &&carry)
{
    std::vector<K> keys;
    std::vector<V> values;
    detail::lookup_in_batches<K, V>(
        map.fd(), map.name(), 1, [&](const K *batch_keys, const V *batch_values, std::uint32_t n) {
            keys.clear();
            values.clear();
            for (std::uint32_t i = 0; i < n; i++) {
                V value = batch_values[i];
                if (carry(batch_keys[i], value)) {
                    keys.push_back(batch_keys[i]);
                    values.push_back(value);
                }
            }
            // A hash map's batches go bucket by bucket, and an updated entry stays in its
            // bucket: the pass never sees an entry it wrote back.
            map.update(keys, values);
        });
}

} // namespace

// Each limit present before and after keeps its sources' tokens (rl_gcra_rescale): a higher
// rate or burst does not refill anyone, a lower one does not lock anyone out.
void DatapathRuleTable::carry_buckets(std::span<const RuleRewrite> rewrites)
{
    // The rewrite of each rule index (below the capacity, or the rules would not have been
    // written), for the sources and blocks that name it.
    std::vector<const RuleRewrite *> by_index(capacity(), nullptr);
    bool per_source = false, per_prefix = false;
    for (const auto &r : rewrites) {
        const std::uint32_t carried = carried_limits(r);
        if (carried == 0)
            continue;
        by_index[r.index] = &r;
        for (std::uint32_t i = 0; i < carried; i++) {
            per_source |= r.rule.limits[i].per == RL_PER_SOURCE;
            per_prefix |= r.rule.limits[i].per == RL_PER_PREFIX;
            if (r.rule.limits[i].per != RL_PER_RULE)
                continue; // that slot is no bucket of this rule's
            const std::uint32_t slot = rl_rule_bucket_slot(r.index, i);
            if (auto bucket = dp_.rule_buckets().lookup(slot))
                dp_.rule_buckets().update(slot, rl_bucket{rescale(r, i, bucket->tat)});
        }
    }
    auto rewrite_of = [&](std::uint32_t index) {
        return index < by_index.size() ? by_index[index] : nullptr;
    };
    if (per_source)
        carry_in_batches(dp_.sources(), [&](const rl_source_key &, rl_source &src) {
            const RuleRewrite *r = rewrite_of(src.rule);
            if (!r)
                return false;
            bool changed = false;
            for (std::uint32_t i = 0; i < carried_limits(*r); i++)
                if (r->rule.limits[i].per == RL_PER_SOURCE)
                    changed |= carry_tat(*r, i, src.tat[i]);
            return changed;
        });
    if (per_prefix)
        carry_in_batches(dp_.blocks(), [&](const rl_block_key &key, rl_bucket &bucket) {
            const RuleRewrite *r = rewrite_of(key.rule);
            if (!r || key.limit >= carried_limits(*r) ||
                r->rule.limits[key.limit].per != RL_PER_PREFIX)
                return false;
            return carry_tat(*r, key.limit, bucket.tat);
        });
}

void DatapathRuleTable::put_prefixes(std::span<const PrefixTarget> targets)
{
    std::vector<rl_prefix_key> keys;
    std::vector<rl_prefix_value> values;
    for (const auto &t : targets) {
        keys.push_back(prefix_key(t.prefix));
        values.push_back({t.index});
    }
    dp_.prefixes().update(keys, values);
}

void DatapathRuleTable::remove_prefixes(std::span<const Prefix> prefixes)
{
    // 0.0.0.0/0 is never removed, only left with no rule (in one update: IPv4 is never without
    // it), so that no IPv6 prefix becomes an IPv4 source's longest match.
    std::vector<rl_prefix_key> keys;
    for (const auto &prefix : prefixes) {
        const rl_prefix_key key = prefix_key(prefix);
        if (is_ipv4_space(key))
            dp_.prefixes().update(key, rl_prefix_value{RL_NO_RULE});
        else
            keys.push_back(key);
    }
    dp_.prefixes().erase(keys);
}

void DatapathRuleTable::free_rules(std::span<const std::uint32_t> indexes)
{
    dp_.rules().update(indexes, std::vector<rl_rule>(indexes.size()));
}

void DatapathRuleTable::publish()
{
    dp_.publish_rules();
}

} // namespace ratelimit
