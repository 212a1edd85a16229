// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/reconcile.hpp"

#include "policy/rule_json.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace ratelimit
{

bool same_rule(const rl_rule &a, const rl_rule &b)
{
    return std::memcmp(&a, &b, sizeof(rl_rule)) == 0;
}

namespace
{

// Index of each desired rule: the installed rule with the same prefix set, else one whose
// prefixes overlap and whose content is the same (the default losing 0.0.0.0/0 to a rule stays
// the default), else one whose prefixes overlap, else a slot nobody uses (old slots stay
// untouched until they are freed). Among several candidates, the first installed one wins.
// Installed rules are found by prefix (each prefix points at one rule), so that matching takes
// time in the number of prefixes, not in desired times installed rules.
std::vector<std::optional<std::size_t>> match_installed(const std::vector<DesiredRule> &desired,
                                                        const std::vector<InstalledRule> &installed)
{
    std::map<Prefix, std::size_t> owner;
    for (std::size_t i = 0; i < installed.size(); i++)
        for (const auto &p : installed[i].prefixes)
            owner.emplace(p, i);
    std::vector<std::optional<std::size_t>> match(desired.size());
    std::vector<bool> claimed(installed.size());
    // The installed rules owning some prefix of each desired rule, each once: a rule of many
    // prefixes is compared with its installed self once, not once per prefix.
    std::vector<std::vector<std::size_t>> candidates(desired.size());
    for (std::size_t d = 0; d < desired.size(); d++) {
        for (const auto &p : desired[d].prefixes)
            if (auto it = owner.find(p); it != owner.end())
                candidates[d].push_back(it->second);
        std::ranges::sort(candidates[d]);
        candidates[d].erase(std::unique(candidates[d].begin(), candidates[d].end()),
                            candidates[d].end());
    }
    auto claim = [&](auto &&fits) {
        for (std::size_t d = 0; d < desired.size(); d++) {
            if (match[d])
                continue;
            for (std::size_t i : candidates[d]) { // the first installed one wins
                if (!claimed[i] && fits(desired[d], installed[i])) {
                    match[d] = i;
                    claimed[i] = true;
                    break;
                }
            }
        }
    };
    // A desired rule's candidates own one of its prefixes: the one with the same set is one.
    claim([](const DesiredRule &d, const InstalledRule &i) { return d.prefixes == i.prefixes; });
    claim(
        [](const DesiredRule &d, const InstalledRule &i) { return same_rule(d.compiled, i.rule); });
    claim([](const DesiredRule &, const InstalledRule &) { return true; });
    return match;
}

// Throws RulesFull unless every installed rule (the ones to be freed keep their slot until the
// new ones are in force) and every new rule fit `capacity` at once.
void check_fits(const std::vector<std::optional<std::size_t>> &match, std::size_t installed,
                std::uint32_t capacity)
{
    const auto added = static_cast<std::size_t>(
        std::ranges::count_if(match, [](const auto &m) { return !m.has_value(); }));
    if (installed + added > capacity)
        throw RulesFull(installed + added, capacity);
}

// Slots no installed rule uses, lowest first. check_fits has made sure there are enough below
// the capacity.
class FreeSlots
{
  public:
    explicit FreeSlots(const std::vector<InstalledRule> &installed)
    {
        for (const auto &rule : installed)
            used_.insert(rule.index);
    }
    std::uint32_t take()
    {
        while (used_.contains(next_))
            next_++;
        used_.insert(next_);
        return next_;
    }

  private:
    std::set<std::uint32_t> used_;
    std::uint32_t next_ = 0;
};

using PrefixIndex = std::map<Prefix, std::uint32_t>;

// The rules written (new) and rewritten (changed), counted with the unchanged ones; returns the
// index each desired prefix is to point at.
PrefixIndex plan_rule_writes(ReconcilePlan &plan, const std::vector<DesiredRule> &desired,
                             const std::vector<InstalledRule> &installed,
                             const std::vector<std::optional<std::size_t>> &match)
{
    FreeSlots free(installed);
    PrefixIndex want;
    for (std::size_t d = 0; d < desired.size(); d++) {
        const auto &rule = desired[d];
        std::uint32_t index;
        if (match[d]) {
            const auto &old = installed[*match[d]];
            index = old.index;
            if (same_rule(old.rule, rule.compiled)) {
                plan.unchanged += old.prefixes == rule.prefixes;
                plan.changed += old.prefixes != rule.prefixes;
            } else {
                plan.rewrites.push_back({index, old.rule, rule.compiled});
                plan.changed++;
            }
        } else {
            index = free.take();
            plan.writes.push_back({index, rule.compiled});
            plan.added++;
        }
        for (const auto &p : rule.prefixes)
            want[p] = index;
    }
    return want;
}

PrefixIndex installed_prefixes(const std::vector<InstalledRule> &installed)
{
    PrefixIndex have;
    for (const auto &rule : installed)
        for (const auto &p : rule.prefixes)
            have[p] = rule.index;
    return have;
}

// Every prefix pointed at its rule.
void plan_prefix_moves(ReconcilePlan &plan, const PrefixIndex &want, const PrefixIndex &have)
{
    for (const auto &[prefix, index] : want) {
        auto it = have.find(prefix);
        if (it == have.end() || it->second != index)
            plan.puts.push_back({prefix, index});
    }
}

// Throws RulesFull unless the installed prefixes and the new ones fit at once: puts come before
// removals. 0.0.0.0/0 is counted in neither (the trie's own entry, RL_PREFIX_ENTRIES).
void check_prefixes_fit(const ReconcilePlan &plan, const PrefixIndex &have,
                        std::uint32_t prefix_capacity)
{
    const Prefix ipv4_space = *parse_prefix("0.0.0.0/0");
    std::size_t peak = have.size() - have.contains(ipv4_space);
    for (const auto &put : plan.puts)
        peak += !have.contains(put.prefix) && put.prefix != ipv4_space;
    if (peak > prefix_capacity)
        throw RulesFull(peak, prefix_capacity, "prefixes", "max_prefixes");
}

// The prefixes no rule wants and the rules no desired rule kept.
void plan_removals(ReconcilePlan &plan, const PrefixIndex &want, const PrefixIndex &have,
                   const std::vector<InstalledRule> &installed,
                   const std::vector<std::optional<std::size_t>> &match)
{
    for (const auto &entry : have)
        if (!want.contains(entry.first))
            plan.removals.push_back(entry.first);
    std::vector<bool> kept(installed.size());
    for (const auto &m : match)
        if (m)
            kept[*m] = true;
    for (std::size_t i = 0; i < installed.size(); i++) {
        if (!kept[i]) {
            plan.frees.push_back(installed[i].index);
            plan.removed++;
        }
    }
}

} // namespace

RulesFull::RulesFull(std::size_t needed, std::uint32_t capacity, const std::string &what,
                     const std::string &field)
    : std::length_error("the rules need " + std::to_string(needed) + " " + what +
                        ", more than the " + std::to_string(capacity) + " there are (" + field +
                        ")"),
      needed_(needed), capacity_(capacity)
{
}

ReconcilePlan plan_reconcile(const std::vector<DesiredRule> &desired,
                             const std::vector<InstalledRule> &installed, std::uint32_t capacity,
                             std::uint32_t prefix_capacity)
{
    for (const auto &rule : desired)
        if (!rule.selector.catch_all())
            throw UnenforceableRule(
                "the rule for " + rule.prefixes.front().to_string() + " selects " +
                selector_text(rule.selector) +
                " traffic: this data path enforces rules on all traffic only, " +
                "so rules with \"proto\", \"port\" or \"tcp_flags\" are refused");
    const auto match = match_installed(desired, installed);
    check_fits(match, installed.size(), capacity);
    ReconcilePlan plan;
    const PrefixIndex want = plan_rule_writes(plan, desired, installed, match);
    const PrefixIndex have = installed_prefixes(installed);
    plan_prefix_moves(plan, want, have);
    check_prefixes_fit(plan, have, prefix_capacity);
    plan_removals(plan, want, have, installed, match);
    return plan;
}

void apply(const ReconcilePlan &plan, RuleTable &table)
{
    if (!plan.writes.empty())
        table.write_rules(plan.writes);
    if (!plan.rewrites.empty())
        table.rewrite_rules(plan.rewrites);
    if (!plan.puts.empty())
        table.put_prefixes(plan.puts);
    if (!plan.writes.empty() || !plan.rewrites.empty() || !plan.puts.empty())
        table.publish();
    if (!plan.removals.empty())
        table.remove_prefixes(plan.removals);
    if (!plan.frees.empty())
        table.free_rules(plan.frees);
    if (!plan.removals.empty() || !plan.frees.empty())
        table.publish();
}

ReconcilePlan plan_rules(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                         const RuleTable &table, WallClock::time_point now)
{
    return plan_reconcile(desired_rules(config, runtime, now), table.installed(), table.capacity(),
                          table.prefix_capacity());
}

ReconcilePlan reconcile(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                        RuleTable &table, WallClock::time_point now)
{
    ReconcilePlan plan = plan_rules(config, runtime, table, now);
    apply(plan, table);
    return plan;
}

} // namespace ratelimit
