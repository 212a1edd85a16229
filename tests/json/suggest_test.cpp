// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The "did you mean" that config field names and ratelimitctl's commands share.

#include <gtest/gtest.h>

#include <string_view>

#include "json/suggest.hpp"

namespace ratelimit::config
{
namespace
{

constexpr std::string_view kCommands[] = {"status", "list", "set",   "allow", "deny",  "unset",
                                          "show",   "top",  "stats", "flush", "reload"};

TEST(Suggest, CountsEdits)
{
    EXPECT_EQ(edit_distance("set", "set"), 0u);
    EXPECT_EQ(edit_distance("sett", "set"), 1u);
    EXPECT_EQ(edit_distance("stauts", "status"), 2u);
    EXPECT_EQ(edit_distance("", "top"), 3u);
}

TEST(Suggest, NamesTheNearestWithinTwoTypos)
{
    EXPECT_EQ(nearest_name("sett", kCommands), "set");
    EXPECT_EQ(nearest_name("statuss", kCommands), "status");
    EXPECT_EQ(nearest_name("relaod", kCommands), "reload");
    EXPECT_EQ(nearest_name("frobnicate", kCommands), std::nullopt);
    EXPECT_EQ(nearest_name("anything", {}), std::nullopt);
}

} // namespace
} // namespace ratelimit::config
