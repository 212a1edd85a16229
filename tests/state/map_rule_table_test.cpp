// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Reconcile against the real maps, with packets through the real program: an unchanged rule
// keeps its buckets across a reconcile, a changed one carries them over (no fresh burst, no
// lock-out), and the default covers both families. A reload rewriting hundreds of rules with a
// hundred thousand tracked sources carries every bucket exactly, in one pass.

#include <linux/bpf.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "state/map_rule_table.hpp"
#include "datapath_fixture.hpp"
#include "rules.hpp"
#include "ratelimit/gcra.h"
#include "state/desired.hpp"

namespace ratelimit::test
{
namespace
{

class ReconcileMapsTest : public DatapathTest
{
  protected:
    ReconcilePlan reconcile()
    {
        DatapathRuleTable table(*dp_);
        return ratelimit::reconcile(config_, {}, table, WallClock::now());
    }

    config::Config config_;
};

TEST_F(ReconcileMapsTest, UnchangedRuleKeepsItsBucketsAcrossAReconcile)
{
    config_.rules = {limit_rule("10.0.0.0/8", 1, 5), limit_rule("172.16.0.0/12", 1, 5)};
    reconcile();
    ASSERT_EQ(passed_of(udp_from("10.0.0.1"), 10), 5u);

    config_.rules[1] = limit_rule("172.16.0.0/12", 1, 50); // the other rule changes
    auto plan = reconcile();
    EXPECT_EQ(plan.unchanged, 1u);
    EXPECT_EQ(plan.changed, 1u);
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 10), 0u);
}

// A rule keeps its counters while it keeps its slot (renamed, or rewritten); a slot given to
// another rule starts its counters from zero.
TEST_F(ReconcileMapsTest, ASlotGivenToAnotherRuleStartsItsCountersAtZero)
{
    config_.rules = {action_rule("10.0.0.0/8", RL_ACTION_DENY)};
    reconcile();
    ASSERT_EQ(passed_of(udp_from("10.0.0.1"), 6), 0u);
    const std::uint32_t slot = 0;
    ASSERT_EQ(dp_->rule_counts_of(slot).outcomes[RL_RULE_DENIED].packets, 6u);

    config_.rules[0].name = "blocked";
    config_.rules[0].action = RL_ACTION_ALLOW;
    reconcile();
    ASSERT_EQ(passed_of(udp_from("10.0.0.1"), 2), 2u);
    EXPECT_EQ(dp_->rule_counts_of(slot).outcomes[RL_RULE_DENIED].packets, 6u)
        << "its slot, its counters";
    EXPECT_EQ(dp_->rule_counts_of(slot).outcomes[RL_RULE_ALLOWED].packets, 2u);

    config_.rules = {action_rule("192.0.2.0/24", RL_ACTION_DENY)};
    reconcile(); // 10.0.0.0/8 freed
    config_.rules.push_back(action_rule("10.0.0.0/8", RL_ACTION_DENY));
    reconcile(); // a new rule: the lowest free slot, the one freed
    for (std::uint32_t o = 0; o < RL_RULE_OUTCOMES; o++)
        EXPECT_EQ(dp_->rule_counts_of(slot).outcomes[o].packets, 0u) << o;
    EXPECT_EQ(dp_->rule_counts_of(slot).bans_started, 0u);
}

TEST_F(ReconcileMapsTest, ChangedRuleCarriesItsSourcesTokens)
{
    config_.rules = {limit_rule("10.0.0.0/8", 1, 10)};
    reconcile();
    ASSERT_EQ(passed_of(udp_from("10.0.0.1"), 4), 4u); // 6 tokens left

    // A larger burst does not refill the source: it still has 6.
    config_.rules = {limit_rule("10.0.0.0/8", 1, 100)};
    reconcile();
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 20), 6u);

    // A faster rate with a smaller burst: the drained source is still drained (no fresh burst),
    // and it is not locked out for the old, longer tolerance: at 20 pps it earns a token every
    // 50 ms, up to the new burst.
    config_.rules = {limit_rule("10.0.0.0/8", 20, 3)};
    reconcile();
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 1), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 10), 3u);
}

TEST_F(ReconcileMapsTest, RemovedRuleStopsMatchingAndDefaultCoversBothFamilies)
{
    config_.rules = {limit_rule("10.0.0.0/8", 1, 2)};
    config_.default_limits = {{RL_UNIT_PACKETS, 1, 3}};
    reconcile();
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 10), 2u);
    EXPECT_EQ(passed_of(udp_from("192.0.2.1"), 10), 3u);
    EXPECT_EQ(passed_of(udp_from("2001:db8::1"), 10), 3u);

    config_.rules.clear();
    auto plan = reconcile();
    EXPECT_EQ(plan.removed, 1u);
    EXPECT_EQ(passed_of(udp_from("10.0.0.2"), 10), 3u); // now under the default
    EXPECT_EQ(dp_->prefixes().keys().size(), 2u);
}

TEST_F(ReconcileMapsTest, Ipv6RuleNeverCoversIpv4AsRulesForEverythingComeAndGo)
{
    Rule deny = limit_rule("::/8", 1, 1);
    deny.action = RL_ACTION_DENY;
    deny.limits.clear();
    Rule everything4 = limit_rule("0.0.0.0/0", 1, 4);
    config_.rules = {deny, everything4};
    reconcile();
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 10), 4u);

    // 0.0.0.0/0 goes: its entry stays, with no rule, so ::/8 still does not cover IPv4.
    config_.rules = {deny};
    reconcile();
    EXPECT_EQ(passed_of(udp_from("10.0.0.2"), 10), 10u);
    EXPECT_EQ(packets(RL_REASON_NO_RULE, RL_VERDICT_PASS), 10u);
    EXPECT_EQ(passed_of(udp_from("0:1::1"), 10), 0u);
    EXPECT_TRUE(reconcile().empty()) << "the entry for 0.0.0.0/0 is no rule of the plan's";

    // The default takes the entry over, and leaves it with no rule when it goes.
    config_.default_limits = {{RL_UNIT_PACKETS, 1, 2}};
    reconcile();
    EXPECT_EQ(passed_of(udp_from("10.0.0.3"), 10), 2u);
    config_.default_limits.clear();
    reconcile();
    EXPECT_EQ(passed_of(udp_from("10.0.0.4"), 10), 10u);
    EXPECT_TRUE(reconcile().empty());
}

// Many rules and many tracked sources, the sources written straight into the maps.
class ReconcileAtScaleTest : public ReconcileMapsTest
{
  protected:
    static constexpr int kRules = 400;
    static constexpr std::uint32_t kSources = 100000;
    static constexpr std::uint32_t kBlocks = 5000;

    void SetUp() override
    {
        options_.max_rules = 1024;
        options_.max_sources = 2 * kSources;
        ReconcileMapsTest::SetUp();
    }

    // Rule r: 10.r/8... as 10.(r / 256).(r % 256).0/24, `rate` pps per source, a burst of
    // `burst`, and a per /28 limit next to it; the last rule also has a shared bucket.
    static Rule numbered_rule(int r, std::uint64_t rate, std::uint64_t burst)
    {
        const std::string match =
            "10." + std::to_string(r / 256) + "." + std::to_string(r % 256) + ".0/24";
        Rule rule = limit_rule(match.c_str(), rate, burst);
        rule.limits.push_back({RL_UNIT_PACKETS, 4 * rate, 2 * burst, RL_PER_PREFIX, 96 + 28});
        if (r == kRules - 1)
            rule.limits.push_back({RL_UNIT_PACKETS, 50 * rate, 10 * burst, RL_PER_RULE, 0});
        return rule;
    }
    void configure(std::uint64_t rate, std::uint64_t burst)
    {
        config_.rules.clear();
        for (int r = 0; r < kRules; r++)
            config_.rules.push_back(numbered_rule(r, rate, burst));
    }

    // Source s: host s / kRules of rule s % kRules, 10.x.y.host in its /24; the last hosts are
    // 11.x.y.host instead, under no rule.
    static constexpr std::uint32_t kHostsUnderRules = 200;
    static rl_source_key source_key(std::uint32_t s)
    {
        rl_source_key key{};
        const Prefix p = prefix("::ffff:0:0/96");
        std::memcpy(key.addr, p.address.bytes.data(), RL_ADDR_LEN);
        const std::uint32_t rule = s % kRules, host = s / kRules;
        key.addr[12] = host < kHostsUnderRules ? 10 : 11;
        key.addr[13] = static_cast<std::uint8_t>(rule / 256);
        key.addr[14] = static_cast<std::uint8_t>(rule % 256);
        key.addr[15] = static_cast<std::uint8_t>(host);
        return key;
    }
    static std::uint32_t source_number(const rl_source_key &key)
    {
        return key.addr[15] * kRules + key.addr[13] * 256 + key.addr[14];
    }
};

TEST_F(ReconcileAtScaleTest, ChangingManyRulesCarriesEveryTrackedBucketExactlyInOnePass)
{
    configure(100, 200);
    reconcile();
    std::map<std::uint32_t, std::uint32_t> index_of_rule; // config rule -> slot
    {
        DatapathRuleTable table(*dp_);
        for (const auto &installed : table.installed())
            for (int r = 0; r < kRules; r++)
                if (installed.prefixes == std::vector<Prefix>{config_.rules[r].match})
                    index_of_rule[r] = installed.index;
    }
    ASSERT_EQ(index_of_rule.size(), static_cast<std::size_t>(kRules));
    const rl_rule before = *dp_->rules().lookup(index_of_rule[0]);
    const std::uint32_t generation = dp_->settings().lookup(0)->generation;

    // Sources with buckets anywhere from full (a TAT in the past) to empty, and some blocks.
    std::mt19937_64 random(14);
    const std::uint64_t now = bucket_now(before);
    auto some_tat = [&](const rl_limit &limit) {
        return now - limit.tolerance / 2 + random() % (limit.tolerance * 3 / 2);
    };
    std::vector<rl_source_key> keys;
    std::vector<rl_source> sources;
    for (std::uint32_t s = 0; s < kSources; s++) {
        rl_source src{};
        src.rule = s / kRules < kHostsUnderRules ? index_of_rule[s % kRules] : RL_NO_RULE;
        src.generation = generation;
        src.tat[0] = some_tat(before.limits[0]);
        src.tat[1] = random(); // a per-prefix limit keeps no TAT here: left alone
        keys.push_back(source_key(s));
        sources.push_back(src);
    }
    dp_->sources().update(keys, sources);
    std::vector<rl_block_key> block_keys;
    std::vector<rl_bucket> blocks;
    for (std::uint32_t b = 0; b < kBlocks; b++) {
        rl_block_key key{};
        key.rule = index_of_rule[b % kRules];
        key.limit = 1;
        std::memcpy(key.addr, source_key(b).addr, RL_ADDR_LEN);
        block_keys.push_back(key);
        blocks.push_back({some_tat(before.limits[1])});
    }
    dp_->blocks().update(block_keys, blocks);
    const std::uint32_t shared = rl_rule_bucket_slot(index_of_rule[kRules - 1], 2);
    const rl_rule last_before = *dp_->rules().lookup(index_of_rule[kRules - 1]);
    const std::uint64_t shared_tat = some_tat(last_before.limits[2]);
    dp_->rule_buckets().update(shared, {shared_tat});

    // Every rule but one slower, with a smaller burst: each bucket keeps its tokens (capped at
    // the new burst), as rl_gcra_rescale gives them at the moment of the carry.
    constexpr int kUnchanged = 5;
    configure(37, 150);
    config_.rules[kUnchanged] = numbered_rule(kUnchanged, 100, 200);
    const std::uint64_t from = bucket_now(before);
    const auto started = std::chrono::steady_clock::now();
    const auto plan = reconcile();
    const auto took = std::chrono::steady_clock::now() - started;
    const std::uint64_t to = bucket_now(before);
    EXPECT_EQ(plan.changed, static_cast<std::size_t>(kRules - 1));
    // One pass over the sources for all rules, not one per rule (that took minutes).
    EXPECT_LT(took, std::chrono::seconds(5));

    const rl_rule after = *dp_->rules().lookup(index_of_rule[0]);
    // The TAT the carry gave is rl_gcra_rescale's at some moment t of the carry, between `from`
    // and `to`. As a function of t, rescaling is one of three lines: an empty bucket gives
    // t + tolerance', a full one t, one in between t + tolerance' - room(t) * ratio; so t is
    // solved for on each line and the TAT recomputed there, to within rounding.
    auto expect_carried = [&](std::uint64_t was, std::uint64_t is, const rl_limit &prev,
                              const rl_limit &next, const std::string &what) {
        if (is == was && was <= to)
            return; // a full bucket, under any limit: left as it is
        const double ratio = static_cast<double>(next.interval) / prev.interval;
        const double between =
            (static_cast<double>(is) - next.tolerance +
             (static_cast<double>(prev.tolerance) - static_cast<double>(was)) * ratio) /
            (1 - ratio);
        for (double t :
             {static_cast<double>(is), static_cast<double>(is - next.tolerance), between}) {
            const auto moment = static_cast<std::uint64_t>(std::llround(t));
            if (moment + 1 < from || moment > to + 1)
                continue;
            const std::uint64_t expected = rl_gcra_rescale(was, moment, &prev, &next);
            if (std::max(expected, is) - std::min(expected, is) <= 3)
                return;
        }
        ADD_FAILURE() << what << ": TAT " << was << " carried to " << is
                      << ", which rl_gcra_rescale gives at no moment between " << from << " and "
                      << to;
    };
    std::size_t carried = 0, untouched = 0;
    dp_->sources().for_each([&](const rl_source_key &key, const rl_source &src) {
        const std::uint32_t s = source_number(key);
        ASSERT_LT(s, kSources);
        EXPECT_EQ(src.tat[1], sources[s].tat[1]);
        if (src.rule == RL_NO_RULE || s % kRules == kUnchanged) {
            EXPECT_EQ(src.tat[0], sources[s].tat[0]) << "source " << s;
            untouched++;
            return;
        }
        expect_carried(sources[s].tat[0], src.tat[0], before.limits[0], after.limits[0],
                       "source " + std::to_string(s));
        carried++;
    });
    EXPECT_EQ(carried, (kRules - 1) * kHostsUnderRules);
    EXPECT_EQ(carried + untouched, kSources);
    std::map<std::string, std::uint32_t> block_number;
    for (std::uint32_t b = 0; b < kBlocks; b++)
        block_number[std::string(reinterpret_cast<const char *>(&block_keys[b]),
                                 sizeof(rl_block_key))] = b;
    std::size_t blocks_seen = 0;
    dp_->blocks().for_each([&](const rl_block_key &key, const rl_bucket &bucket) {
        const std::uint32_t b =
            block_number.at(std::string(reinterpret_cast<const char *>(&key), sizeof key));
        blocks_seen++;
        if (b % kRules == kUnchanged)
            EXPECT_EQ(bucket.tat, blocks[b].tat) << "block " << b;
        else
            expect_carried(blocks[b].tat, bucket.tat, before.limits[1], after.limits[1],
                           "block " + std::to_string(b));
    });
    EXPECT_EQ(blocks_seen, kBlocks);
    const rl_rule last_after = *dp_->rules().lookup(index_of_rule[kRules - 1]);
    expect_carried(shared_tat, dp_->rule_buckets().lookup(shared)->tat, last_before.limits[2],
                   last_after.limits[2], "the shared bucket");
}

} // namespace
} // namespace ratelimit::test
