// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/reconcile.hpp"

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

using Kind = ReconcileStep::Kind;

bool overlaps(const std::vector<Prefix> &a, const std::vector<Prefix> &b)
{
    return std::any_of(a.begin(), a.end(), [&](const Prefix &p) {
        return std::find(b.begin(), b.end(), p) != b.end();
    });
}

// Index of each desired rule: the installed rule with the same prefix set, else one whose
// prefixes overlap and whose content is the same (the default losing 0.0.0.0/0 to a rule stays
// the default), else one whose prefixes overlap, else a slot nobody uses (old slots stay
// untouched until they are freed).
std::vector<std::optional<std::size_t>> match_installed(const std::vector<DesiredRule> &desired,
                                                        const std::vector<InstalledRule> &installed)
{
    std::vector<std::optional<std::size_t>> match(desired.size());
    std::vector<bool> claimed(installed.size());
    auto claim = [&](auto &&fits) {
        for (std::size_t d = 0; d < desired.size(); d++) {
            for (std::size_t i = 0; !match[d] && i < installed.size(); i++) {
                if (!claimed[i] && fits(desired[d], installed[i])) {
                    match[d] = i;
                    claimed[i] = true;
                }
            }
        }
    };
    claim([](const DesiredRule &d, const InstalledRule &i) { return d.prefixes == i.prefixes; });
    claim([](const DesiredRule &d, const InstalledRule &i) {
        return overlaps(d.prefixes, i.prefixes) && same_rule(d.compiled, i.rule);
    });
    claim([](const DesiredRule &d, const InstalledRule &i) {
        return overlaps(d.prefixes, i.prefixes);
    });
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
                plan.steps.push_back({Kind::RewriteRule, index, {}, old.rule, rule.compiled});
                plan.changed++;
            }
        } else {
            index = free.take();
            plan.steps.push_back({Kind::WriteRule, index, {}, {}, rule.compiled});
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

// Every prefix pointed at its rule, then a publish if anything changed so far.
void plan_prefix_moves(ReconcilePlan &plan, const PrefixIndex &want, const PrefixIndex &have)
{
    for (const auto &[prefix, index] : want) {
        auto it = have.find(prefix);
        if (it == have.end() || it->second != index)
            plan.steps.push_back({Kind::PutPrefix, index, prefix});
    }
    if (!plan.steps.empty())
        plan.steps.push_back({Kind::Publish});
}

// The prefixes no rule wants and the rules no desired rule kept, then a publish.
void plan_removals(ReconcilePlan &plan, const PrefixIndex &want, const PrefixIndex &have,
                   const std::vector<InstalledRule> &installed,
                   const std::vector<std::optional<std::size_t>> &match)
{
    const std::size_t before = plan.steps.size();
    for (const auto &[prefix, index] : have)
        if (!want.contains(prefix))
            plan.steps.push_back({Kind::RemovePrefix, index, prefix});
    std::vector<bool> kept(installed.size());
    for (const auto &m : match)
        if (m)
            kept[*m] = true;
    for (std::size_t i = 0; i < installed.size(); i++) {
        if (!kept[i]) {
            plan.steps.push_back({Kind::FreeRule, installed[i].index});
            plan.removed++;
        }
    }
    if (plan.steps.size() != before)
        plan.steps.push_back({Kind::Publish});
}

} // namespace

RulesFull::RulesFull(std::size_t needed, std::uint32_t capacity)
    : std::length_error("the rules need " + std::to_string(needed) + " rule slots, more than the " +
                        std::to_string(capacity) + " there are (max_rules)"),
      needed_(needed), capacity_(capacity)
{
}

ReconcilePlan plan_reconcile(const std::vector<DesiredRule> &desired,
                             const std::vector<InstalledRule> &installed, std::uint32_t capacity)
{
    const auto match = match_installed(desired, installed);
    check_fits(match, installed.size(), capacity);
    ReconcilePlan plan;
    const PrefixIndex want = plan_rule_writes(plan, desired, installed, match);
    const PrefixIndex have = installed_prefixes(installed);
    plan_prefix_moves(plan, want, have);
    plan_removals(plan, want, have, installed, match);
    return plan;
}

void apply(const ReconcilePlan &plan, RuleTable &table)
{
    for (const auto &step : plan.steps) {
        switch (step.kind) {
        case Kind::WriteRule:
            table.write_rule(step.index, step.rule);
            break;
        case Kind::RewriteRule:
            table.rewrite_rule(step.index, step.previous, step.rule);
            break;
        case Kind::PutPrefix:
            table.put_prefix(step.prefix, step.index);
            break;
        case Kind::Publish:
            table.publish();
            break;
        case Kind::RemovePrefix:
            table.remove_prefix(step.prefix);
            break;
        case Kind::FreeRule:
            table.free_rule(step.index);
            break;
        }
    }
}

ReconcilePlan plan_rules(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                         const RuleTable &table, WallClock::time_point now)
{
    return plan_reconcile(desired_rules(config, runtime, now), table.installed(), table.capacity());
}

ReconcilePlan reconcile(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                        RuleTable &table, WallClock::time_point now)
{
    ReconcilePlan plan = plan_rules(config, runtime, table, now);
    apply(plan, table);
    return plan;
}

} // namespace ratelimit
