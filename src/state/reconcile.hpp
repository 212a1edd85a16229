// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Reconcile: the difference between the desired rules and what the rule tables hold, as a plan
// of steps grouped by kind (pure), and the application of that plan to a rule-table backend (the
// BPF maps in the daemon, an in-memory table in unit tests).
//
// Order matters because the data path reads the tables while they change: new and changed rules
// are written first, then prefixes are pointed at them, then the program is told (publish);
// only after that are old prefixes removed and their rules freed, and the program told again.
// No packet ever finds a prefix whose rule is missing. A rule keeps its index (and so its
// buckets) while its prefix set is the same, or overlaps the old one; a changed rule's buckets
// are carried over, not refilled.
//
// The table takes all the steps of one kind at once (all the new rules, all the rewritten ones,
// all the prefixes to point...), so that the BPF maps are written in batches and the buckets of
// every rewritten rule are carried in one pass over the tracked sources: the cost of a change
// grows with what changed, not with the number of sources.

#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "net/address.hpp"
#include "ratelimit/abi.h"
#include "state/desired.hpp"

namespace ratelimit
{

bool same_rule(const rl_rule &a, const rl_rule &b);

// A rule as the tables hold it.
struct InstalledRule {
    std::uint32_t index = 0;
    std::vector<Prefix> prefixes; // sorted
    rl_rule rule{};
};

struct RuleWrite {
    std::uint32_t index = 0;
    rl_rule rule{};
};

struct RuleRewrite {
    std::uint32_t index = 0;
    rl_rule previous{};
    rl_rule rule{};
};

struct PrefixTarget {
    Prefix prefix{};
    std::uint32_t index = 0;
};

class RuleTable
{
  public:
    virtual ~RuleTable() = default;
    virtual std::uint32_t capacity() const = 0;        // rule slots (max_rules)
    virtual std::uint32_t prefix_capacity() const = 0; // prefixes of all rules (max_prefixes)
    virtual std::vector<InstalledRule> installed() const = 0;
    // Writes rules into unused slots (with full buckets).
    virtual void write_rules(std::span<const RuleWrite> writes) = 0;
    // Writes rules over existing ones, carrying each one's buckets from its `previous` so that
    // no source gets a fresh burst and none is locked out: every rule of the span in one pass.
    virtual void rewrite_rules(std::span<const RuleRewrite> rewrites) = 0;
    virtual void put_prefixes(std::span<const PrefixTarget> targets) = 0;
    virtual void remove_prefixes(std::span<const Prefix> prefixes) = 0;
    virtual void free_rules(std::span<const std::uint32_t> indexes) = 0;
    virtual void publish() = 0; // the data path drops its cached lookups
};

// The steps of a reconcile, by kind; apply() takes them in the order of the fields.
struct ReconcilePlan {
    std::vector<RuleWrite> writes;
    std::vector<RuleRewrite> rewrites;
    std::vector<PrefixTarget> puts;
    // then a publish, if any of the above
    std::vector<Prefix> removals;
    std::vector<std::uint32_t> frees;
    // then a publish, if any of these two
    std::size_t added = 0, changed = 0, removed = 0, unchanged = 0;
    bool empty() const
    {
        return writes.empty() && rewrites.empty() && puts.empty() && removals.empty() &&
               frees.empty();
    }
};

// The rules do not fit the rule table (max_rules), or their prefixes the trie (max_prefixes). New
// rules and prefixes are written before the ones they replace are removed, so a change needs
// room for both at once.
class RulesFull : public std::length_error
{
  public:
    RulesFull(std::size_t needed, std::uint32_t capacity, const std::string &what = "rule slots",
              const std::string &field = "max_rules");
    std::size_t needed() const { return needed_; } // slots the change would hold at its peak
    std::uint32_t capacity() const { return capacity_; }

  private:
    std::size_t needed_;
    std::uint32_t capacity_;
};

// A rule the data path cannot enforce as written: one with a selector (proto, port, tcp_flags),
// which the rule tables have no group for yet. Refused rather than enforced on all traffic.
class UnenforceableRule : public std::invalid_argument
{
  public:
    using std::invalid_argument::invalid_argument;
};

// Throws RulesFull if the desired rules need more slots than `capacity` or more prefixes than
// `prefix_capacity`, UnenforceableRule for a rule with a selector. Takes time in the number of
// prefixes (a reload that changes one prefix of a large set plans one put or one removal).
ReconcilePlan plan_reconcile(const std::vector<DesiredRule> &desired,
                             const std::vector<InstalledRule> &installed, std::uint32_t capacity,
                             std::uint32_t prefix_capacity = RL_DEFAULT_MAX_PREFIXES);

// Hands each kind of step to `table` in one call, in the order of ReconcilePlan's fields.
void apply(const ReconcilePlan &plan, RuleTable &table);

// The plan that makes `table` enforce the config's rules and the runtime rules in force at `now`
// (config -> desired -> plan). Throws RulesFull, changing nothing, if they do not fit.
ReconcilePlan plan_rules(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                         const RuleTable &table, WallClock::time_point now);

// plan_rules, then apply: what the daemon does on a start, a reload and an expiry.
ReconcilePlan reconcile(const config::Config &config, const std::vector<RuntimeRule> &runtime,
                        RuleTable &table, WallClock::time_point now);

} // namespace ratelimit
