// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The reconcile backend over the real maps: the prefixes LPM trie and the rules array, with the
// buckets of a rewritten rule carried over to its new rate and burst.

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
    std::vector<InstalledRule> installed() const override { return installed_rules(dp_); }
    void write_rule(std::uint32_t index, const rl_rule &rule) override;
    void rewrite_rule(std::uint32_t index, const rl_rule &previous, const rl_rule &rule) override;
    void put_prefix(const Prefix &prefix, std::uint32_t index) override;
    void remove_prefix(const Prefix &prefix) override;
    void free_rule(std::uint32_t index) override;
    void publish() override;

  private:
    void carry_buckets(std::uint32_t index, const rl_rule &previous, const rl_rule &rule);

    Datapath &dp_;
};

} // namespace ratelimit
