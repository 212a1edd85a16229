// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The spelling tables: each name and each value once, and reading a name gives back its value.
#include "policy/names.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ratelimit
{
namespace
{

template <typename T, std::size_t N>
void expect_one_to_one(const Spellings<T, N> &table)
{
    std::set<std::string_view> names;
    std::set<T> values;
    for (const auto &entry : table) {
        EXPECT_TRUE(names.insert(entry.name).second) << entry.name << " spelled twice";
        EXPECT_TRUE(values.insert(entry.value).second) << entry.name << ": value named twice";
        EXPECT_EQ(value_of(table, entry.name), entry.value) << entry.name;
        EXPECT_EQ(name_of(table, entry.value), entry.name);
        for (char c : entry.name)
            EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << entry.name << ": not lowercase";
    }
}

TEST(Names, EveryTableSpellsEachValueOnce)
{
    expect_one_to_one(kActionNames);
    expect_one_to_one(kModeNames);
    expect_one_to_one(kXdpModeNames);
    expect_one_to_one(kPerNames);
    expect_one_to_one(kUnitNames);
    expect_one_to_one(kVerdictNames);
    expect_one_to_one(kReasonNames);
    expect_one_to_one(kOriginNames);
}

TEST(Names, EveryReasonAndVerdictOfTheProgramHasAName)
{
    for (int reason = 0; reason < RL_REASON_COUNT; reason++)
        EXPECT_NE(name_of(kReasonNames, static_cast<rl_reason>(reason)), "unknown") << reason;
    for (int verdict = 0; verdict < RL_VERDICT_COUNT; verdict++)
        EXPECT_NE(name_of(kVerdictNames, static_cast<rl_verdict>(verdict)), "unknown") << verdict;
}

TEST(Names, OnlyTheExactSpellingIsRead)
{
    EXPECT_EQ(value_of(kActionNames, "deny"), RL_ACTION_DENY);
    EXPECT_EQ(value_of(kActionNames, "Deny"), std::nullopt);
    EXPECT_EQ(value_of(kActionNames, "deny "), std::nullopt);
    EXPECT_EQ(value_of(kActionNames, ""), std::nullopt);
}

TEST(Names, AValueOutsideTheTableIsUnknown)
{
    EXPECT_EQ(name_of(kReasonNames, static_cast<rl_reason>(RL_REASON_COUNT)), "unknown");
}

TEST(Names, ChoicesAreListedInTableOrder)
{
    EXPECT_EQ(list_names(kActionNames), "limit, allow, deny");
    EXPECT_EQ(list_names(kActionNames, " or "), "limit, allow or deny");
    EXPECT_EQ(list_names(kModeNames, " or "), "enforce or monitor");
}

} // namespace
} // namespace ratelimit
