// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The reconcile backend over the real maps: the prefixes LPM trie and the rules array, with the
// buckets of rewritten rules carried over to their new rates and bursts. Every run of steps is
// written with batch operations, and the buckets of all the rules one run rewrites are carried in
// one batched pass over `sources` and one over `blocks`.

#include "datapath/compile.hpp"
#include "datapath/datapath.hpp"
#include "state/reconcile.hpp"

namespace ratelimit
{

// The rules the maps hold, by index, with their prefixes (sorted).
std::vector<InstalledRule> installed_rules(const Datapath &dp);

class DatapathRuleTable : public RuleTable
{
  public:
    explicit DatapathRuleTable(Datapath &dp) : dp_(dp) {}

    std::uint32_t capacity() const override { return dp_.options().max_rules; }
    std::uint32_t prefix_capacity() const override { return dp_.options().max_prefixes; }
    std::vector<InstalledRule> installed() const override { return installed_rules(dp_); }
    void write_rules(std::span<const RuleWrite> writes) override;
    void rewrite_rules(std::span<const RuleRewrite> rewrites) override;
    void put_prefixes(std::span<const PrefixTarget> targets) override;
    void remove_prefixes(std::span<const Prefix> prefixes) override;
    void free_rules(std::span<const std::uint32_t> indexes) override;
    void publish() override;

  private:
    void carry_buckets(std::span<const RuleRewrite> rewrites);

    Datapath &dp_;
};

} // namespace ratelimit
