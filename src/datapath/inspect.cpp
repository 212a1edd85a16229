// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/inspect.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "datapath/compile.hpp"
#include "policy/rule_json.hpp"
#include "ratelimit/gcra.h"

namespace ratelimit
{

namespace
{

Address address_of(const std::uint8_t (&addr)[RL_ADDR_LEN])
{
    Address address;
    std::memcpy(address.bytes.data(), addr, RL_ADDR_LEN);
    return address;
}

// A bucket as the program's rl_limit_bucket() finds it: whose it is (and so how the config
// states its "per"), and its TAT. A bucket that does not exist yet reads as TAT 0: full.
struct FoundBucket {
    std::string per, owner;
    std::uint64_t tat = 0;
};

FoundBucket find_bucket(const Datapath &dp, std::uint32_t slot, std::uint32_t index,
                        const rl_limit &limit, const Address &source,
                        const std::optional<rl_source> &entry)
{
    const LimitSpec spec{.per = static_cast<rl_per>(limit.per),
                         .per_prefixlen = limit.per_prefixlen};
    std::string per = per_name(spec, source.is_v4());
    switch (limit.per) {
    case RL_PER_SOURCE: {
        // An entry cached for another rule has its buckets reset by the next packet.
        const bool current = entry && entry->rule == slot;
        return {std::move(per), source.to_string(), current ? entry->tat[index] : 0};
    }
    case RL_PER_RULE: {
        auto bucket = dp.rule_buckets().lookup(rl_rule_bucket_slot(slot, index));
        return {per, per, bucket.value_or(rl_bucket{}).tat};
    }
    default: {
        rl_block_key key{};
        RL_BLOCK_KEY_OF(&key, slot, index, source.bytes.data(), limit.per_prefixlen);
        const Prefix block{address_of(key.addr), limit.per_prefixlen};
        return {std::move(per), block.to_string(),
                dp.blocks().lookup(key).value_or(rl_bucket{}).tat};
    }
    }
}

// Sources in rank order: higher score first, then more packets, then the lower address.
struct RanksAbove {
    TrafficScore score;

    bool operator()(const SourceTraffic &a, const SourceTraffic &b) const
    {
        const auto rank = [this](const SourceTraffic &s) {
            return std::pair(score(s.traffic), all_packets(s.traffic));
        };
        if (rank(a) != rank(b))
            return rank(a) > rank(b);
        return a.address < b.address;
    }
};

// The `count` highest-ranked sources offered, in a heap whose top is the lowest of them.
class Ranking
{
  public:
    Ranking(std::size_t count, TrafficScore score) : count_(count), ranks_above_{score} {}

    void offer(const Address &address, const rl_source_counters &traffic)
    {
        SourceTraffic offered{address, traffic};
        if (count_ == 0 || (kept_.size() == count_ && !ranks_above_(offered, kept_.front())))
            return;
        kept_.push_back(offered);
        std::push_heap(kept_.begin(), kept_.end(), ranks_above_);
        if (kept_.size() > count_) {
            std::pop_heap(kept_.begin(), kept_.end(), ranks_above_);
            kept_.pop_back();
        }
    }

    std::vector<SourceTraffic> highest_first() &&
    {
        std::sort_heap(kept_.begin(), kept_.end(), ranks_above_);
        return std::move(kept_);
    }

  private:
    std::size_t count_;
    RanksAbove ranks_above_;
    std::vector<SourceTraffic> kept_;
};

} // namespace

std::vector<CounterRow> read_counters(const Datapath &dp,
                                      const std::vector<std::string> &interface_names)
{
    std::vector<CounterRow> rows;
    for (std::uint32_t slot = 0; slot < interface_names.size(); slot++) {
        for (int reason = 0; reason < RL_REASON_COUNT; reason++) {
            for (int verdict = 0; verdict < RL_VERDICT_COUNT; verdict++) {
                const auto r = static_cast<rl_reason>(reason);
                const auto v = static_cast<rl_verdict>(verdict);
                rows.push_back({interface_names[slot], slot, r, v, dp.counter(r, v, slot)});
            }
        }
    }
    return rows;
}

std::uint64_t dropped_packets(const rl_source_counters &traffic)
{
    return traffic.packets[RL_OUTCOME_DROPPED] + traffic.packets[RL_OUTCOME_WOULD_DROP];
}

std::uint64_t all_packets(const rl_source_counters &traffic)
{
    return traffic.packets[RL_OUTCOME_PASSED] + traffic.packets[RL_OUTCOME_DROPPED] +
           traffic.packets[RL_OUTCOME_WOULD_DROP];
}

std::uint64_t all_bytes(const rl_source_counters &traffic)
{
    return traffic.bytes[RL_OUTCOME_PASSED] + traffic.bytes[RL_OUTCOME_DROPPED] +
           traffic.bytes[RL_OUTCOME_WOULD_DROP];
}

SourceState inspect_source(const Datapath &dp, const Address &source)
{
    SourceState state;
    const rl_source_key key = source.key();
    state.traffic = dp.source_traffic(key);
    const std::optional<rl_source> entry = dp.sources().lookup(key);
    state.tracked = entry.has_value();

    // The program's own lookup: the whole address against the LPM trie.
    auto match = dp.prefixes().lookup(prefix_key(Prefix{source, RL_ADDR_LEN * 8}));
    if (!match || match->rule == RL_NO_RULE)
        return state;
    const std::uint32_t slot = match->rule;
    state.rule = slot;
    const rl_rule rule = dp.rules().lookup(slot).value_or(rl_rule{});
    if (rule.action != RL_ACTION_LIMIT)
        return state;
    const std::uint64_t now = bucket_now(rule);
    for (std::uint32_t i = 0; i < rule.nlimits; i++) {
        const rl_limit &limit = rule.limits[i];
        FoundBucket bucket = find_bucket(dp, slot, i, limit, source, entry);
        state.buckets.push_back({i, static_cast<rl_unit>(limit.unit), std::move(bucket.per),
                                 std::move(bucket.owner), rl_gcra_tokens(&limit, bucket.tat, now),
                                 rl_gcra_tokens(&limit, now, now)});
    }
    return state;
}

SourceRanking heaviest_sources(const Datapath &dp, std::size_t count, TrafficScore score)
{
    SourceRanking ranking;
    Ranking kept(count, score);
    dp.for_each_source_traffic([&](const rl_source_key &key, const rl_source_counters &traffic) {
        kept.offer(address_of(key.addr), traffic);
        ranking.scanned++;
    });
    ranking.heaviest = std::move(kept).highest_first();
    return ranking;
}

std::size_t tracked_sources(const Datapath &dp)
{
    std::size_t count = 0;
    dp.sources().for_each([&count](const rl_source_key &, const rl_source &) { count++; });
    return count;
}

ForgottenBuckets forget_buckets(const Datapath &dp, const std::optional<Prefix> &prefix)
{
    auto selected = [&prefix](const std::uint8_t(&addr)[RL_ADDR_LEN]) {
        return !prefix || prefix->covers(address_of(addr));
    };
    // The limit a bucket belongs to (none if its rule no longer has it), each rule read once.
    std::map<std::uint32_t, rl_rule> rules;
    auto limit_of = [&](std::uint32_t slot, std::uint32_t index) -> const rl_limit * {
        auto [rule, inserted] = rules.try_emplace(slot);
        if (inserted)
            rule->second = dp.rules().lookup(slot).value_or(rl_rule{});
        return index < rule->second.nlimits ? &rule->second.limits[index] : nullptr;
    };
    ForgottenBuckets forgotten;

    auto sources = dp.sources();
    std::vector<rl_source_key> source_keys;
    sources.for_each([&](const rl_source_key &key, const rl_source &entry) {
        if (selected(key.addr)) {
            source_keys.push_back(key);
            // Else the source would come back with its debt, which the sketch keeps.
            dp.forget_sketched(key, entry.rule);
        }
    });
    forgotten.sources = sources.erase(source_keys);
    dp.count_removed_sources(forgotten.sources);

    // A block lies inside the prefix if its masked address does and it is no wider (a wider one
    // is shared with sources outside the prefix, and stays). Its width is its limit's "/N".
    auto inside = [&](const rl_block_key &key) {
        if (!prefix)
            return true;
        const rl_limit *limit = limit_of(key.rule, key.limit);
        return selected(key.addr) && limit && limit->per_prefixlen >= prefix->length;
    };
    auto blocks = dp.blocks();
    std::vector<rl_block_key> block_keys;
    blocks.for_each([&](const rl_block_key &key, const rl_bucket &) {
        if (inside(key))
            block_keys.push_back(key);
    });
    forgotten.blocks = blocks.erase(block_keys);

    if (!prefix) {
        auto rule_buckets = dp.rule_buckets();
        std::vector<std::uint32_t> charged;
        rule_buckets.for_each([&](const std::uint32_t &slot, const rl_bucket &bucket) {
            const rl_limit *limit = limit_of(rl_rule_bucket_rule(slot), rl_rule_bucket_limit(slot));
            if (bucket.tat != 0 && limit && limit->per == RL_PER_RULE)
                charged.push_back(slot);
        });
        for (std::uint32_t slot : charged)
            rule_buckets.update(slot, rl_bucket{});
        forgotten.rule_buckets = charged.size();
    }
    dp.publish_rules(); // the CPUs' drop memos remember empty buckets: they must forget them too
    return forgotten;
}

std::map<std::string, RuleOutcomeCounts>
rule_counts_by_name(const Datapath &dp, const std::map<std::uint32_t, std::string> &named,
                    const std::function<void(std::uint32_t, const rl_rule_counts &)> &each_slot)
{
    std::map<std::string, RuleOutcomeCounts> by_name;
    by_name[""] = {};
    dp.rule_counts().for_each([&](std::uint32_t slot, std::span<const rl_rule_counts> cpus) {
        const rl_rule_counts total = sum_rule_counts(cpus);
        auto name = named.find(slot);
        auto &cells = by_name[name == named.end() ? "" : name->second];
        for (std::uint32_t o = 0; o < RL_RULE_OUTCOMES; o++) {
            cells[o].packets += total.outcomes[o].packets;
            cells[o].bytes += total.outcomes[o].bytes;
        }
        if (each_slot)
            each_slot(slot, total);
    });
    return by_name;
}

void for_each_rule_outcome(
    const RuleOutcomeCounts &counts,
    const std::function<void(rl_reason, rl_verdict, const rl_counter &)> &visit)
{
    for (std::uint32_t r = 0; r < RL_REASON_COUNT; r++)
        for (std::uint32_t v = 0; v < RL_VERDICT_COUNT; v++)
            if (const std::uint32_t o = rl_rule_outcome_of(r, v); o < RL_RULE_OUTCOMES)
                visit(static_cast<rl_reason>(r), static_cast<rl_verdict>(v), counts[o]);
}

} // namespace ratelimit
