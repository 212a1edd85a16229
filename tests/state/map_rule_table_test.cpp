// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Reconcile against the real maps, with packets through the real program: an unchanged rule
// keeps its buckets across a reconcile, a changed one carries them over (no fresh burst, no
// lock-out), and the default covers both families.

#include <linux/bpf.h>

#include <thread>

#include "state/map_rule_table.hpp"
#include "datapath_fixture.hpp"
#include "rules.hpp"
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

} // namespace
} // namespace ratelimit::test
