// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "policy/prefix_list.hpp"

#include <gtest/gtest.h>

namespace ratelimit
{
namespace
{

TEST(PrefixList, ReadsNetsetAndDropFormsWithCommentsBlankLinesAndCrlf)
{
    const PrefixList list = parse_prefix_list("# FireHOL header\n"
                                              "\n"
                                              "192.0.2.0/24\r\n"
                                              "  198.51.100.7 \t\n"
                                              "203.0.113.0/24 ; SBL123\n"
                                              "; Spamhaus comment\n"
                                              "2001:db8::/32 # trailing\n"
                                              "192.0.2.0/24\n",
                                              "/etc/x.netset");
    ASSERT_TRUE(list.errors.empty()) << list.errors.front();
    EXPECT_EQ(list.prefixes.size(), 4u); // the repeated /24 taken once
}

TEST(PrefixList, ABadLineNamesTheFileTheLineTheTextAndWhy)
{
    const PrefixList list = parse_prefix_list("10.0.0.0/8\n# c\n10.0.0.300/8\n", "/etc/x.netset");
    ASSERT_EQ(list.errors.size(), 1u);
    EXPECT_EQ(list.errors[0],
              "\"/etc/x.netset\" line 3: \"10.0.0.300/8\" is not an IPv4 or IPv6 prefix");
    const PrefixList two = parse_prefix_list("10.0.0.0/8 extra\n", "f");
    ASSERT_EQ(two.errors.size(), 1u);
    EXPECT_NE(two.errors[0].find("\"f\" line 1: \"10.0.0.0/8 extra\" is not one prefix"),
              std::string::npos);
}

TEST(PrefixList, AFileWithNoPrefixIsRefused)
{
    for (const char *text : {"", "# only a comment\n\n"}) {
        const PrefixList list = parse_prefix_list(text, "f");
        ASSERT_EQ(list.errors.size(), 1u) << text;
        EXPECT_NE(list.errors[0].find("holds no prefix"), std::string::npos);
    }
}

TEST(PrefixList, ManyBadLinesAreCountedPastTheFirstFew)
{
    std::string text;
    for (int i = 0; i < 25; i++)
        text += "bad\n";
    const PrefixList list = parse_prefix_list(text, "f");
    ASSERT_EQ(list.errors.size(), kMaxPrefixFileErrors + 1);
    EXPECT_EQ(list.errors.back(), "\"f\": 15 more bad lines");
}

} // namespace
} // namespace ratelimit
