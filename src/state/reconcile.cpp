// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/reconcile.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
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

} // namespace

ReconcilePlan plan_reconcile(const std::vector<DesiredRule> &desired,
                             const std::vector<InstalledRule> &installed, std::uint32_t capacity)
{
    ReconcilePlan plan;
    auto match = match_installed(desired, installed);

    std::set<std::uint32_t> used;
    for (const auto &rule : installed)
        used.insert(rule.index);
    std::uint32_t next_free = 0;
    auto allocate = [&] {
        while (used.contains(next_free))
            next_free++;
        if (next_free >= capacity)
            throw std::length_error("the rules need more than the " + std::to_string(capacity) +
                                    " rule slots (max_rules)");
        used.insert(next_free);
        return next_free;
    };

    std::map<Prefix, std::uint32_t> want; // prefix -> index
    std::vector<bool> kept(installed.size());
    for (std::size_t d = 0; d < desired.size(); d++) {
        const auto &rule = desired[d];
        std::uint32_t index;
        if (match[d]) {
            const auto &old = installed[*match[d]];
            index = old.index;
            kept[*match[d]] = true;
            if (same_rule(old.rule, rule.compiled)) {
                plan.unchanged += old.prefixes == rule.prefixes;
                plan.changed += old.prefixes != rule.prefixes;
            } else {
                plan.steps.push_back({Kind::RewriteRule, index, {}, old.rule, rule.compiled});
                plan.changed++;
            }
        } else {
            index = allocate();
            plan.steps.push_back({Kind::WriteRule, index, {}, {}, rule.compiled});
            plan.added++;
        }
        for (const auto &p : rule.prefixes)
            want[p] = index;
    }

    std::map<Prefix, std::uint32_t> have;
    for (const auto &rule : installed)
        for (const auto &p : rule.prefixes)
            have[p] = rule.index;

    for (const auto &[prefix, index] : want) {
        auto it = have.find(prefix);
        if (it == have.end() || it->second != index)
            plan.steps.push_back({Kind::PutPrefix, index, prefix});
    }
    if (!plan.steps.empty())
        plan.steps.push_back({Kind::Publish});

    std::size_t before_removals = plan.steps.size();
    for (const auto &[prefix, index] : have)
        if (!want.contains(prefix))
            plan.steps.push_back({Kind::RemovePrefix, index, prefix});
    for (std::size_t i = 0; i < installed.size(); i++) {
        if (!kept[i]) {
            plan.steps.push_back({Kind::FreeRule, installed[i].index});
            plan.removed++;
        }
    }
    if (plan.steps.size() != before_removals)
        plan.steps.push_back({Kind::Publish});
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

} // namespace ratelimit
