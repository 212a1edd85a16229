// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The files `ratelimitctl apply -f` reads: lines parsed by the same subcommands as the command
// line, or a JSON array; every bad line is named with its number, and a file with one is not
// sent at all (ratelimitctl sends nothing unless read_changes found no error).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apply_file.hpp"
#include "control/protocol.hpp"
#include "policy/rule_json.hpp"

namespace ratelimit::ctl
{
namespace
{

using control::ApplyChange;
using control::Command;
using Words = std::vector<std::string>;

bool starts_with(const std::string &text, const std::string &start)
{
    return text.starts_with(start);
}

TEST(ApplyFileTest, LinesAreTheCommandLinesOfSetAllowDenyAndUnset)
{
    const FileChanges read = read_changes("# denies from the scan of Monday\n"
                                          "deny 198.51.100.7 --ttl 30m --comment 'seen scanning'\n"
                                          "\n"
                                          "   set 203.0.113.0/24 --rate 100pps --burst 200  \n"
                                          "allow 192.0.2.0/24 # partners\n"
                                          "unset 10.0.0.0/8\n"
                                          "deny ::/0 --force --mode monitor\n"
                                          "unset --all\n");
    ASSERT_TRUE(read.errors.empty()) << read.errors.front();
    ASSERT_EQ(read.changes.size(), 6u);
    std::vector<std::uint64_t> lines;
    std::vector<Command> commands;
    for (const ApplyChange &change : read.changes) {
        lines.push_back(change.line);
        commands.push_back(change.command());
    }
    EXPECT_EQ(lines, (std::vector<std::uint64_t>{2, 4, 5, 6, 7, 8}));
    EXPECT_EQ(commands, (std::vector<Command>{Command::Deny, Command::Set, Command::Allow,
                                              Command::Unset, Command::Deny, Command::Unset}));
    const auto &deny = std::get<control::RuntimeRuleArgs>(read.changes[0].edit);
    EXPECT_EQ(deny.ttl, std::chrono::minutes(30));
    EXPECT_EQ(deny.rule.comment, "seen scanning");
    const auto &set = std::get<control::RuntimeRuleArgs>(read.changes[1].edit);
    EXPECT_EQ(rule_to_json(set.rule)["limits"][0]["burst"], 200);
    EXPECT_EQ(to_string(std::get<control::UnsetArgs>(read.changes[3].edit).rule), "10.0.0.0/8");
    EXPECT_TRUE(std::get<control::RuntimeRuleArgs>(read.changes[4].edit).rule.force);
    EXPECT_TRUE(std::holds_alternative<control::UnsetAllArgs>(read.changes[5].edit));
}

TEST(ApplyFileTest, OneBadLineAmongManyIsNamedAndEveryOtherBadLineToo)
{
    std::string text;
    for (int i = 1; i <= 1000; i++)
        text += "deny 10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "\n";
    text += "deny 10.0.0.300\n";                       // line 1001
    text += "set 10.9.0.0/16 --burst 5\n";             // 1002: no rate
    text += "deny 10.8.0.0/16 --ttl soon\n";           // 1003
    text += "allow 10.7.0.0/16 --rate 5\n";            // 1004: allow takes no rate
    text += "show 10.0.0.1\n";                         // 1005
    text += "deny 10.6.0.0/16 --comment 'left open\n"; // 1006
    text += "deny 0.0.0.0/0\n";                        // 1007: needs --force
    text += "unset\n";                                 // 1008
    text += "unset 10.0.0.0/8 --all\n";                // 1009
    text += "deny 10.5.0.0/16 --json\n";               // 1010: no global options
    text += "deny 10.4.0.0/16\n";
    const FileChanges read = read_changes(text);
    const std::vector<std::string> expected = {
        "line 1001: ", "line 1002: ", "line 1003: --ttl: ", "line 1004: ", "line 1005: ",
        "line 1006: ", "line 1007: ", "line 1008: ",        "line 1009: ", "line 1010: "};
    ASSERT_EQ(read.errors.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); i++)
        EXPECT_TRUE(starts_with(read.errors[i], expected[i])) << read.errors[i];
    EXPECT_NE(read.errors[4].find("\"show\" is not set, allow, deny or unset"), std::string::npos)
        << read.errors[4];
    EXPECT_NE(read.errors[6].find("force"), std::string::npos) << read.errors[6];
    EXPECT_EQ(read.changes.size(), 1001u) << "the good lines are still read, to be told apart";
}

TEST(ApplyFileTest, AJsonArrayHoldsChangesAsTheProtocolStatesThem)
{
    const FileChanges read = read_changes(R"(
      [{"op": "deny", "match": "198.51.100.7", "ttl": "1h"},
       {"op": "set", "match": "203.0.113.0/24", "limits": [{"rate": 100, "burst": 200}]},
       {"op": "unset", "match": "10.0.0.0/8"},
       {"op": "unset", "all": true}])");
    ASSERT_TRUE(read.errors.empty()) << read.errors.front();
    ASSERT_EQ(read.changes.size(), 4u);
    EXPECT_EQ(read.changes[0].line, 1u);
    EXPECT_EQ(read.changes[3].line, 4u);
    EXPECT_EQ(read.changes[1].command(), Command::Set);
    EXPECT_TRUE(std::holds_alternative<control::UnsetAllArgs>(read.changes[3].edit));
}

TEST(ApplyFileTest, EveryBadEntryOfAJsonArrayIsNamed)
{
    const FileChanges read = read_changes(R"([
       {"op": "deny", "match": "198.51.100.7"},
       {"op": "deny", "match": "10.0.0.300"},
       {"op": "flush", "all": true},
       "deny 10.0.0.1",
       {"op": "deny", "match": "10.0.0.2", "line": 9}])");
    ASSERT_EQ(read.errors.size(), 4u);
    EXPECT_TRUE(starts_with(read.errors[0], "entry 2: match: ")) << read.errors[0];
    EXPECT_TRUE(starts_with(read.errors[1], "entry 3: op: ")) << read.errors[1];
    EXPECT_TRUE(starts_with(read.errors[2], "entry 4 must be a change")) << read.errors[2];
    EXPECT_TRUE(starts_with(read.errors[3], "entry 5: line: ")) << read.errors[3];
    EXPECT_EQ(read_changes("[{\"op\": ").errors.size(), 1u);
    EXPECT_EQ(read_changes(" [1, 2").errors.size(), 1u);
}

TEST(ApplyFileTest, WordsAreSplitAsAShellWould)
{
    EXPECT_EQ(split_words("  deny\t10.0.0.1  "), (Words{"deny", "10.0.0.1"}));
    EXPECT_EQ(split_words(R"(a "b c" 'd "e"' f\ g "h\"i" 'j\k')"),
              (Words{"a", "b c", "d \"e\"", "f g", "h\"i", "j\\k"}));
    EXPECT_EQ(split_words("deny 10.0.0.1 # a#b"), (Words{"deny", "10.0.0.1"}));
    EXPECT_EQ(split_words("a#b ''"), (Words{"a#b", ""}));
    EXPECT_EQ(split_words("   # only a comment"), Words{});
    EXPECT_EQ(split_words("deny 10.0.0.1\r"), (Words{"deny", "10.0.0.1"}));
    EXPECT_THROW(split_words("a 'b"), std::invalid_argument);
    EXPECT_THROW(split_words("a \\"), std::invalid_argument);
}

} // namespace
} // namespace ratelimit::ctl
