// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Desired state and reconcile against an in-memory rule table with the same interface as the BPF
// maps. The table checks, after every step, that no prefix points at a rule that is not there.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <span>

#include "rules.hpp"
#include "state/desired.hpp"
#include "state/reconcile.hpp"

namespace ratelimit
{
namespace
{

using test::action_rule;
using test::limit_rule;

// `count` limit rules, on the prefixes `before` + 0 + `after`, `before` + 1 + `after`, ...
std::vector<Rule> numbered_rules(int count, const std::string &before, const std::string &after)
{
    std::vector<Rule> rules;
    for (int i = 0; i < count; i++)
        rules.push_back(limit_rule((before + std::to_string(i) + after).c_str(), 10));
    return rules;
}

class MemoryTable : public RuleTable
{
  public:
    std::uint32_t capacity() const override { return slots; }
    std::uint32_t prefix_capacity() const override { return RL_DEFAULT_MAX_PREFIXES; }

    std::vector<InstalledRule> installed() const override
    {
        std::map<std::uint32_t, InstalledRule> by_index;
        for (const auto &[prefix, index] : prefixes) {
            auto &rule = by_index[index];
            rule.index = index;
            rule.rule = rules.at(index);
            rule.prefixes.push_back(prefix);
        }
        std::vector<InstalledRule> out;
        for (auto &[index, rule] : by_index)
            out.push_back(rule);
        return out;
    }
    // Each call takes a run of steps of one kind; `calls` counts them by kind.
    void write_rules(std::span<const RuleWrite> writes) override
    {
        calls["write"]++;
        for (const auto &w : writes) {
            ASSERT_FALSE(rules.contains(w.index))
                << "slot " << w.index << " overwritten as if free";
            rules[w.index] = w.rule;
            log.push_back("write " + std::to_string(w.index));
        }
    }
    void rewrite_rules(std::span<const RuleRewrite> rewrites) override
    {
        calls["rewrite"]++;
        for (const auto &r : rewrites) {
            ASSERT_TRUE(same_rule(rules.at(r.index), r.previous));
            rules[r.index] = r.rule;
            log.push_back("rewrite " + std::to_string(r.index));
        }
    }
    void put_prefixes(std::span<const PrefixTarget> targets) override
    {
        calls["put"]++;
        for (const auto &[prefix, index] : targets) {
            ASSERT_TRUE(rules.contains(index)) << prefix.to_string() << " would point at nothing";
            prefixes[prefix] = index;
            log.push_back("put " + prefix.to_string() + " " + std::to_string(index));
        }
    }
    void remove_prefixes(std::span<const Prefix> removed) override
    {
        calls["remove"]++;
        for (const auto &prefix : removed) {
            ASSERT_EQ(prefixes.erase(prefix), 1u);
            log.push_back("remove " + prefix.to_string());
        }
    }
    void free_rules(std::span<const std::uint32_t> indexes) override
    {
        calls["free"]++;
        for (std::uint32_t index : indexes) {
            for (const auto &[prefix, i] : prefixes)
                ASSERT_NE(i, index) << prefix.to_string() << " still points at freed slot";
            rules.erase(index);
            log.push_back("free " + std::to_string(index));
        }
    }
    void publish() override { log.push_back("publish"); }

    // The index a source would be matched to: longest prefix.
    std::optional<std::uint32_t> lookup(const char *address) const
    {
        Address a = *parse_address(address);
        std::optional<std::uint32_t> best;
        std::uint32_t best_len = 0;
        for (const auto &[prefix, index] : prefixes) {
            if (prefix.contains(a) && (!best || prefix.length >= best_len)) {
                best = index;
                best_len = prefix.length;
            }
        }
        return best;
    }

    std::uint32_t slots = 8;
    std::map<std::uint32_t, rl_rule> rules;
    std::map<Prefix, std::uint32_t> prefixes;
    std::vector<std::string> log;
    std::map<std::string, int> calls;
};

struct Fixture : ::testing::Test {
    config::Config config;
    std::vector<RuntimeRule> runtime;
    MemoryTable table;
    WallClock::time_point now = WallClock::now();

    ReconcilePlan reconcile()
    {
        table.log.clear();
        table.calls.clear();
        return ratelimit::reconcile(config, runtime, table, now);
    }

    // What a reconcile that does not fit throws; nullopt if it fits.
    std::optional<RulesFull> refusal()
    {
        try {
            reconcile();
        } catch (const RulesFull &full) {
            return full;
        }
        return std::nullopt;
    }

    // The reconcile is refused, changing nothing, for needing `needed` slots.
    void expect_refused(std::size_t needed)
    {
        const auto full = refusal();
        ASSERT_TRUE(full) << needed << " slots fit " << table.capacity();
        EXPECT_EQ(full->needed(), needed);
        EXPECT_EQ(full->capacity(), table.capacity());
        EXPECT_TRUE(table.log.empty());
    }
};

TEST_F(Fixture, FirstInstallWritesRulesThenPrefixesThenPublishes)
{
    config.rules = {limit_rule("10.0.0.0/8", 100), action_rule("192.0.2.0/24", RL_ACTION_ALLOW)};
    config.default_limits = {{RL_UNIT_PACKETS, 1000, 2000}};
    auto plan = reconcile();
    EXPECT_EQ(plan.added, 3u);
    EXPECT_EQ(table.rules.size(), 3u);
    EXPECT_EQ(table.prefixes.size(), 4u); // two rules, and ::/0 + 0.0.0.0/0 for the default
    ASSERT_FALSE(table.log.empty());
    EXPECT_EQ(table.log.back(), "publish");
    EXPECT_EQ(table.log[0].rfind("write", 0), 0u);

    // The default covers both families with one rule (one slot, one set of buckets).
    EXPECT_EQ(table.lookup("203.0.113.1"), table.lookup("2001:db8::1"));
    EXPECT_NE(table.lookup("10.1.1.1"), table.lookup("203.0.113.1"));
}

TEST_F(Fixture, UnchangedConfigIsANoOp)
{
    config.rules = {limit_rule("10.0.0.0/8", 100)};
    reconcile();
    auto plan = reconcile();
    EXPECT_TRUE(plan.empty());
    EXPECT_EQ(plan.unchanged, 1u);
    EXPECT_TRUE(table.log.empty());
}

TEST_F(Fixture, ChangedRuleKeepsItsSlotAndIsRewrittenInPlace)
{
    config.rules = {limit_rule("10.0.0.0/8", 100), limit_rule("10.1.0.0/16", 5)};
    reconcile();
    auto slot = table.lookup("10.2.0.1");
    config.rules[0] = limit_rule("10.0.0.0/8", 200);
    auto plan = reconcile();
    EXPECT_EQ(plan.changed, 1u);
    EXPECT_EQ(plan.unchanged, 1u);
    EXPECT_EQ(table.lookup("10.2.0.1"), slot);
    EXPECT_EQ(table.log, (std::vector<std::string>{"rewrite " + std::to_string(*slot), "publish"}));
}

// A name is the operator's word for a rule: giving one, changing it or taking it away keeps the
// rule's slot (and so its buckets and counters) and writes nothing.
TEST_F(Fixture, NamingOrRenamingARuleKeepsItsSlotAndWritesNothing)
{
    config.rules = {limit_rule("10.0.0.0/8", 100), limit_rule("10.1.0.0/16", 5)};
    reconcile();
    const auto slot = table.lookup("10.2.0.1");
    for (const char *name : {"dns", "dns-v2", ""}) {
        config.rules[0].name = name;
        auto plan = reconcile();
        EXPECT_TRUE(plan.empty()) << name;
        EXPECT_EQ(plan.unchanged, 2u) << name;
        EXPECT_TRUE(table.log.empty()) << name;
        EXPECT_EQ(table.lookup("10.2.0.1"), slot) << name;
    }
    EXPECT_EQ(desired_rules(config, runtime, now).front().name, "");
    config.rules[1].name = "edge";
    runtime = {{limit_rule("10.1.0.0/16", 7), std::nullopt}};
    runtime[0].rule.name = "override";
    const auto desired = desired_rules(config, runtime, now);
    ASSERT_EQ(desired.size(), 2u);
    EXPECT_EQ(desired[1].name, "override") << "the runtime rule in force names its prefix";
}

TEST(NameClashes, NameBothPlaces)
{
    config::Config config;
    config.rules = {limit_rule("10.0.0.0/8", 100), limit_rule("10.1.0.0/16", 5)};
    config.rules[1].name = "dns";
    std::vector<RuntimeRule> runtime = {{limit_rule("192.0.2.0/24", 1), std::nullopt},
                                        {limit_rule("198.51.100.0/24", 1), std::nullopt},
                                        {limit_rule("203.0.113.0/24", 1), std::nullopt}};
    runtime[0].rule.name = "dns";
    runtime[1].rule.name = "web";
    EXPECT_TRUE(name_clashes(config, {runtime[1]}, Changed::Config).empty());
    EXPECT_EQ(join_errors(name_clashes(config, runtime, Changed::Config)),
              "rules[1].name: \"dns\" is the name of the runtime rule for 192.0.2.0/24 too: names "
              "are unique across config and runtime rules");
    EXPECT_EQ(join_errors(name_clashes(config, runtime, Changed::Runtime)),
              "name: \"dns\" of the runtime rule for 192.0.2.0/24 is the name of rules[1] "
              "(10.1.0.0/16) too: names are unique across config and runtime rules");
    runtime[2].rule.name = "web";
    EXPECT_EQ(join_errors(name_clashes({}, runtime, Changed::Runtime)),
              "name: \"web\" of the runtime rule for 203.0.113.0/24 is the name of the runtime "
              "rule for 198.51.100.0/24 too: names are unique across config and runtime rules");
}

TEST_F(Fixture, EveryRuleOfOneReconcileIsWrittenInOneCallOfItsKind)
{
    // Rewritten rules come in one call, after the new ones, so that their buckets are carried in
    // one pass over the tracked sources however many rules changed.
    config.rules = numbered_rules(4, "10.", ".0.0/16");
    reconcile();
    config.rules = numbered_rules(6, "10.", ".0.0/16");
    config.rules[0] = limit_rule("10.0.0.0/16", 20);
    config.rules[2] = limit_rule("10.2.0.0/16", 30);
    config.rules[3] = limit_rule("10.3.0.0/16", 40);
    auto plan = reconcile();
    EXPECT_EQ(plan.added, 2u);
    EXPECT_EQ(plan.changed, 3u);
    EXPECT_EQ(table.calls, (std::map<std::string, int>{{"write", 1}, {"rewrite", 1}, {"put", 1}}));
    EXPECT_EQ(table.log,
              (std::vector<std::string>{"write 4", "write 5", "rewrite 0", "rewrite 2", "rewrite 3",
                                        "put 10.4.0.0/16 4", "put 10.5.0.0/16 5", "publish"}));
}

TEST_F(Fixture, ManyRulesAreMatchedToTheirSlotsByPrefix)
{
    // Thousands of installed rules, each kept in its slot by its prefix and one of them
    // changed: matching goes by prefix, not through every installed rule for each desired one.
    table.slots = 20000;
    for (int i = 0; i < 10000; i++) {
        const std::string match =
            "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24";
        config.rules.push_back(limit_rule(match.c_str(), 10));
    }
    reconcile();
    const auto slot = table.lookup("10.3.7.1");
    config.rules[3 * 256 + 7] = limit_rule("10.3.7.0/24", 99);
    auto plan = reconcile();
    EXPECT_EQ(plan.changed, 1u);
    EXPECT_EQ(plan.unchanged, 9999u);
    EXPECT_EQ(table.log, (std::vector<std::string>{"rewrite " + std::to_string(*slot), "publish"}));
}

TEST_F(Fixture, RemovalsComeAfterAddsAndAPublish)
{
    config.rules = {limit_rule("10.0.0.0/8", 100)};
    reconcile();
    config.rules = {limit_rule("172.16.0.0/12", 100)};
    auto plan = reconcile();
    EXPECT_EQ(plan.added, 1u);
    EXPECT_EQ(plan.removed, 1u);
    EXPECT_EQ(table.log, (std::vector<std::string>{"write 1", "put 172.16.0.0/12 1", "publish",
                                                   "remove 10.0.0.0/8", "free 0", "publish"}));
}

TEST_F(Fixture, DefaultKeepsItsSlotWhenARuleTakesOneFamily)
{
    config.default_limits = {{RL_UNIT_PACKETS, 1000, 2000}};
    reconcile();
    auto default_slot = table.lookup("2001:db8::1");
    config.rules = {limit_rule("0.0.0.0/0", 50)};
    auto plan = reconcile();
    EXPECT_EQ(table.lookup("2001:db8::1"), default_slot);
    EXPECT_NE(table.lookup("203.0.113.1"), default_slot);
    EXPECT_EQ(plan.added, 1u);
    EXPECT_EQ(plan.removed, 0u);
    // 0.0.0.0/0 moved from the default to the new rule in one step: never unmatched.
    EXPECT_EQ(std::count(table.log.begin(), table.log.end(), "remove 0.0.0.0/0"), 0);
}

TEST_F(Fixture, RuntimeRuleOverridesConfigRuleForThePrefixAndExpires)
{
    config.rules = {limit_rule("10.0.0.0/8", 100)};
    reconcile();
    auto slot = table.lookup("10.0.0.1");
    runtime = {{action_rule("10.0.0.0/8", RL_ACTION_DENY), now + std::chrono::minutes(5)}};
    reconcile();
    EXPECT_EQ(table.lookup("10.0.0.1"), slot); // same prefix: same slot, rule rewritten
    EXPECT_EQ(table.rules.at(*slot).action, RL_ACTION_DENY);

    now += std::chrono::minutes(6);
    reconcile();
    EXPECT_EQ(table.rules.at(*slot).action, RL_ACTION_LIMIT);
}

TEST_F(Fixture, TooManyRulesIsRefusedBeforeAnythingChanges)
{
    config.rules = numbered_rules(9, "10.", ".0.0/16");
    EXPECT_THROW(
        plan_reconcile(desired_rules(config, runtime, now), table.installed(), table.capacity()),
        std::length_error);
    EXPECT_TRUE(table.rules.empty());
}

// Until the rule tables have groups, a selector rule is refused, changing nothing, rather than
// enforced on all of its sources' traffic; the same prefix without a selector is another rule.
TEST_F(Fixture, ARuleWithASelectorIsRefusedNotEnforcedOnAllTraffic)
{
    config.rules = {limit_rule("10.0.0.0/8", 100)};
    reconcile();
    const auto before = table.rules;
    Rule dns = limit_rule("10.0.0.0/8", 50);
    dns.selector = Selector{kProtoUdp, {{53, 53}}};
    config.rules.push_back(dns);
    EXPECT_EQ(desired_rules(config, runtime, now).size(), 2u);
    try {
        reconcile();
        ADD_FAILURE() << "a udp/53 rule was taken";
    } catch (const UnenforceableRule &e) {
        EXPECT_NE(std::string(e.what()).find("the rule for 10.0.0.0/8 selects udp/53 traffic"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(table.log.empty());
    EXPECT_EQ(table.rules.size(), before.size());
}

TEST_F(Fixture, TooManyRulesIsRulesFullWithItsFigures)
{
    config.rules = numbered_rules(9, "10.", ".0.0/16");
    expect_refused(9);
    EXPECT_STREQ(refusal()->what(),
                 "the rules need 9 rule slots, more than the 8 there are (max_rules)");
}

TEST_F(Fixture, ReplacingEveryRuleNeedsRoomForOldAndNewAtOnce)
{
    // New rules are in force before the old ones are freed: 6 installed and 6 others need 12.
    config.rules = numbered_rules(6, "10.", ".0.0/16");
    reconcile();
    config.rules = numbered_rules(6, "172.16.", ".0/24");
    expect_refused(12);
    EXPECT_EQ(table.rules.size(), 6u);

    // Two at a time fit: 6 installed, 2 new.
    config.rules.resize(2);
    const auto plan = reconcile();
    EXPECT_EQ(plan.added, 2u);
    EXPECT_EQ(plan.removed, 6u);
}

TEST_F(Fixture, MonitorMalformedAndBansSettings)
{
    EXPECT_EQ(desired_settings_flags(config, false), 0u);
    EXPECT_EQ(desired_settings_flags(config, true), RL_SETTINGS_BANS);
    config.mode = config::Mode::Monitor;
    config.drop_malformed = true;
    EXPECT_EQ(desired_settings_flags(config, false),
              RL_SETTINGS_MONITOR | RL_SETTINGS_DROP_MALFORMED);
}

TEST_F(Fixture, RulesBanWhenAConfigOrARuntimeRuleDoes)
{
    config.rules.push_back(limit_rule("10.0.0.0/8", 100));
    EXPECT_FALSE(rules_ban(config, {}));
    Rule banning = limit_rule("10.1.0.0/16", 100);
    banning.ban = BanSpec{std::chrono::seconds(5), std::chrono::hours(1), BanScope::Rule};
    EXPECT_TRUE(rules_ban(config, {{banning, std::nullopt}})) << "a runtime rule bans";
    config.rules.push_back(banning);
    EXPECT_TRUE(rules_ban(config, {})) << "a config rule bans";
}

} // namespace
} // namespace ratelimit
